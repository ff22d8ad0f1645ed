// fastnn._C.Plan: capture a step's kernels once, replay them (see autograd/plan.h).
#include <pybind11/stl.h>

#include "autograd/plan.h"
#include "python/convert.h"

namespace fastnn::python {

void bind_plan(py::module_& m) {
  py::class_<Plan>(m, "Plan", "A step's kernels, recorded once and replayed.")
      .def(py::init<>())
      .def("begin_capture", &Plan::begin_capture)
      .def("end_capture", &Plan::end_capture, py::arg("params"),
           "Stops recording; params' gradient buffers are re-attached before each replay.")
      .def("abort_capture", &Plan::abort_capture)
      .def("replay", &Plan::replay)
      .def(
          "replay_batches",
          [](Plan& plan, const std::vector<Tensor>& sources, const std::vector<Tensor>& inputs,
             const Tensor& order, int64_t first, int64_t batches, const Tensor& loss,
             const std::vector<std::tuple<std::string, double, Tensor, Tensor>>& metrics) {
            std::vector<Plan::Accuracy> accuracies;
            for (const auto& [name, threshold, pred, target] : metrics)
              accuracies.push_back({accuracy_kind_from_name(name), threshold, pred, target});
            return plan.replay_batches(sources, inputs, order, first, batches, loss, accuracies);
          },
          py::arg("sources"), py::arg("inputs"), py::arg("order"), py::arg("first"),
          py::arg("batches"), py::arg("loss"), py::arg("metrics") = py::list(),
          "Replays once per batch of rows order[first:...] gathered from sources into inputs; "
          "returns [sum of losses, sum of each accuracy metric (name, threshold, pred, "
          "target)].")
      .def("profile", &Plan::profile, py::arg("repeats") = 10,
           "Replays `repeats` times, timing each kernel: [(kernel, best microseconds)].")
      .def_property_readonly("captured", &Plan::captured)
      .def_property_readonly("capturing", &Plan::capturing)
      .def("__len__", &Plan::size);
}

}  // namespace fastnn::python
