// Conv1D and Conv2D, channels-last, as im2col + one GEMM (cpu/conv.cpp, cpu/gemm.cpp):
//   x (N, H, W, C), kernel (KH, KW, C, F) (Keras layout: its leading axes flatten to the
//   (KH * KW * C, F) matrix that multiplies the patches), bias (F) -> y (N, OH, OW, F).
//   Conv1D is Conv2D with H = KH = 1: x (N, T, C), kernel (K, C, F) -> (N, OT, F).
// Forward:   cols = im2col(x)  (M = N * OH * OW rows, K = KH * KW * C columns)
//            y = act(cols @ kernel + bias)
// Backward:  gz = gy * act'(y)                       (act'(z) for GELU, which keeps z)
//            gkernel = cols^T @ gz,  gbias = column sums of gz
//            gx = col2im(gz @ kernel^T)              (skipped when x needs no gradient)
// A pointwise convolution (1x1, stride 1, no padding) uses x itself as cols. Inputs with 1-3
// channels (first layers) skip the lowering: direct kernels compute y and gkernel from x.
//
// Workspace: cols is allocated per eager call and kept for the backward (only when the
// kernel needs a gradient); the input gradient's cols are allocated in the backward. A
// captured step allocates them once, when it is recorded, and its replays reuse them.
#include <algorithm>
#include <cctype>

#include "core/launch.h"
#include "core/parallel.h"
#include "math/winograd.h"
#include "ops/ops.h"

namespace fastnn {

ConvPadding conv_padding_from_name(const std::string& name, const char* who) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (key == "valid") return ConvPadding::Valid;
  if (key == "same") return ConvPadding::Same;
  if (key == "explicit") return ConvPadding::Explicit;
  fail(ErrorKind::Value, who, ": expected padding 'valid', 'same' or explicit sizes, got '", name,
       "'");
}

namespace {

// Far beyond any real image, and small enough that the products below cannot overflow.
constexpr int64_t kMaxConvSize = int64_t(1) << 31;

struct AxisGeometry {
  int64_t pad_before = 0, pad_after = 0, out = 0;
};

// One spatial axis: the padding on each side and the output size. "same" follows
// TensorFlow: out = ceil(in / stride), the extra padding (when odd) after.
AxisGeometry resolve_axis(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          ConvPadding mode, int64_t pad_before, int64_t pad_after, const char* axis,
                          const char* who) {
  FASTNN_CHECK(stride > 0 && stride <= kMaxConvSize, Value, who, ": expected a ", axis,
               " stride in [1, 2^31], got ", stride);
  FASTNN_CHECK(dilation > 0 && dilation <= kMaxConvSize, Value, who, ": expected a ", axis,
               " dilation rate in [1, 2^31], got ", dilation);
  const int64_t span = (kernel - 1) * dilation + 1;  // the input extent one output reads
  AxisGeometry a;
  if (mode == ConvPadding::Same) {
    a.out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (a.out - 1) * stride + span - in);
    a.pad_before = total / 2;
    a.pad_after = total - a.pad_before;
    return a;
  }
  if (mode == ConvPadding::Explicit) {
    FASTNN_CHECK(pad_before >= 0 && pad_after >= 0 && pad_before <= kMaxConvSize &&
                     pad_after <= kMaxConvSize,
                 Value, who, ": expected ", axis, " padding in [0, 2^31], got (", pad_before, ", ",
                 pad_after, ")");
    a.pad_before = pad_before;
    a.pad_after = pad_after;
  }
  const int64_t padded = in + a.pad_before + a.pad_after;
  FASTNN_CHECK(span <= padded, Value, who,
               ": expected a kernel no larger than the padded input, got ", axis, " kernel size ",
               kernel, (dilation > 1 ? str(" (", span, " dilated)") : ""), " over padded input ",
               axis, " size ", padded);
  a.out = (padded - span) / stride + 1;
  return a;
}

