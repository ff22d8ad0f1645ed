// The CNN cases of fastnn_bench (overview in fastnn_bench.cpp, shared harness in harness.h):
// the seed CNNs' convolutions through ops conv2d, the im2col/col2im kernels alone, and 2x2
// pooling and batch normalisation at the shapes those convolutions produce. Channels last
// throughout: images (N, H, W, C), conv kernels (KH, KW, C, F).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "harness.h"
#include "ops/ops.h"

namespace bench {

namespace {

std::string image_dims(int64_t h, int64_t w, int64_t c) {
  return dims(h, w) + "x" + std::to_string(c);
}

// --- convolution ---

// Square kernels at stride 1, as in the seed CNNs. first: the model's first layer, whose
// input needs no gradient in training, so conv2d's backward skips the gx GEMM and col2im.
struct ConvLayer {
  const char* name;
  int64_t H, W, C;  // input, per image
  int64_t K, F;     // kernel size, filters
  bool same;        // "same" padding, else "valid"
  Activation act;
  bool first;
};
// As seed_models.py builds them (each conv is followed by a 2x2 max pool):
//   mnist_cnn    28x28x1 -> 26x26x32, 13x13x32 -> 11x11x64            3x3 valid, relu
//   mnist_lenet  28x28x1 -> 24x24x10, 12x12x10 -> 8x8x20              5x5 valid, no activation
//   cifar_cnn    32x32x3 -> 32x32x64, 16x16x64 -> 16x16x128           3x3 same, relu
const ConvLayer kConvLayers[] = {
    {"mnist_cnn conv1", 28, 28, 1, 3, 32, false, Activation::ReLU, true},
    {"mnist_cnn conv2", 13, 13, 32, 3, 64, false, Activation::ReLU, false},
    {"mnist_lenet conv1", 28, 28, 1, 5, 10, false, Activation::Linear, true},
    {"mnist_lenet conv2", 12, 12, 10, 5, 20, false, Activation::Linear, false},
    {"cifar_cnn conv1", 32, 32, 3, 3, 64, true, Activation::ReLU, true},
    {"cifar_cnn conv2", 16, 16, 64, 3, 128, true, Activation::ReLU, false}};

// The geometry conv2d should resolve, worked out here rather than taken from it: "valid" has
// no padding; TensorFlow's "same" at stride 1 keeps the size, padding K - 1 pixels with the
// odd one after (bottom/right).
ConvGeometry geometry_of(const ConvLayer& l, int64_t batch) {
  ConvGeometry g;
  g.batch = batch, g.in_h = l.H, g.in_w = l.W, g.channels = l.C;
  g.kernel_h = g.kernel_w = l.K;
  const int64_t pad = l.same ? l.K - 1 : 0;
  g.pad_top = g.pad_left = pad / 2;
  g.pad_bottom = g.pad_right = pad - pad / 2;
  g.out_h = l.H + pad - l.K + 1;
  g.out_w = l.W + pad - l.K + 1;
  return g;
}

// The reference is a direct convolution: output pixel m = (n, oh, ow), kernel tap (i, j)
// reads input pixel (n, ih, iw) with ih = oh * stride_h - pad_top + i * dilation_h (and the
// same for columns). These return the flat pixel (n * in_h + ih) * in_w + iw, or -1 where the
// tap lies in the padding.
int64_t tap_pixel(const ConvGeometry& g, int64_t m, int64_t i, int64_t j) {
  const int64_t n = m / (g.out_h * g.out_w), oh = m / g.out_w % g.out_h, ow = m % g.out_w;
  const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
  const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) return -1;
  return (n * g.in_h + ih) * g.in_w + iw;
}

// The adjoint: calls f(m, i, j) for every output pixel m whose tap (i, j) reads input pixel p.
template <class Reader>
void for_each_reader(const ConvGeometry& g, int64_t p, Reader f) {
  const int64_t n = p / (g.in_h * g.in_w), ih = p / g.in_w % g.in_h, iw = p % g.in_w;
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      const int64_t th = ih + g.pad_top - i * g.dilation_h;
      const int64_t tw = iw + g.pad_left - j * g.dilation_w;
      if (th < 0 || tw < 0 || th % g.stride_h != 0 || tw % g.stride_w != 0) continue;
      const int64_t oh = th / g.stride_h, ow = tw / g.stride_w;
      if (oh < g.out_h && ow < g.out_w) f((n * g.out_h + oh) * g.out_w + ow, i, j);
    }
}

