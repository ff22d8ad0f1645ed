// Pooling ops, channels last: 2D on x (N, H, W, C) -> (N, OH, OW, C), 1D on x (N, T, C) ->
// (N, OT, C) (the 2D kernels with a height of 1), global pooling (N, H, W, C) -> (N, C) (a
// window of the whole image). Output sizes follow TensorFlow: "valid" OH = (H - pool) /
// stride + 1, "same" OH = ceil(H / stride) with the odd padding at the bottom/right.
#include <limits>

#include "core/launch.h"
#include "ops/ops.h"

namespace fastnn {

namespace {
// Fills out and pad_before of one axis; raises when the window cannot fit.
void axis_geometry(int64_t extent, int64_t pool, int64_t stride, bool same, const char* who,
                   const char* axis, int64_t& out, int64_t& pad_before) {
  if (same) {
    out = (extent + stride - 1) / stride;
    int64_t pad_total = std::max<int64_t>((out - 1) * stride + pool - extent, 0);
    pad_before = pad_total / 2;
    return;
  }
  FASTNN_CHECK(extent >= pool, Value, who, ": expected a pool_size of at most the input's ", axis,
               " (", extent, ") with padding='valid', got ", pool);
  out = (extent - pool) / stride + 1;
  pad_before = 0;
}

bool parse_padding(const std::string& padding, const char* who) {
  FASTNN_CHECK(padding == "valid" || padding == "same", Value, who,
               ": expected padding 'valid' or 'same', got '", padding, "'");
  return padding == "same";
}

void check_positive(int64_t v, const char* who, const char* arg) {
  FASTNN_CHECK(v > 0, Value, who, ": expected a positive ", arg, ", got ", v);
}

// Runs the pooling kernels for geometry g on x (any shape with g's numel) into `out_shape`.
Tensor pool_impl(const Tensor& x, bool max, const Pool2DGeometry& g, const Shape& out_shape,
                 const char* who) {
  FASTNN_CHECK(g.H * g.W < std::numeric_limits<int32_t>::max(), Value, who,
               ": expected fewer than 2^31 positions per image, got ", g.H * g.W);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  Backend& be = backend_of(x);
  const bool grad = needs_grad({&x});
  Tensor argmax;
  if (max) {
    argmax = Tensor::empty(out_shape, DType::Int32, x.device());
    FASTNN_LAUNCH(be, max_pool2d_forward, g, x, y, argmax);
  } else {
    FASTNN_LAUNCH(be, avg_pool2d_forward, g, x, y);
  }
  if (!grad) return y;
  record(who, y, {x},
         [g, max, argmax, x_shape = x.shape()](const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
           if (max)
             FASTNN_LAUNCH(backend_of(gy), max_pool2d_backward, g, gy, argmax, gx);
           else
             FASTNN_LAUNCH(backend_of(gy), avg_pool2d_backward, g, gy, gx);
           return std::vector<Tensor>{gx};
         });
  return y;
}

void check_input(const Tensor& x, int64_t rank, const char* who, const char* layout) {
  check_float(x, who, "inputs");
  FASTNN_CHECK(x.dim() == rank, Value, who, ": expected inputs of rank ", rank, " ", layout,
               ", got shape ", shape_str(x.shape()));
}
}  // namespace

Tensor pool2d(const Tensor& x, bool max, int64_t pool_h, int64_t pool_w, int64_t stride_h,
              int64_t stride_w, const std::string& padding, const char* who) {
  check_input(x, 4, who, "(batch, height, width, channels)");
  check_positive(pool_h, who, "pool height");
  check_positive(pool_w, who, "pool width");
  check_positive(stride_h, who, "stride height");
  check_positive(stride_w, who, "stride width");
  const bool same = parse_padding(padding, who);
  Pool2DGeometry g;
  g.N = x.size(0), g.H = x.size(1), g.W = x.size(2), g.C = x.size(3);
  g.pool_h = pool_h, g.pool_w = pool_w, g.stride_h = stride_h, g.stride_w = stride_w;
  axis_geometry(g.H, pool_h, stride_h, same, who, "height", g.OH, g.pad_top);
  axis_geometry(g.W, pool_w, stride_w, same, who, "width", g.OW, g.pad_left);
  return pool_impl(x, max, g, {g.N, g.OH, g.OW, g.C}, who);
}

Tensor pool1d(const Tensor& x, bool max, int64_t pool, int64_t stride, const std::string& padding,
              const char* who) {
  check_input(x, 3, who, "(batch, steps, channels)");
  check_positive(pool, who, "pool_size");
  check_positive(stride, who, "stride");
  const bool same = parse_padding(padding, who);
  Pool2DGeometry g;
  g.N = x.size(0), g.H = 1, g.W = x.size(1), g.C = x.size(2);
  g.pool_w = pool, g.stride_w = stride, g.OH = 1;
  axis_geometry(g.W, pool, stride, same, who, "steps", g.OW, g.pad_left);
  return pool_impl(x, max, g, {g.N, g.OW, g.C}, who);
}

Tensor global_pool2d(const Tensor& x, bool max, const char* who) {
  check_input(x, 4, who, "(batch, height, width, channels)");
  Pool2DGeometry g;
  g.N = x.size(0), g.H = x.size(1), g.W = x.size(2), g.C = x.size(3);
  FASTNN_CHECK(g.H > 0 && g.W > 0, Value, who, ": expected a non-empty image, got shape ",
               shape_str(x.shape()));
  g.pool_h = g.H, g.pool_w = g.W, g.OH = 1, g.OW = 1;
  return pool_impl(x, max, g, {g.N, g.C}, who);
}

}  // namespace fastnn