void check_conv_args(const Tensor& x, const Tensor& kernel, const Tensor& bias, int64_t rank,
                     const char* layout, const char* kernel_layout, const char* who) {
  check_float(x, who, "inputs");
  check_float(kernel, who, "kernel");
  FASTNN_CHECK(x.dim() == rank, Value, who, ": expected inputs of rank ", rank, " ", layout,
               ", got shape ", shape_str(x.shape()));
  FASTNN_CHECK(kernel.dim() == rank, Value, who, ": expected a kernel of rank ", rank, " ",
               kernel_layout, ", got shape ", shape_str(kernel.shape()));
  check_nonempty(x, who, "inputs");
  check_nonempty(kernel, who, "kernel");
  check_same_dtype(x, kernel, who, "kernel");
  check_same_device(x, kernel, who, "kernel");
  const int64_t C = kernel.shape()[rank - 2], F = kernel.shape()[rank - 1];
  FASTNN_CHECK(x.shape().back() == C, Value, who, ": expected inputs with ", C,
               " channels (the kernel's input channels), got shape ", shape_str(x.shape()));
  if (bias.defined()) {
    check_same_dtype(x, bias, who, "bias");
    check_same_device(x, bias, who, "bias");
    FASTNN_CHECK(bias.dim() == 1 && bias.shape()[0] == F, Value, who, ": expected bias of shape (",
                 F, ",), got ", shape_str(bias.shape()));
  }
}

// First layers with few channels and filters take the direct kernels (cpu/conv.cpp): no
// lowered matrix. With more filters the GEMM's efficiency wins back its im2col: measured
// (bench/NOTES.md item 22) direct 2.0x faster at 1 -> 10 filters (LeNet), 1.35x at 1 -> 32
// (mnist_cnn), 1.36x slower at 3 -> 64 (cifar_cnn).
constexpr int64_t kDirectMaxChannels = 3;
constexpr int64_t kDirectMaxFilters = 32;

bool is_pointwise(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
         g.pad_top == 0 && g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0;
}

// Winograd F(4x4, 3x3) (cpu/conv_winograd.cpp) for stride-1 3x3 convolutions, as
// set_conv_algorithm says. By default where it was measured faster than the lowered GEMM
// (bench/NOTES.md item 35; batch 64, forward and backward, 2 cores): float32 layers with
// 16-256 channels and filters (1.7-2.6x) on outputs of at least 7x7 (a 5x5 output computes
// 8x8 in 4x4 tiles: 0.6x), with enough tiles to give every core blocks (16 images of 4x4:
// one block, 0.4x). Padding is at most 2 on each side: the input gradient's convolution pads
// by 2 minus it.
constexpr int64_t kWinogradMinChannels = 16;
constexpr int64_t kWinogradMaxChannelProduct = 256 * 256;
constexpr int64_t kWinogradMinOutput = 7;
constexpr int64_t kWinogradMinTilesPerCore = 64;

bool use_winograd(const ConvGeometry& g, int64_t filters, DType dtype, const Backend& be) {
  if (!be.has_winograd_conv() || g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 ||
      g.stride_w != 1 || g.dilation_h != 1 || g.dilation_w != 1)
    return false;
  if (std::max({g.pad_top, g.pad_bottom, g.pad_left, g.pad_right}) > 2) return false;
  const ConvAlgorithm algorithm = conv_algorithm_setting();
  if (algorithm != ConvAlgorithm::Auto) return algorithm == ConvAlgorithm::Winograd;
  const int64_t tiles =
      g.batch * math::winograd_tiles_across(g.out_h) * math::winograd_tiles_across(g.out_w);
  return dtype == DType::Float32 && g.channels >= kWinogradMinChannels &&
         filters >= kWinogradMinChannels && g.channels * filters <= kWinogradMaxChannelProduct &&
         std::min(g.out_h, g.out_w) >= kWinogradMinOutput &&
         tiles >= kWinogradMinTilesPerCore * hardware_threads();
}

// The geometry of the convolution that takes gz back to gx: gz padded by 2 - pad on each
// side, convolved with the rotated kernel (stride 1), gives x's shape.
ConvGeometry winograd_input_gradient_geometry(const ConvGeometry& g, int64_t filters) {
  ConvGeometry t = g;
  t.in_h = g.out_h;
  t.in_w = g.out_w;
  t.channels = filters;
  t.out_h = g.in_h;
  t.out_w = g.in_w;
  t.pad_top = 2 - g.pad_top;
  t.pad_bottom = 2 - g.pad_bottom;
  t.pad_left = 2 - g.pad_left;
  t.pad_right = 2 - g.pad_right;
  return t;
}