// y = act(conv(x, w) + b) on sampled output pixels, every filter.
Check check_conv_forward(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& b,
                         Activation act, const Tensor& y) {
  const int64_t C = g.channels, F = w.size(3);
  Check check{1e-4};
  check.require(y.shape() == Shape{g.batch, g.out_h, g.out_w, F});
  if (!check.ok()) return check;
  for (int64_t m : sample(g.patch_rows(), 32))
    for (int64_t f = 0; f < F; ++f) {
      Dot z;
      z.add(at(b, f));
      for (int64_t i = 0; i < g.kernel_h; ++i)
        for (int64_t j = 0; j < g.kernel_w; ++j) {
          const int64_t p = tap_pixel(g, m, i, j);
          if (p < 0) continue;
          for (int64_t c = 0; c < C; ++c)
            z.add(at(x, p * C + c) * at(w, ((i * g.kernel_w + j) * C + c) * F + f));
        }
      check.expect(at(y, m * F + f), act_ref(act, z.sum), z.mag);
    }
  return check;
}

// With gz = gy * act'(y): gx (unless undefined: the first layer) on sampled input pixels, gw
// on sampled entries, gb for every filter.
Check check_conv_backward(const ConvGeometry& g, const Tensor& x, const Tensor& w, Activation act,
                          const Tensor& y, const Tensor& gy, const Tensor& gx, const Tensor& gw,
                          const Tensor& gb) {
  const int64_t C = g.channels, F = w.size(3), M = g.patch_rows(), KW = g.kernel_w;
  auto gz = [&](int64_t k) { return at(gy, k) * act_grad_from_y(act, at(y, k)); };
  Check check{1e-4};
  check.require(!gx.defined() || gx.shape() == x.shape());
  check.require(gw.shape() == w.shape() && gb.shape() == Shape{F});
  if (!check.ok()) return check;
  if (gx.defined())
    for (int64_t p : sample(g.batch * g.in_h * g.in_w, 16))
      for (int64_t c = 0; c < C; ++c) {
        Dot d;
        for_each_reader(g, p, [&](int64_t m, int64_t i, int64_t j) {
          for (int64_t f = 0; f < F; ++f)
            d.add(gz(m * F + f) * at(w, ((i * KW + j) * C + c) * F + f));
        });
        check.expect(at(gx, p * C + c), d);
      }
  // gw row (tap, c) sums over every output pixel: its input pixel per output found once.
  std::vector<int64_t> pixel(M);
  for (int64_t row : sample(g.patch_size(), 16)) {
    const int64_t tap = row / C, c = row % C;
    for (int64_t m = 0; m < M; ++m) pixel[m] = tap_pixel(g, m, tap / KW, tap % KW);
    for (int64_t f : sample(F, 16)) {
      Dot d;
      for (int64_t m = 0; m < M; ++m)
        if (pixel[m] >= 0) d.add(at(x, pixel[m] * C + c) * gz(m * F + f));
      check.expect(at(gw, row * F + f), d);
    }
  }
  for (int64_t f = 0; f < F; ++f)
    expect_dot(check, at(gb, f), M, [&](int64_t m) { return gz(m * F + f); });
  return check;
}

