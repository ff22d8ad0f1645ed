// CUDA graphs: a plan's recorded step captured once on the device's stream and replayed as
// one launch (autograd/plan.cpp's Plan::replay). The CPU backend has no counterpart: its plans
// run their kernels one by one.
#include "cuda/common.cuh"

namespace fastnn {

std::shared_ptr<void> CudaBackend::capture_graph(Device device,
                                                 const std::function<void()>& launches) {
  auto& dev = state(device);
  // Thread-local mode: another thread's unrelated CUDA calls (a data loader's) do not break
  // this capture, while this thread's forbidden ones (a synchronisation, a host copy) fail it.
  FASTNN_CUDA_CHECK(cudaStreamBeginCapture(dev.stream, cudaStreamCaptureModeThreadLocal));
  cudaGraph_t graph = nullptr;
  try {
    launches();
  } catch (...) {
    (void)cudaStreamEndCapture(dev.stream, &graph);  // leave the stream usable
    if (graph) cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    throw;
  }
  FASTNN_CUDA_CHECK(cudaStreamEndCapture(dev.stream, &graph));
  cudaGraphExec_t exec = nullptr;
  cudaError_t error = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  FASTNN_CUDA_CHECK(error);
  return std::shared_ptr<void>(exec, [](void* p) {
    cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(p));
  });
}

void CudaBackend::launch_graph(Device device, void* graph) {
  auto& dev = state(device);
  FASTNN_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), dev.stream));
}

}  // namespace fastnn