// A stride-1 3x3 convolution as Winograd F(4x4, 3x3): the kernel transformed once per call,
// forward and input gradient one Winograd convolution each, the kernel gradient its adjoint.
// Nothing lowered is kept: the backward reads x.
Tensor conv_winograd(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                     const ConvGeometry& g, const Shape& out_shape, Activation act, double alpha,
                     const char* who) {
  const int64_t C = g.channels, F = kernel.shape().back();
  Backend& be = backend_of(x);
  const bool grad = needs_grad({&x, &kernel, &bias});
  Tensor u = Tensor::empty({math::kWinogradPoints, C, F}, x.dtype(), x.device());
  FASTNN_LAUNCH(be, winograd_kernel_transform, kernel, false, u);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  FASTNN_LAUNCH(be, conv2d_winograd_forward, x, u, g, y);
  Tensor z = epilogue_forward(act, alpha, bias, y, grad);
  if (!grad) return y;
  record(who, y, {x, kernel, bias},
         [x_saved = needs_grad({&kernel}) ? x.detach() : Tensor(), w = kernel.detach(),
          y_saved = y.detach(), z, g, act, alpha, C, F](const Tensor& gy,
                                                        const std::vector<bool>& needs) {
           Backend& be = backend_of(gy);
           Tensor gz = epilogue_backward(act, alpha, z, y_saved, gy);
           std::vector<Tensor> grads(3);
           if (needs[0]) {
             Tensor u_flipped =
                 Tensor::empty({math::kWinogradPoints, F, C}, gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, winograd_kernel_transform, w, true, u_flipped);
             grads[0] = Tensor::empty({g.batch, g.in_h, g.in_w, C}, gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, conv2d_winograd_forward, gz, u_flipped,
                           winograd_input_gradient_geometry(g, F), grads[0]);
           }
           if (needs[1]) {
             grads[1] = Tensor::empty(w.shape(), gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, conv2d_winograd_backward_kernel, x_saved, gz, g, grads[1]);
           }
           if (needs[2]) grads[2] = bias_gradient(gz, g.patch_rows(), F);
           return grads;
         });
  return y;
}