void bench_conv(Backend& be, int64_t batch, const ConvLayer& l) {
  const ConvGeometry g = geometry_of(l, batch);
  const int64_t M = g.patch_rows(), K = g.patch_size(), C = l.C, F = l.F;
  const double r = 1 / std::sqrt(double(K));  // keeps y of order one
  Tensor x = random_tensor({batch, l.H, l.W, C}, -1, 1), w = random_tensor({l.K, l.K, C, F}, -r, r),
         b = random_tensor({F}, -0.1, 0.1), gy = random_tensor({batch, g.out_h, g.out_w, F}, -1, 1);
  ConvOptions options;
  options.padding = l.same ? ConvPadding::Same : ConvPadding::Valid;
  const std::string shape = image_dims(l.H, l.W, C) + " " + dims(l.K, l.K) + (l.same ? "s" : "") +
                            " -> " + std::to_string(F);
  const std::string name = l.name;
  const double flops = 2.0 * M * K * F;
  // Host copies of the inputs for the checks (the tensors themselves on the CPU).
  const Tensor x_h = to_host(x), w_h = to_host(w), b_h = to_host(b), gy_h = to_host(gy);

  // Inference: nothing requires grad, so no cols are kept.
  Tensor y = conv2d(x, w, b, options, l.act, 0.0);
  report(
      name + " fwd", shape, check_conv_forward(g, x_h, w_h, b_h, l.act, to_host(y)),
      [&] { y = conv2d(x, w, b, options, l.act, 0.0); }, flops, Unit::Flops);

  // A training step, gradients dropped before each as zero_grad(set_to_none) does. The first
  // layer's x needs no gradient, as in training; its row ("f+b-gx") still counts 3x the
  // forward FLOPs, as seed_models.py does, though it skips the gx GEMM (a third of them).
  Tensor xa = x.clone(), wa = w.clone(), ba = b.clone(), ya;
  xa.set_requires_grad(!l.first);
  wa.set_requires_grad(true);
  ba.set_requires_grad(true);
  auto step = [&] {
    for (Tensor* t : {&xa, &wa, &ba}) t->set_grad(Tensor());
    ya = conv2d(xa, wa, ba, options, l.act, 0.0);
    backward(ya, gy, false);
  };
  step();
  const Tensor ya_h = to_host(ya);
  Check check = check_conv_forward(g, x_h, w_h, b_h, l.act, ya_h);
  check.require(l.first != xa.grad().defined());
  check.merge(check_conv_backward(g, x_h, w_h, l.act, ya_h, gy_h, to_host(xa.grad()),
                                  to_host(wa.grad()), to_host(ba.grad())));
  report(name + (l.first ? " f+b-gx" : " f+b"), shape, check, step, 3 * flops, Unit::Flops);

  // The lowering alone: GB/s of x and cols, each counted once (im2col reads every input
  // pixel up to K*K times, mostly from cache).
  const double bytes = 4.0 * (x.numel() + M * K);
  Tensor cols = empty_tensor({M, K});
  be.im2col(x, g, cols);
  const Tensor cols_h = to_host(cols);
  Check lowered{0};  // a copy: exact
  for (int64_t m : sample(M, 64))
    for (int64_t i = 0; i < l.K; ++i)
      for (int64_t j = 0; j < l.K; ++j) {
        const int64_t p = tap_pixel(g, m, i, j);
        for (int64_t c = 0; c < C; ++c)
          lowered.expect(at(cols_h, m * K + (i * l.K + j) * C + c), p < 0 ? 0 : at(x_h, p * C + c));
      }
  report(
      name + " im2col", shape, lowered, [&] { be.im2col(x, g, cols); }, bytes, Unit::Bytes);

  Tensor gcols = random_tensor({M, K}, -1, 1), gx = empty_like(x);
  be.col2im(gcols, g, gx);
  const Tensor gcols_h = to_host(gcols), gx_h = to_host(gx);
  Check gathered{1e-5};
  for (int64_t p : sample(batch * l.H * l.W, 64))
    for (int64_t c = 0; c < C; ++c) {
      Dot d;
      for_each_reader(g, p, [&](int64_t m, int64_t i, int64_t j) {
        d.add(at(gcols_h, m * K + (i * l.K + j) * C + c));
      });
      gathered.expect(at(gx_h, p * C + c), d);
    }
  report(
      name + " col2im", shape, gathered, [&] { be.col2im(gcols, g, gx); }, bytes, Unit::Bytes);
}

// --- pooling ---

// The convolution outputs the seed CNNs pool, per image: mnist_cnn 26x26x32 and 11x11x64
// (whose last row and column "valid" pooling drops), mnist_lenet 24x24x10 (10 channels, not
// a multiple of the vector width), cifar_cnn 32x32x64 and 16x16x128.
struct Image {
  int64_t H, W, C;
};
const Image kPoolInputs[] = {{26, 26, 32}, {11, 11, 64}, {24, 24, 10}, {32, 32, 64}, {16, 16, 128}};

// Keras's MaxPooling2D / AveragePooling2D defaults: pool 2, stride 2, "valid".
Pool2DGeometry pool_geometry(int64_t batch, const Image& s) {
  Pool2DGeometry g;
  g.N = batch, g.H = s.H, g.W = s.W, g.C = s.C;
  g.pool_h = g.pool_w = g.stride_h = g.stride_w = 2;
  g.OH = (s.H - 2) / 2 + 1;
  g.OW = (s.W - 2) / 2 + 1;
  return g;
}

