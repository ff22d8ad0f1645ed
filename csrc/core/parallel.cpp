#include "core/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTNN_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FASTNN_CPU_RELAX() asm volatile("yield")
#else
#define FASTNN_CPU_RELAX() ((void)0)
#endif

namespace fastnn {
namespace {

// How long an idle worker keeps polling for the next job before it sleeps. A step's kernels
// follow each other within microseconds, and waking a sleeping thread costs 5-50 us on a
// virtual machine (longer than most of a small model's kernels), so workers stay awake
// between the kernels of a step and across the Python between steps; after a millisecond
// without work they give the core back.
constexpr auto kSpinTime = std::chrono::microseconds(1000);

// The pool that runs every parallel loop of the CPU backend, GEMMs included (OpenBLAS runs
// single-threaded inside it): one set of threads, so nothing else spins on a core the pool
// needs. Thread 0 is the caller.
class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return respawn_ > 0 ? respawn_ : static_cast<int>(workers_.size()) + 1; }

  // Starts the workers a forked child lost (see forget_workers_after_fork).
  void respawn_after_fork() {
    if (respawn_ > 0) resize(std::exchange(respawn_, 0));
  }

  void resize(int n) {
    respawn_ = 0;
    stop_workers();
    stop_.store(false);
    // Spinning threads beyond the core count would take cores from working ones.
    spin_ = n <= hardware_threads();
    uint64_t current = generation_of(ticket_.load());
    for (int i = 0; i + 1 < n; ++i)
      workers_.emplace_back([this, current] { worker_loop(current); });
  }

  // Runs job(c) for every chunk c in [0, chunks) and returns when all have finished. The
  // threads, the caller among them, claim chunks as they come: a worker the OS has not
  // scheduled yet (another process on its core) delays nothing, as the others take its
  // chunks, where a fixed chunk per thread would make the whole loop wait for it.
  void run(int chunks, FunctionRef<void(int)> job) {
    job_.store(&job, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint64_t generation = (ticket_.load() >> kGenerationShift) + 1;
    // Publishes job_ and done_ with the new generation, whose chunks are then claimable.
    ticket_.store(generation << kGenerationShift | static_cast<uint64_t>(chunks) << kChunksShift);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    run_claimed_chunks();
    for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
      FASTNN_CPU_RELAX();
      if (spins > 4096) std::this_thread::yield();  // a claimed chunk's thread was preempted
    }
  }
  // After fork() only the forking thread exists in the child: forget the workers (their
  // std::thread objects cannot be joined there); the first parallel loop starts new ones.
  void forget_workers_after_fork() {
    respawn_ = size();
    new std::vector<std::thread>(std::move(workers_));  // leaked: never joined or destroyed
    workers_.clear();
    sleepers_.store(0);
    new (&mu_) std::mutex();
    new (&cv_) std::condition_variable();
  }

 private:
  // The ticket: generation (which job), chunk count and next unclaimed chunk in one atomic
  // word, so a claim (a compare-exchange of the whole word) can only take a chunk of the job
  // it read. While a claimed chunk runs its job cannot finish, so job_ stays that job's.
  static constexpr int kChunksShift = 20, kGenerationShift = 40;
  static constexpr uint64_t kIndexMask = (uint64_t(1) << kChunksShift) - 1;

  static uint64_t generation_of(uint64_t ticket) { return ticket >> kGenerationShift; }

  // Claims and runs chunks of the current job until none is left.
  void run_claimed_chunks() {
    uint64_t ticket = ticket_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t next = ticket & kIndexMask, chunks = (ticket >> kChunksShift) & kIndexMask;
      if (next >= chunks) return;
      if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel))
        continue;  // another thread claimed first, or a new job began: ticket reloaded
      (*job_.load(std::memory_order_relaxed))(static_cast<int>(next));
      done_.fetch_add(1, std::memory_order_release);
      ticket = ticket_.load(std::memory_order_acquire);
    }
  }

  void worker_loop(uint64_t seen) {
    for (;;) {
      seen = wait_for_job(seen);
      if (stop_.load()) return;
      run_claimed_chunks();
    }
  }

  // Polls for a new generation (or stop), then sleeps on the condition variable. The
  // sleeper count and the generation are both sequentially consistent, so either run()
  // sees this thread as asleep and notifies it, or this thread sees the new generation.
  uint64_t wait_for_job(uint64_t seen) {
    if (spin_) {
      auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      for (int spins = 1;; ++spins) {
        uint64_t g = generation_of(ticket_.load(std::memory_order_acquire));
        if (g != seen || stop_.load(std::memory_order_relaxed)) return g;
        FASTNN_CPU_RELAX();
        if (spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    sleepers_.fetch_add(1);
    cv_.wait(lock, [&] { return stop_.load() || generation_of(ticket_.load()) != seen; });
    sleepers_.fetch_sub(1);
    return generation_of(ticket_.load());
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<const FunctionRef<void(int)>*> job_{nullptr};
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  bool spin_ = true;
  int respawn_ = 0;
};

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

ThreadPool& pool() {
  // Created on first use with one thread per core.
  static ThreadPool* p = [] {
    pthread_atfork(nullptr, nullptr, [] {
      // The child's copy of the pool mutex may be held by a thread that no longer exists.
      new (&pool_mutex()) std::mutex();
      pool().forget_workers_after_fork();
    });
    return new ThreadPool(hardware_threads());  // lives until exit: workers never join late
  }();
  return *p;
}

}  // namespace

int hardware_threads() {
  // The cores this process may run on (taskset, a container's cpuset), not the machine's:
  // a polling worker per machine core on two allowed cores would starve the working ones.
  // Asked once (microseconds a call).
  static const int cores = [] {
#ifdef __linux__
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
      return CPU_COUNT(&allowed);
#endif
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return cores;
}

int get_num_threads() {
  return pool().size();
}

void set_num_threads(int n) {
  if (n <= 0) n = hardware_threads();
  ThreadPool& p = pool();
  std::lock_guard<std::mutex> lock(pool_mutex());
  p.resize(n);
}

void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) {
    body(0, n);
    return;
  }
  // One parallel region at a time (the lock also keeps set_num_threads from resizing the
  // pool under us); a nested call (body calling parallel_for) runs inline.
  std::unique_lock<std::mutex> lock(pool_mutex(), std::try_to_lock);
  if (lock.owns_lock()) pool().respawn_after_fork();
  int64_t chunks = lock.owns_lock() ? std::min<int64_t>(pool().size(), (n + grain - 1) / grain) : 1;
  if (chunks <= 1) {
    body(0, n);
    return;
  }
  int64_t per = (n + chunks - 1) / chunks;
  std::exception_ptr error;
  std::mutex error_mu;
  pool().run(static_cast<int>(chunks), [&](int t) {
    int64_t begin = t * per, end = std::min(n, begin + per);
    if (begin >= end) return;
    try {
      body(begin, end);
    } catch (...) {  // rethrown on the calling thread once every chunk has finished
      std::lock_guard<std::mutex> guard(error_mu);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace fastnn
