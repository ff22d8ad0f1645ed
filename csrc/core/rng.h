// The global seedable generator. Draws are counter-based (math/random.h): each draw takes
// the current (seed, offset) and advances offset by the number of values it used, so the
// same seed gives the same sequence of draws on every device and thread count.
#pragma once

#include <cstdint>

namespace fastnn {

// PyTorch's default seed, so a program that never seeds is still reproducible.
constexpr uint64_t kDefaultSeed = 67280421310721ull;

void manual_seed(uint64_t seed);
uint64_t initial_seed();
// Reserves `count` counters and returns the first; the caller passes it with the seed.
uint64_t reserve_random_offset(uint64_t count);

// A uniformly random permutation of 0..n-1 into out[0..n) (Fisher-Yates on the global
// generator): the shuffle order of fit and DataLoader.
void random_permutation(int64_t n, int64_t* out);

}  // namespace fastnn
