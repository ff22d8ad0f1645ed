// Ops: each m.def converts names to enums and forwards to csrc/ops.
#include <pybind11/stl.h>

#include "ops/ops.h"
#include "python/convert.h"
#include "python/shape_arg.h"

namespace fastnn::python {

static Tensor optional_tensor(const std::optional<Tensor>& t) {
  return t ? *t : Tensor();
}

void bind_ops(py::module_& m) {
  m.def(
      "dense",
      [](const Tensor& x, const Tensor& kernel, const std::optional<Tensor>& bias,
         const std::string& activation, double alpha, const std::string& who,
         bool kernel_transposed) {
        return dense(x, kernel, optional_tensor(bias),
                     activation_from_name(activation, who.c_str()), alpha, who.c_str(),
                     kernel_transposed);
      },
      py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(),
      py::arg("activation") = "linear", py::arg("alpha") = 0.0, py::arg("who") = "Dense",
      py::arg("kernel_transposed") = false,
      "act(x @ kernel + bias) as one op: x (..., in), kernel (in, out), bias (out,); with "
      "kernel_transposed, kernel is (out, in) (PyTorch's Linear weight).");
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"));
  m.def(
      "rnn",
      [](const std::string& cell, const Tensor& x, const Tensor& kernel,
         const Tensor& recurrent_kernel, const std::optional<Tensor>& bias,
         const std::optional<Tensor>& h0, const std::optional<Tensor>& c0,
         const std::optional<Tensor>& mask, const std::string& activation, bool go_backwards,
         bool sequence_in_input_order, bool return_sequences, const std::string& who,
         const std::optional<Tensor>& recurrent_mask) {
        RnnOptions options;
        options.recurrent_mask = optional_tensor(recurrent_mask);
        options.go_backwards = go_backwards;
        options.sequence_in_input_order = sequence_in_input_order;
        options.return_sequences = return_sequences;
        RnnOutputs out = rnn(rnn_cell_from_name(cell), activation_from_name(activation, who.c_str()),
                             x, kernel, recurrent_kernel, optional_tensor(bias),
                             optional_tensor(h0), optional_tensor(c0), optional_tensor(mask),
                             options, who.c_str());
        return py::make_tuple(tensor_or_none(out.sequence), out.h_last,
                              tensor_or_none(out.c_last));
      },
      py::arg("cell"), py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"),
      py::arg("bias") = py::none(), py::arg("h0") = py::none(), py::arg("c0") = py::none(),
      py::arg("mask") = py::none(), py::arg("activation") = "tanh",
      py::arg("go_backwards") = false, py::arg("sequence_in_input_order") = false,
      py::arg("return_sequences") = true, py::arg("who") = "RNN",
      py::arg("recurrent_mask") = py::none(),
      "A recurrent layer over x (N, T, F) as one op. cell: 'simple_rnn', 'lstm' or 'gru' "
      "(Keras's layouts: kernel (F, G), recurrent_kernel (U, G), bias (G,) or, for GRU, (2, G); "
      "G = U, 4U, 3U); mask (N, T): 0 skips a step; recurrent_mask (N, U): recurrent dropout's "
      "mask on h before the recurrent kernel. Returns (sequence (N, T, U) or None, "
      "h_last (N, U), c_last (N, U) or None).");

  m.def(
      "step_mask",
      [](const Tensor& x, double value, const std::string& dtype, const std::string& who) {
        return step_mask(x, value, dtype_from_name(dtype), who.c_str());
      },
      py::arg("x"), py::arg("value") = 0.0, py::arg("dtype") = "float32",
      py::arg("who") = "Masking",
      "(N, T) float mask of x (N, T, ...): 1 where a step holds anything but value.");

  m.def("add", [](const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); });
  m.def("sub", [](const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); });
  m.def("mul", [](const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); });
  m.def("div", [](const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); });
  m.def("scale", &scale, py::arg("x"), py::arg("alpha"));
  m.def("sum", &sum, py::arg("x"), py::arg("axes") = std::vector<int64_t>{},
        py::arg("keepdims") = false, "Sum over `axes` (all when empty).");
  m.def("mean", &mean, py::arg("x"), py::arg("axes") = std::vector<int64_t>{},
        py::arg("keepdims") = false);
  m.def("weight_penalty", &weight_penalty, py::arg("w"), py::arg("l1"), py::arg("l2"),
        "l1 * sum|w| + l2 * sum w^2.");
  m.def(
      "activation",
      [](const Tensor& x, const std::string& name, double alpha) {
        return activation(activation_from_name(name, "activation"), x, alpha);
      },
      py::arg("x"), py::arg("name"), py::arg("alpha") = 0.0);
  m.def("softmax", &softmax, py::arg("x"), py::arg("axis") = -1);
  m.def("log_softmax", &log_softmax, py::arg("x"), py::arg("axis") = -1);
  m.def(
      "reshape",
      [](const Tensor& x, const py::object& shape) {
        return reshape(x, shape_from_python(shape, "reshape"));
      },
      py::arg("x"), py::arg("shape"));
  m.def("flatten", &flatten, py::arg("x"));
  m.def("concat", &concat, py::arg("tensors"), py::arg("axis") = 0);
  m.def("slice_rows", &slice_rows, py::arg("x"), py::arg("begin"), py::arg("end"));
  m.def("take_rows", &take_rows, py::arg("x"), py::arg("index"));
  m.def("embedding", &embedding, py::arg("weights"), py::arg("ids"), py::arg("who") = "embedding");
  m.def(
      "to_dtype",
      [](const Tensor& x, const py::object& dtype) { return to_dtype(x, parse_dtype(dtype)); },
      py::arg("x"), py::arg("dtype"));
  m.def(
      "loss",
      [](const Tensor& y_pred, const Tensor& y_true, const std::string& name, bool from_logits,
         const std::string& reduction, const std::string& who) {
        return loss(loss_kind_from_name(name, from_logits, who.c_str()), y_pred, y_true,
                    reduction_from_name(reduction, who.c_str()), who.c_str());
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("name"), py::arg("from_logits") = false,
      py::arg("reduction") = "mean", py::arg("who") = "loss");
  m.def(
      "index_cross_entropy",
      [](const Tensor& x, const Tensor& target, const std::optional<Tensor>& weight,
         int64_t ignore_index, double label_smoothing, const std::string& reduction,
         const std::string& who) {
        return index_cross_entropy(x, target, optional_tensor(weight), ignore_index,
                                   label_smoothing, reduction_from_name(reduction, who.c_str()),
                                   who.c_str());
      },
      py::arg("x"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
      py::arg("reduction") = "mean", py::arg("who") = "cross_entropy",
      "PyTorch's cross_entropy on logits (rows, classes) with class indices (rows,).");
  m.def(
      "conv2d",
      [](const Tensor& x, const Tensor& kernel, const std::optional<Tensor>& bias,
         std::array<int64_t, 2> strides, const std::string& padding,
         std::array<int64_t, 4> explicit_padding, std::array<int64_t, 2> dilation,
         const std::string& activation, double alpha, const std::string& who) {
        ConvOptions options;
        options.stride_h = strides[0];
        options.stride_w = strides[1];
        options.dilation_h = dilation[0];
        options.dilation_w = dilation[1];
        options.padding = conv_padding_from_name(padding, who.c_str());
        options.pad_top = explicit_padding[0];
        options.pad_bottom = explicit_padding[1];
        options.pad_left = explicit_padding[2];
        options.pad_right = explicit_padding[3];
        return conv2d(x, kernel, optional_tensor(bias), options,
                      activation_from_name(activation, who.c_str()), alpha, who.c_str());
      },
      py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(),
      py::arg("strides") = std::array<int64_t, 2>{1, 1}, py::arg("padding") = "valid",
      py::arg("explicit_padding") = std::array<int64_t, 4>{0, 0, 0, 0},
      py::arg("dilation") = std::array<int64_t, 2>{1, 1}, py::arg("activation") = "linear",
      py::arg("alpha") = 0.0, py::arg("who") = "Conv2D",
      "act(conv(x, kernel) + bias): x (N, H, W, C), kernel (KH, KW, C, F); padding 'valid', "
      "'same' or 'explicit' with explicit_padding (top, bottom, left, right).");
  m.def(
      "conv1d",
      [](const Tensor& x, const Tensor& kernel, const std::optional<Tensor>& bias, int64_t stride,
         const std::string& padding, std::array<int64_t, 2> explicit_padding, int64_t dilation,
         const std::string& activation, double alpha, const std::string& who) {
        ConvOptions options;
        options.stride_w = stride;
        options.dilation_w = dilation;
        options.padding = conv_padding_from_name(padding, who.c_str());
        options.pad_left = explicit_padding[0];
        options.pad_right = explicit_padding[1];
        return conv1d(x, kernel, optional_tensor(bias), options,
                      activation_from_name(activation, who.c_str()), alpha, who.c_str());
      },
      py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), py::arg("stride") = 1,
      py::arg("padding") = "valid", py::arg("explicit_padding") = std::array<int64_t, 2>{0, 0},
      py::arg("dilation") = 1, py::arg("activation") = "linear", py::arg("alpha") = 0.0,
      py::arg("who") = "Conv1D",
      "act(conv(x, kernel) + bias): x (N, T, C), kernel (K, C, F); padding 'valid', 'same' or "
      "'explicit' with explicit_padding (left, right).");
  m.def(
      "pool2d",
      [](const Tensor& x, bool max, int64_t pool_h, int64_t pool_w, int64_t stride_h,
         int64_t stride_w, const std::string& padding, const std::string& who) {
        return pool2d(x, max, pool_h, pool_w, stride_h, stride_w, padding, who.c_str());
      },
      py::arg("x"), py::arg("max"), py::arg("pool_h"), py::arg("pool_w"), py::arg("stride_h"),
      py::arg("stride_w"), py::arg("padding") = "valid", py::arg("who") = "pool2d",
      "Max or average pooling of x (N, H, W, C).");
  m.def(
      "pool1d",
      [](const Tensor& x, bool max, int64_t pool, int64_t stride, const std::string& padding,
         const std::string& who) { return pool1d(x, max, pool, stride, padding, who.c_str()); },
      py::arg("x"), py::arg("max"), py::arg("pool"), py::arg("stride"),
      py::arg("padding") = "valid", py::arg("who") = "pool1d",
      "Max or average pooling of x (N, T, C).");
  m.def(
      "global_pool2d",
      [](const Tensor& x, bool max, const std::string& who) {
        return global_pool2d(x, max, who.c_str());
      },
      py::arg("x"), py::arg("max"), py::arg("who") = "global_pool2d",
      "Global max or average pooling: (N, H, W, C) -> (N, C).");
  m.def(
      "dropout",
      [](const Tensor& x, double rate, const std::vector<int64_t>& noise_shape, bool training,
         const std::optional<Tensor>& generator, const std::string& who) {
        Tensor mask;
        Tensor y =
            dropout(x, rate, noise_shape, training, optional_tensor(generator), who.c_str(), &mask);
        return std::make_pair(y, mask.defined() ? std::optional<Tensor>(mask) : std::nullopt);
      },
      py::arg("x"), py::arg("rate"), py::arg("noise_shape") = std::vector<int64_t>{},
      py::arg("training") = true, py::arg("generator") = py::none(), py::arg("who") = "dropout",
      "Inverted dropout; noise_shape [] means x's shape. Returns (y, mask or None).");
  m.def(
      "batch_norm",
      [](const Tensor& x, const std::optional<Tensor>& gamma, const std::optional<Tensor>& beta,
         const Tensor& moving_mean, const Tensor& moving_variance, bool training, double momentum,
         double epsilon, const std::string& who, bool unbiased_moving_variance) {
        return batch_norm(x, optional_tensor(gamma), optional_tensor(beta), moving_mean,
                          moving_variance, training, momentum, epsilon, who.c_str(),
                          unbiased_moving_variance);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("moving_mean"),
      py::arg("moving_variance"), py::arg("training"), py::arg("momentum") = 0.99,
      py::arg("epsilon") = 1e-3, py::arg("who") = "batch_norm",
      py::arg("unbiased_moving_variance") = false,
      "Batch normalisation over the last axis; training updates the moving statistics "
      "(moving = momentum * moving + (1 - momentum) * batch; the variance unbiased as "
      "PyTorch's running_var with unbiased_moving_variance).");
}

}  // namespace fastnn::python
