// The global seedable generator. Draws are counter-based (math/random.h): each draw takes
// the current (seed, offset) and advances offset by the number of values it used, so the
// same seed gives the same sequence of draws on every device and thread count.
//
// The state lives in a tensor that random kernels read and advance themselves, so a kernel
// recorded in a plan draws the next numbers on every replay: exactly those an eager step
// would draw at that point.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastnn {

// PyTorch's default seed, so a program that never seeds is still reproducible.
constexpr uint64_t kDefaultSeed = 67280421310721ull;

void manual_seed(uint64_t seed);
uint64_t initial_seed();
// The generator of `device` as the kernels see it: int64 {seed, offset}.
Tensor& generator_state(Device device = {});

// A uniformly random permutation of 0..n-1 into out[0..n) (Fisher-Yates on the global
// generator): the shuffle order of fit and DataLoader.
void random_permutation(int64_t n, int64_t* out);

}  // namespace fastnn
