// Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016; interpolation points 0, +-1, +-2 and infinity). A 4x4 block of a
// stride-1 3x3 convolution's outputs, from the 6x6 input tile d under it and the kernel g:
//   Y = A^T [(G g G^T) . (B^T d B)] A          (. the elementwise product)
// 36 products per (channel, filter) pair instead of 144; summed over channels, the products
// at each of the 36 points are one GEMM. Each 2-D transform below is its 1-D transform of a
// line of values applied down the tile's columns, then along its rows. The lines are templates
// over the value type: a float, a double or a GCC vector of either (the CPU transforms a tile's
// channels a register at a time), so the constants are float literals (exact small integers).
//
// The kernel's gradient from the output gradient gy (a 4x4 block) is the adjoint:
//   gg = G^T [(A gy A^T) . (B^T d B)] G        summed over the tiles.
#pragma once

#include <cstdint>

#include "math/common.h"

namespace fastnn::math {

constexpr int kWinogradOut = 4;   // outputs per tile side
constexpr int kWinogradTile = 6;  // inputs per tile side (4 + 3 - 1)
constexpr int kWinogradPoints = kWinogradTile * kWinogradTile;

// Tiles along an axis of `outputs` outputs (the last one clipped).
FASTNN_HOST_DEVICE int64_t winograd_tiles_across(int64_t outputs) {
  return (outputs + kWinogradOut - 1) / kWinogradOut;
}

// B^T d: an input line of 6 values to its 6 transformed values.
template <class T>
FASTNN_HOST_DEVICE void winograd_input_line(const T (&d)[6], T (&r)[6]) {
  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
  r[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
  r[3] = 2.0f * (d[3] - d[1]) - d[2] + d[4];
  r[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

// G g: a kernel line of 3 taps to 6 values.
template <class T>
FASTNN_HOST_DEVICE void winograd_kernel_line(const T (&g)[3], T (&u)[6]) {
  u[0] = g[0] / 4.0f;
  u[1] = -(g[0] + g[1] + g[2]) / 6.0f;
  u[2] = -(g[0] - g[1] + g[2]) / 6.0f;
  u[3] = g[0] / 24.0f + g[1] / 12.0f + g[2] / 6.0f;
  u[4] = g[0] / 24.0f - g[1] / 12.0f + g[2] / 6.0f;
  u[5] = g[2];
}

// A^T m: 6 products to the line's 4 outputs.
template <class T>
FASTNN_HOST_DEVICE void winograd_output_line(const T (&m)[6], T (&o)[4]) {
  const T sum12 = m[1] + m[2], diff12 = m[1] - m[2];
  const T sum34 = m[3] + m[4], diff34 = m[3] - m[4];
  o[0] = m[0] + sum12 + sum34;
  o[1] = diff12 + 2.0f * diff34;
  o[2] = sum12 + 4.0f * sum34;
  o[3] = diff12 + 8.0f * diff34 + m[5];
}

// A gy: the adjoint of winograd_output_line, 4 output gradients to 6 values.
template <class T>
FASTNN_HOST_DEVICE void winograd_output_gradient_line(const T (&gy)[4], T (&r)[6]) {
  r[0] = gy[0];
  r[1] = gy[0] + gy[1] + gy[2] + gy[3];
  r[2] = gy[0] - gy[1] + gy[2] - gy[3];
  r[3] = gy[0] + 2.0f * gy[1] + 4.0f * gy[2] + 8.0f * gy[3];
  r[4] = gy[0] - 2.0f * gy[1] + 4.0f * gy[2] - 8.0f * gy[3];
  r[5] = gy[3];
}

// G^T gu: the adjoint of winograd_kernel_line, 6 values to the 3 taps' gradients.
template <class T>
FASTNN_HOST_DEVICE void winograd_kernel_gradient_line(const T (&gu)[6], T (&gg)[3]) {
  const T plus = gu[3] + gu[4], minus = gu[3] - gu[4];
  gg[0] = gu[0] / 4.0f - (gu[1] + gu[2]) / 6.0f + plus / 24.0f;
  gg[1] = (gu[2] - gu[1]) / 6.0f + minus / 12.0f;
  gg[2] = plus / 6.0f - (gu[1] + gu[2]) / 6.0f + gu[5];
}

}  // namespace fastnn::math
