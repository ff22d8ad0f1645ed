// A stand-in CUDA device for checking the device paths on a machine without a GPU.
//
// Tensors on it are tagged "cuda:N" and live in host memory; every kernel is the CPU
// backend's. So everything above the kernels runs as it would on a GPU: device placement and
// moves, uploads and read-backs (which count as host reads), a plan whose parameters are on a
// device, fit feeding a device-resident dataset, numpy refusing device tensors. What it cannot
// check is the CUDA kernels' arithmetic and their graphs (capture_graph returns null, so plans
// replay kernel by kernel): only a GPU does (`pytest -m cuda` there).
//
// Registered only on request (FASTNN_EMULATE_CUDA=1, read by fastnn/cuda.py), never in a
// process where the real CUDA backend is registered.
#include <string>

#include "cpu/backend_cpu.h"

namespace fastnn {

namespace {
class EmulatedDeviceBackend final : public CpuBackend {
 public:
  explicit EmulatedDeviceBackend(int devices) : devices_(devices) {}
  const char* name() const override { return "emulated CUDA"; }
  int device_count() const override { return devices_; }
  std::string device_name(int index) const override {
    return "host-emulated CUDA device " + std::to_string(index) +
           " (CPU kernels on host memory)";
  }
  std::shared_ptr<Storage> allocate(size_t nbytes, Device device) override {
    std::shared_ptr<Storage> storage = CpuBackend::allocate(nbytes, device);
    storage->device = device;
    return storage;
  }

 private:
  int devices_;
};
}  // namespace

bool register_emulated_cuda(int devices) {
  FASTNN_CHECK(devices >= 1, Value, "emulate_cuda: expected at least one device, got ", devices);
  if (has_backend(DeviceKind::CUDA)) return false;
  static EmulatedDeviceBackend* backend = new EmulatedDeviceBackend(devices);  // never freed:
  register_backend(DeviceKind::CUDA, backend);  // tensors may outlive static destructors
  return true;
}

}  // namespace fastnn
