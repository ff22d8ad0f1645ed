#include "core/rng.h"

#include <mutex>

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

}  // namespace fastnn