// The lowered convolution for a resolved geometry; x and kernel keep their own shapes (the
// kernels read raw rows), so Conv1D's gradients come back in Conv1D's shapes.
Tensor conv_lowered(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                    const ConvGeometry& g, const Shape& out_shape, Activation act, double alpha,
                    const char* who) {
  FASTNN_CHECK(act != Activation::LeakyReLU || alpha >= 0, Value, who,
               ": expected leaky_relu alpha >= 0, got ", alpha);
  // Huge padding: a ValueError naming the op rather than sizes wrapping around.
  const double patch_elements =
      double(g.batch) * double(g.out_h) * double(g.out_w) * double(g.patch_size());
  FASTNN_CHECK(patch_elements < 0x1p62, Value, who,
               ": expected an output small enough to lower, got ", g.out_h, "x", g.out_w,
               " outputs of ", g.patch_size(), " values each per image");
  const int64_t M = g.patch_rows(), K = g.patch_size(), F = kernel.shape().back();
  Backend& be = backend_of(x);
  if (use_winograd(g, F, x.dtype(), be))
    return conv_winograd(x, kernel, bias, g, out_shape, act, alpha, who);
  const bool grad = needs_grad({&x, &kernel, &bias});
  const bool pointwise = is_pointwise(g);
  const bool direct =
      !pointwise && g.channels <= kDirectMaxChannels && F <= kDirectMaxFilters;
  Tensor cols = x;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (direct) {  // the bias is added by the kernel, the activation by the epilogue
    FASTNN_LAUNCH(be, conv2d_direct_forward, x, kernel, bias, g, y);
  } else {
    if (!pointwise) {
      cols = Tensor::empty({M, K}, x.dtype(), x.device());
      FASTNN_LAUNCH(be, im2col, x, g, cols);
    }
    FASTNN_LAUNCH(be, gemm, false, false, M, F, K, 1.0, cols, kernel, 0.0, y);
  }
  Tensor z = epilogue_forward(act, alpha, direct ? Tensor() : bias, y, grad);
  if (!grad) return y;

  // cols (x itself for the direct and pointwise kernels) only serves the kernel's gradient:
  // a frozen kernel does not keep it alive.
  Tensor saved_cols = needs_grad({&kernel}) ? cols.detach() : Tensor();
  record(who, y, {x, kernel, bias},
         [cols = saved_cols, w = kernel.detach(), y_saved = y.detach(), z, g, act, alpha, M, K, F,
          pointwise, direct, x_shape = x.shape()](const Tensor& gy,
                                                  const std::vector<bool>& needs) {
           Backend& be = backend_of(gy);
           Tensor gz = epilogue_backward(act, alpha, z, y_saved, gy);
           std::vector<Tensor> grads(3);
           if (needs[0]) {
             grads[0] = Tensor::empty(x_shape, gy.dtype(), gy.device());
             if (pointwise) {
               FASTNN_LAUNCH(be, gemm, false, true, M, K, F, 1.0, gz, w, 0.0, grads[0]);
             } else {
               Tensor gcols = Tensor::empty({M, K}, gy.dtype(), gy.device());
               FASTNN_LAUNCH(be, gemm, false, true, M, K, F, 1.0, gz, w, 0.0, gcols);
               FASTNN_LAUNCH(be, col2im, gcols, g, grads[0]);
             }
           }
           // The direct kernel gradient sums the bias gradient in its pass over gz.
           const bool bias_with_kernel = direct && needs[1] && needs[2];
           if (needs[1]) {
             grads[1] = Tensor::empty(w.shape(), gy.dtype(), gy.device());
             if (direct) {
               if (bias_with_kernel) grads[2] = Tensor::empty({F}, gy.dtype(), gy.device());
               FASTNN_LAUNCH(be, conv2d_direct_backward_kernel, cols, gz, g, grads[1], grads[2]);
             } else {
               FASTNN_LAUNCH(be, gemm, true, false, K, F, M, 1.0, cols, gz, 0.0, grads[1]);
             }
           }
           if (needs[2] && !bias_with_kernel) grads[2] = bias_gradient(gz, M, F);
           return grads;
         });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, const ConvOptions& options,
              Activation act, double alpha, const char* who) {
  check_conv_args(x, kernel, bias, 4, "(batch, height, width, channels)",
                  "(kernel_height, kernel_width, in_channels, filters)", who);
  const Shape& xs = x.shape();
  const Shape& ks = kernel.shape();
  ConvGeometry g;
  g.batch = xs[0];
  g.in_h = xs[1];
  g.in_w = xs[2];
  g.channels = xs[3];
  g.kernel_h = ks[0];
  g.kernel_w = ks[1];
  g.stride_h = options.stride_h;
  g.stride_w = options.stride_w;
  g.dilation_h = options.dilation_h;
  g.dilation_w = options.dilation_w;
  AxisGeometry h = resolve_axis(g.in_h, g.kernel_h, g.stride_h, g.dilation_h, options.padding,
                                options.pad_top, options.pad_bottom, "height", who);
  AxisGeometry w = resolve_axis(g.in_w, g.kernel_w, g.stride_w, g.dilation_w, options.padding,
                                options.pad_left, options.pad_right, "width", who);
  g.pad_top = h.pad_before;
  g.pad_bottom = h.pad_after;
  g.out_h = h.out;
  g.pad_left = w.pad_before;
  g.pad_right = w.pad_after;
  g.out_w = w.out;
  return conv_lowered(x, kernel, bias, g, {g.batch, g.out_h, g.out_w, ks[3]}, act, alpha, who);
}

Tensor conv1d(const Tensor& x, const Tensor& kernel, const Tensor& bias, const ConvOptions& options,
              Activation act, double alpha, const char* who) {
  check_conv_args(x, kernel, bias, 3, "(batch, steps, channels)",
                  "(kernel_size, in_channels, filters)", who);
  ConvGeometry g;
  g.batch = x.shape()[0];
  g.in_w = x.shape()[1];
  g.channels = x.shape()[2];
  g.kernel_w = kernel.shape()[0];
  g.stride_w = options.stride_w;
  g.dilation_w = options.dilation_w;
  g.in_h = g.kernel_h = g.stride_h = g.dilation_h = g.out_h = 1;
  AxisGeometry w = resolve_axis(g.in_w, g.kernel_w, g.stride_w, g.dilation_w, options.padding,
                                options.pad_left, options.pad_right, "steps", who);
  g.pad_left = w.pad_before;
  g.pad_right = w.pad_after;
  g.out_w = w.out;
  return conv_lowered(x, kernel, bias, g, {g.batch, g.out_w, kernel.shape()[2]}, act, alpha, who);
}

}  // namespace fastnn
