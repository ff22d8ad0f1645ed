// fastnn._C.Plan: capture a step's kernels once, replay them (see autograd/plan.h).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <chrono>

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
      .def_property_readonly("refusal", &Plan::refusal,
                             "Why the captured step cannot be replayed, or '' when it can.")
      .def("replay", &Plan::replay, py::call_guard<py::gil_scoped_release>())
      .def(
          "replay_batches",
          [](Plan& plan, const std::vector<Tensor>& sources, const std::vector<Tensor>& inputs,
             const Tensor& order, int64_t first, int64_t batches, const Tensor& loss,
             Tensor& totals, const std::vector<std::tuple<std::string, double, Tensor, Tensor, Tensor>>& metrics,
             const std::vector<std::pair<Tensor, Tensor>>& losses) {
            std::vector<Plan::Accuracy> accuracies;
            for (const auto& [name, threshold, pred, target, total] : metrics)
              accuracies.push_back({accuracy_kind_from_name(name), threshold, pred, target, total});
            // The epoch runs without the GIL; between batches, at most every 20 ms, it takes
            // the GIL back just long enough to let Python see a signal (Ctrl-C raises
            // KeyboardInterrupt there, with the model at a step boundary). Taking the GIL
            // costs about a microsecond: as much as a whole step of the smallest models.
            auto last = std::chrono::steady_clock::now();
            auto check_signals = [&last] {
              auto now = std::chrono::steady_clock::now();
              if (now - last < std::chrono::milliseconds(20)) return;
              last = now;
              py::gil_scoped_acquire gil;
              if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            };
            py::gil_scoped_release release;
            plan.replay_batches(sources, inputs, order, first, batches, loss, totals, accuracies,
                                check_signals, losses);
          },
          py::arg("sources"), py::arg("inputs"), py::arg("order"), py::arg("first"),
          py::arg("batches"), py::arg("loss"), py::arg("totals"), py::arg("metrics") = py::list(),
          py::arg("losses") = py::list(),
          "Replays once per batch of rows order[first:...] gathered from sources into inputs, "
          "accumulating the loss into totals (float64 {sum, first non-finite step, steps}), "
          "each accuracy metric (name, threshold, pred, target, total) into its total and each "
          "further loss (loss, totals) into its totals.")
      .def("profile", &Plan::profile, py::arg("repeats") = 10,
           "Replays `repeats` times, timing each kernel: [(kernel, best microseconds)].")
      .def_property_readonly("captured", &Plan::captured)
      .def_property_readonly("capturing", &Plan::capturing)
      .def("__len__", &Plan::size);

  m.def(
      "accumulate_loss",
      [](const Tensor& loss, double weight, Tensor& totals) {
        check_float(loss, "accumulate_loss", "loss");
        FASTNN_CHECK(loss.numel() == 1, Value, "accumulate_loss: expected a one-element loss, got shape ",
                     shape_str(loss.shape()));
        FASTNN_CHECK(totals.numel() == 3 && totals.dtype() == DType::Float64, Value,
                     "accumulate_loss: expected float64 totals of 3 elements");
        check_same_device(loss, totals, "accumulate_loss", "totals");
        FASTNN_LAUNCH(backend_of(loss), loss_accumulate, loss, weight, totals);
      },
      py::arg("loss"), py::arg("weight"), py::arg("totals"),
      "totals (float64 {sum, first non-finite step or -1, steps}) += the loss times weight, "
      "on the device: nothing is read back.");
  m.def(
      "accumulate_accuracy",
      [](const std::string& name, double threshold, const Tensor& pred, const Tensor& target,
         Tensor& total) {
        FASTNN_CHECK(total.numel() == 1 && total.dtype() == DType::Float64, Value,
                     "accumulate_accuracy: expected a float64 one-element total");
        check_same_device(pred, target, "accumulate_accuracy", "target");
        check_same_device(pred, total, "accumulate_accuracy", "total");
        FASTNN_LAUNCH(backend_of(pred), accuracy_accumulate, accuracy_kind_from_name(name),
                      threshold, pred, target, total);
      },
      py::arg("name"), py::arg("threshold"), py::arg("pred"), py::arg("target"), py::arg("total"));

  // What fit uses to feed a batch to a step on any device (the plan's input buffers or
  // an eager step's inputs); neither is recorded: a plan's inputs are filled before it runs.
  m.def(
      "upload_into",
      [](const py::array& array, Tensor& out) {
        const char* who = "upload_into";
        Tensor host = tensor_from_numpy(array, out.dtype(), who);
        FASTNN_CHECK(host.shape() == out.shape(), Value, who, ": an array of shape ",
                     shape_str(host.shape()), " does not fill a tensor of shape ",
                     shape_str(out.shape()));
        backend_of(out).copy_from_host(host.raw(), out);
      },
      py::arg("array"), py::arg("out"),
      "Copies a host array into `out` (any device), converted to out's dtype.");
  m.def(
      "gather_rows_into",
      [](const Tensor& source, const py::array_t<int64_t, py::array::c_style>& rows, Tensor& out) {
        const char* who = "gather_rows_into";
        FASTNN_CHECK(rows.ndim() == 1 && out.dim() >= 1 && source.dim() == out.dim() &&
                         out.size(0) == rows.shape(0) && source.dtype() == out.dtype() &&
                         source.device() == out.device(),
                     Value, who, ": ", rows.shape(0), " rows of a ", dtype_name(source.dtype()),
                     " ", shape_str(source.shape()), " tensor on ", source.device().name(),
                     " do not fill a ", dtype_name(out.dtype()), " ", shape_str(out.shape()),
                     " tensor on ", out.device().name());
        for (int d = 1; d < out.dim(); ++d)
          FASTNN_CHECK(source.size(d) == out.size(d), Value, who, ": rows of shape ",
                       shape_str(source.shape()), " do not fill ", shape_str(out.shape()));
        // The indices are checked here, on the host, so the device kernel never reads
        // out of bounds.
        const int64_t* index = rows.data();
        for (py::ssize_t i = 0; i < rows.shape(0); ++i)
          FASTNN_CHECK(index[i] >= 0 && index[i] < source.size(0), Index, who, ": row index ",
                       index[i], " out of range for ", source.size(0), " rows");
        Tensor device_index = Tensor::empty({rows.shape(0)}, DType::Int64, out.device());
        backend_of(out).copy_from_host(index, device_index);
        FASTNN_LAUNCH(backend_of(out), take_rows, source, device_index, out);
      },
      py::arg("source"), py::arg("rows"), py::arg("out"),
      "out = source[rows] on source's device (rows: host int64 indices, uploaded).");
}

}  // namespace fastnn::python