// Calls f(o, h, w, count) for each output pixel o = oh * OW + ow of one image and each input
// pixel (h, w) of its window, of count valid pixels (padding takes no part).
template <class Visit>
void for_each_window_pixel(const Pool2DGeometry& g, Visit f) {
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t h0 = std::max<int64_t>(0, oh * g.stride_h - g.pad_top),
                    h1 = std::min(g.H, oh * g.stride_h - g.pad_top + g.pool_h),
                    w0 = std::max<int64_t>(0, ow * g.stride_w - g.pad_left),
                    w1 = std::min(g.W, ow * g.stride_w - g.pad_left + g.pool_w);
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) f(oh * g.OW + ow, h, w, (h1 - h0) * (w1 - w0));
    }
}

// Every output and every input gradient, image by image: the reference gx of one image is
// scattered from its windows, then compared whole.
void bench_pool(Backend& be, int64_t batch, const Image& s) {
  const Pool2DGeometry g = pool_geometry(batch, s);
  const int64_t C = s.C, in_image = s.H * s.W * C, out_image = g.OH * g.OW * C;
  Tensor x = random_tensor({batch, s.H, s.W, C}, -1, 1),
         gy = random_tensor({batch, g.OH, g.OW, C}, -1, 1);
  Tensor y = empty_tensor(gy.shape()), argmax = empty_tensor(gy.shape(), DType::Int32),
         gx = empty_like(x);
  const Tensor x_h = to_host(x), gy_h = to_host(gy);  // for the checks
  const std::string shape = image_dims(s.H, s.W, C) + " -> " + dims(g.OH, g.OW);
  const double in_bytes = 4.0 * x.numel(), out_bytes = 4.0 * y.numel();
  std::vector<double> ref_y(out_image), ref_gx(in_image);
  std::vector<int64_t> ref_at(out_image);

  be.max_pool2d_forward(g, x, y, argmax);
  be.max_pool2d_backward(g, gy, argmax, gx);
  Tensor y_h = to_host(y), argmax_h = to_host(argmax), gx_h = to_host(gx);
  Check max_fwd{0}, max_bwd{1e-6};  // the forward selects: exact
  for (int64_t n = 0; n < batch; ++n) {
    const float* xn = host_data(x_h) + n * in_image;  // seek to image n
    const int64_t yn = n * out_image;
    // The first maximum of each window (strictly greater replaces it), as h * W + w.
    std::fill(ref_at.begin(), ref_at.end(), -1);
    for_each_window_pixel(g, [&](int64_t o, int64_t h, int64_t w, int64_t) {
      for (int64_t c = 0; c < C; ++c) {
        const double v = xn[(h * s.W + w) * C + c];
        if (ref_at[o * C + c] < 0 || v > ref_y[o * C + c])
          ref_y[o * C + c] = v, ref_at[o * C + c] = h * s.W + w;
      }
    });
    std::fill(ref_gx.begin(), ref_gx.end(), 0.0);
    for (int64_t k = 0; k < out_image; ++k) {
      max_fwd.expect(at(y_h, yn + k), ref_y[k]);
      max_fwd.expect(host_data<int32_t>(argmax_h)[yn + k], double(ref_at[k]));
      ref_gx[ref_at[k] * C + k % C] += at(gy_h, yn + k);
    }
    for (int64_t k = 0; k < in_image; ++k) max_bwd.expect(at(gx_h, n * in_image + k), ref_gx[k]);
  }
  report(
      "max_pool2d fwd", shape, max_fwd, [&] { be.max_pool2d_forward(g, x, y, argmax); },
      in_bytes + 2 * out_bytes, Unit::Bytes);
  report(
      "max_pool2d bwd", shape, max_bwd, [&] { be.max_pool2d_backward(g, gy, argmax, gx); },
      in_bytes + 2 * out_bytes, Unit::Bytes);

  be.avg_pool2d_forward(g, x, y);
  be.avg_pool2d_backward(g, gy, gx);
  y_h = to_host(y), gx_h = to_host(gx);
  Check avg_fwd{1e-6}, avg_bwd{1e-6};
  for (int64_t n = 0; n < batch; ++n) {
    const float* xn = host_data(x_h) + n * in_image;
    const int64_t yn = n * out_image;
    std::fill(ref_y.begin(), ref_y.end(), 0.0);
    std::fill(ref_gx.begin(), ref_gx.end(), 0.0);
    for_each_window_pixel(g, [&](int64_t o, int64_t h, int64_t w, int64_t count) {
      for (int64_t c = 0; c < C; ++c) {
        ref_y[o * C + c] += xn[(h * s.W + w) * C + c] / double(count);
        ref_gx[(h * s.W + w) * C + c] += at(gy_h, yn + o * C + c) / double(count);
      }
    });
    for (int64_t k = 0; k < out_image; ++k) avg_fwd.expect(at(y_h, yn + k), ref_y[k]);
    for (int64_t k = 0; k < in_image; ++k) avg_bwd.expect(at(gx_h, n * in_image + k), ref_gx[k]);
  }
  report(
      "avg_pool2d fwd", shape, avg_fwd, [&] { be.avg_pool2d_forward(g, x, y); },
      in_bytes + out_bytes, Unit::Bytes);
  report(
      "avg_pool2d bwd", shape, avg_bwd, [&] { be.avg_pool2d_backward(g, gy, gx); },
      in_bytes + out_bytes, Unit::Bytes);
}

