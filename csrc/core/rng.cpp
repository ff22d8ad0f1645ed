#include "core/rng.h"

#include <mutex>
#include <utility>

#include "math/random.h"

namespace fastnn {
namespace {
struct GeneratorState {
  std::mutex mu;
  uint64_t seed = kDefaultSeed;
  uint64_t offset = 0;
};
GeneratorState& state() {
  static GeneratorState s;
  return s;
}
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().seed = seed;
  state().offset = 0;
}

uint64_t initial_seed() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().seed;
}

uint64_t reserve_random_offset(uint64_t count) {
  std::lock_guard<std::mutex> lock(state().mu);
  uint64_t first = state().offset;
  state().offset += count;
  return first;
}

void random_permutation(int64_t n, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  if (n < 2) return;
  uint64_t seed = initial_seed();
  // Two swaps per Philox block: step k uses the 64 bits of words (0, 1) of block k/2 when k is
  // even, (2, 3) when odd.
  uint64_t offset = reserve_random_offset(static_cast<uint64_t>(n / 2 + 1));
  math::Philox4 block{};
  for (int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
    if (k % 2 == 0) block = math::philox(seed, offset + static_cast<uint64_t>(k / 2));
    const uint32_t* w = block.v + 2 * (k % 2);
    uint64_t bits = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    // j uniform in [0, i]: the high word of bits * (i + 1) (bias below 2^-40 for any i here).
    auto j = static_cast<int64_t>((static_cast<unsigned __int128>(bits) * uint64_t(i + 1)) >> 64);
    std::swap(out[i], out[j]);
  }
}

}  // namespace fastnn
