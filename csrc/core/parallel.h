// CPU threading: one pool runs every parallel loop, GEMMs included (OpenBLAS itself stays
// single-threaded; cpu/gemm.cpp cuts a large GEMM into blocks for the pool). Idle workers
// poll for about a millisecond before they sleep, so a step's kernels reach them in well
// under a microsecond. Threads claim a loop's chunks as they arrive, so a thread the OS
// has not scheduled (another process busy on its core) delays nobody.
//
// Results never depend on the thread count. parallel_for gives each thread one contiguous
// range, so its split does depend on the count: loops that only write their own elements do
// not care, and every reduction instead sums fixed chunks of kReduceChunk items (boundaries
// that depend on the problem size only) and combines the partial results in chunk order.
#pragma once

#include <cstdint>

#include "core/function_ref.h"

namespace fastnn {

int get_num_threads();
// The cores this process may run on (its CPU affinity): the default thread count.
int hardware_threads();
// Sets the pool's thread count; n <= 0 means hardware_threads().
void set_num_threads(int n);

// Runs body(begin, end) over [0, n) in chunks of at least `grain` items; runs inline when
// the work is small or only one thread is configured.
void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> body);

// Fixed chunking for deterministic reductions: chunk c covers
// [c * chunk_size, min(n, (c + 1) * chunk_size)).
constexpr int64_t kReduceChunk = 4096;
inline int64_t num_chunks(int64_t n, int64_t chunk) {
  return (n + chunk - 1) / chunk;
}

}  // namespace fastnn
