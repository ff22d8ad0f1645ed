// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): a
// counter-based generator, so element i of a draw is a pure function of (seed, offset + i)
// and the CPU and the GPU produce the same numbers in any order.
#pragma once

#include <cmath>
#include <cstdint>

#include "math/common.h"

namespace fastnn::math {

struct Philox4 {
  uint32_t v[4];
};

FASTNN_HOST_DEVICE uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t& hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

FASTNN_HOST_DEVICE Philox4 philox(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with the dtype's full mantissa.
FASTNN_HOST_DEVICE double uniform_double(const Philox4& r) {
  uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
FASTNN_HOST_DEVICE float uniform_float(const Philox4& r) {
  return static_cast<float>(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

// Standard normal by Box-Muller from one Philox block.
FASTNN_HOST_DEVICE double normal_double(const Philox4& r) {
  double u1 = (static_cast<double>(r.v[0]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1)
  double u2 = static_cast<double>(r.v[1]) * (1.0 / 4294967296.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

// Element values of the random fills for dtype T from one Philox block: uniform in
// [low, high) and normal(mean, stddev). The fma is spelled out: the CPU's compiler contracts
// low + (high - low) * u into one where the CPU has FMA and nvcc always does, so written
// as one both round the same on every machine.
template <class T>
FASTNN_HOST_DEVICE T uniform_value(const Philox4& r, double low, double high) {
  double u = sizeof(T) == 4 ? double(uniform_float(r)) : uniform_double(r);
  T v = static_cast<T>(fma(high - low, u, low));
  // Rounding to T can land on high; keep [low, high) with the largest value below high
  // rather than wrapping to low.
  T top = static_cast<T>(high);
  return v < top ? v : std::nextafter(top, static_cast<T>(low));
}
template <class T>
FASTNN_HOST_DEVICE T normal_value(const Philox4& r, double mean, double stddev) {
  return static_cast<T>(fma(stddev, normal_double(r), mean));
}

// Dropout keeps an element when its 32-bit Philox lane v >= dropout_threshold(rate): with
// probability 1 - rate (to within 2^-32), the same decision for every dtype. One Philox
// block gives the lanes of four consecutive elements.
FASTNN_HOST_DEVICE uint64_t dropout_threshold(double rate) {
  return static_cast<uint64_t>(ceil(rate * 4294967296.0));
}

}  // namespace fastnn::math