// --- batch normalisation ---

// Per sample, normalised over the last axis: cifar_cnn's convolution outputs (where a
// BatchNormalization would follow each conv) and a dense layer of 512 features (its fc1).
const Shape kNormInputs[] = {{32, 32, 64}, {16, 16, 128}, {512}};

// Every output, against statistics taken in double (two passes, biased variance). Keras's
// defaults: momentum 0.99 (moving = momentum * moving + (1 - momentum) * batch), epsilon 1e-3.
void bench_norm(Backend& be, int64_t batch, const Shape& per_sample) {
  Shape shape = {batch};
  shape.insert(shape.end(), per_sample.begin(), per_sample.end());
  const int64_t C = per_sample.back();
  const double momentum = 0.99, epsilon = 1e-3;
  // x's mean away from zero, as after a ReLU, so that a one-pass variance would show.
  Tensor x = random_tensor(shape, -1, 3), gy = random_tensor(shape, -1, 1);
  Tensor gamma = random_tensor({C}, 0.5, 1.5), beta = random_tensor({C}, -0.5, 0.5);
  Tensor moving_mean = random_tensor({C}, -0.5, 0.5), moving_var = random_tensor({C}, 0.5, 2);
  const Tensor mean0 = moving_mean.clone(), var0 = moving_var.clone();
  Tensor mean = empty_tensor({C}), invstd = empty_like(mean), y = empty_like(x);
  // Host copies for the checks (the tensors themselves on the CPU).
  const Tensor x_h = to_host(x), gy_h = to_host(gy), gamma_h = to_host(gamma),
               beta_h = to_host(beta), mean0_h = to_host(mean0), var0_h = to_host(var0);
  const int64_t R = x.numel() / C, n = x.numel();
  std::string name;
  for (int64_t d : per_sample) name += (name.empty() ? "" : "x") + std::to_string(d);

  std::vector<double> mu(C, 0.0), var(C, 0.0);
  for (int64_t k = 0; k < n; ++k) mu[k % C] += at(x_h, k) / R;
  for (int64_t k = 0; k < n; ++k) var[k % C] += std::pow(at(x_h, k) - mu[k % C], 2) / R;
  auto xhat = [&](int64_t k) { return (at(x_h, k) - mu[k % C]) / std::sqrt(var[k % C] + epsilon); };
  // y for element k, normalised by the statistics m and v of its channel.
  auto normalised = [&](int64_t k, double m, double v) {
    return (at(x_h, k) - m) / std::sqrt(v + epsilon) * at(gamma_h, k % C) + at(beta_h, k % C);
  };

  be.batch_norm_forward(true, momentum, epsilon, false, x, gamma, beta, moving_mean, moving_var, mean,
                        invstd, y);
  Tensor y_h = to_host(y);
  const Tensor mean_h = to_host(mean), invstd_h = to_host(invstd),
               moving_mean_h = to_host(moving_mean), moving_var_h = to_host(moving_var);
  Check train{1e-5};
  for (int64_t c = 0; c < C; ++c) {
    train.expect(at(mean_h, c), mu[c]);
    train.expect(at(invstd_h, c), 1 / std::sqrt(var[c] + epsilon));
    train.expect(at(moving_mean_h, c), momentum * at(mean0_h, c) + (1 - momentum) * mu[c]);
    train.expect(at(moving_var_h, c), momentum * at(var0_h, c) + (1 - momentum) * var[c]);
  }
  for (int64_t k = 0; k < n; ++k) train.expect(at(y_h, k), normalised(k, mu[k % C], var[k % C]));
  // Bytes of x and y once each, though training reads x three times.
  report(
      "batch_norm fwd train", name, train,
      [&] {
        be.batch_norm_forward(true, momentum, epsilon, false, x, gamma, beta, moving_mean, moving_var,
                              mean, invstd, y);
      },
      8.0 * n, Unit::Bytes);

  // Inference normalises with the moving statistics (left as they were).
  Tensor infer_mean = empty_like(mean), infer_invstd = empty_like(mean), mean1 = mean0.clone(),
         var1 = var0.clone();
  be.batch_norm_forward(false, momentum, epsilon, false, x, gamma, beta, mean1, var1, infer_mean,
                        infer_invstd, y);
  y_h = to_host(y);
  const Tensor infer_mean_h = to_host(infer_mean), infer_invstd_h = to_host(infer_invstd),
               mean1_h = to_host(mean1), var1_h = to_host(var1);
  Check infer{1e-5};
  for (int64_t c = 0; c < C; ++c) {
    infer.expect(at(infer_mean_h, c), at(mean0_h, c));
    infer.expect(at(infer_invstd_h, c), 1 / std::sqrt(at(var0_h, c) + epsilon));
    infer.expect(at(mean1_h, c), at(mean0_h, c));
    infer.expect(at(var1_h, c), at(var0_h, c));
  }
  for (int64_t k = 0; k < n; ++k)
    infer.expect(at(y_h, k), normalised(k, at(mean0_h, k % C), at(var0_h, k % C)));
  report(
      "batch_norm fwd infer", name, infer,
      [&] {
        be.batch_norm_forward(false, momentum, epsilon, false, x, gamma, beta, mean1, var1, infer_mean,
                              infer_invstd, y);
      },
      8.0 * n, Unit::Bytes);

  // Training's backward, from the batch statistics the training forward saved:
  // gx = gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)).
  Tensor gx = empty_like(x), ggamma = empty_like(mean), gbeta = empty_like(mean);
  be.batch_norm_backward(true, x, gamma, mean, invstd, gy, gx, ggamma, gbeta);
  const Tensor gx_h = to_host(gx), ggamma_h = to_host(ggamma), gbeta_h = to_host(gbeta);
  std::vector<Dot> sum_gy(C), sum_gy_xhat(C);
  for (int64_t k = 0; k < n; ++k) {
    sum_gy[k % C].add(at(gy_h, k));
    sum_gy_xhat[k % C].add(at(gy_h, k) * xhat(k));
  }
  Check bwd{1e-4};
  for (int64_t c = 0; c < C; ++c) {
    bwd.expect(at(gbeta_h, c), sum_gy[c]);
    bwd.expect(at(ggamma_h, c), sum_gy_xhat[c]);
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t c = k % C;
    const double scale = at(gamma_h, c) / std::sqrt(var[c] + epsilon);
    const double want =
        scale * (at(gy_h, k) - sum_gy[c].sum / R - xhat(k) * sum_gy_xhat[c].sum / R);
    // The means carry the rounding of their sums of magnitudes.
    bwd.expect(at(gx_h, k), want,
               scale * (std::abs(at(gy_h, k)) + sum_gy[c].mag / R +
                        std::abs(xhat(k)) * sum_gy_xhat[c].mag / R));
  }
  report(
      "batch_norm bwd train", name, bwd,
      [&] { be.batch_norm_backward(true, x, gamma, mean, invstd, gy, gx, ggamma, gbeta); },
      12.0 * n, Unit::Bytes);
}

}  // namespace

void bench_convolutions(Backend& be, int64_t batch) {
  for (const ConvLayer& layer : kConvLayers) bench_conv(be, batch, layer);
}

void bench_pooling(Backend& be, int64_t batch) {
  for (const Image& s : kPoolInputs) bench_pool(be, batch, s);
}

void bench_batch_norm(Backend& be, int64_t batch) {
  for (const Shape& per_sample : kNormInputs) bench_norm(be, batch, per_sample);
}

}  // namespace bench
