#include "core/rng.h"

#include <map>
#include <utility>

#include "core/backend.h"

#include "math/random.h"

namespace fastnn {

namespace {
Tensor& cpu_generator() {
  static Tensor state = [] {
    Tensor t = Tensor::empty({2}, DType::Int64);  // allocation only: never recorded
    t.data<uint64_t>()[0] = kDefaultSeed;
    t.data<uint64_t>()[1] = 0;
    return t;
  }();
  return state;
}
// One generator per device besides the CPU's, made on first use (PyTorch keeps one per GPU
// too), each seeded by manual_seed: training on one device under a seed draws the numbers the
// CPU would.
std::map<int, Tensor>& device_generators() {
  static std::map<int, Tensor> generators;
  return generators;
}
void seed_device_generator(Tensor& t, uint64_t seed) {
  const uint64_t state[2] = {seed, 0};
  backend_of(t).copy_from_host(state, t);
}
}  // namespace

// Callers hold the GIL (or are single-threaded C++), as every draw is.
Tensor& generator_state(Device device) {
  if (device.kind == DeviceKind::CPU) return cpu_generator();
  auto [it, added] = device_generators().try_emplace(device.index);
  if (added) {
    it->second = Tensor::empty({2}, DType::Int64, device);  // allocation only: never recorded
    seed_device_generator(it->second, initial_seed());
  }
  return it->second;
}

void manual_seed(uint64_t seed) {
  uint64_t* s = cpu_generator().data<uint64_t>();
  s[0] = seed;
  s[1] = 0;
  for (auto& [index, t] : device_generators()) seed_device_generator(t, seed);
}

uint64_t initial_seed() {
  return cpu_generator().data<uint64_t>()[0];
}

void random_permutation(int64_t n, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  if (n < 2) return;
  uint64_t* state = cpu_generator().data<uint64_t>();
  uint64_t seed = state[0], offset = state[1];
  state[1] += static_cast<uint64_t>(n / 2 + 1);
  // Two swaps per Philox block: step k uses the 64 bits of words (0, 1) of block k/2 when k is
  // even, (2, 3) when odd.
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
