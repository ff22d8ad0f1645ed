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
    uint64_t current = generation_.load();
    for (int i = 0; i + 1 < n; ++i)
      workers_.emplace_back([this, i, current] { worker_loop(i + 1, current); });
  }

  // Runs job(t) for t in [0, size()), t == 0 on the calling thread, and returns when all
  // have finished.
  void run(FunctionRef<void(int)> job) {
    job_ = &job;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1);  // publishes job_ and pending_
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    job(0);
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      FASTNN_CPU_RELAX();
      if (spins > 4096) std::this_thread::yield();  // a worker was asleep or preempted
    }
    job_ = nullptr;
  }

  // After fork() only the forking thread exists in the child: forget the workers (their
  // std::thread objects cannot be joined there); the first parallel loop starts new ones.
  void forget_workers_after_fork() {
    respawn_ = size();
    new std::vector<std::thread>(std::move(workers_));  // leaked: never joined or destroyed
    workers_.clear();
    pending_.store(0);
    sleepers_.store(0);
    new (&mu_) std::mutex();
    new (&cv_) std::condition_variable();
  }

 private:
  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      uint64_t current = wait_for_job(seen);
      if (stop_.load()) return;
      seen = current;
      (*job_)(index);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  // Polls for a new generation (or stop), then sleeps on the condition variable. The
  // sleeper count and the generation are both sequentially consistent, so either run()
  // sees this thread as asleep and notifies it, or this thread sees the new generation.
  uint64_t wait_for_job(uint64_t seen) {
    if (spin_) {
      auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      for (int spins = 1;; ++spins) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        if (g != seen || stop_.load(std::memory_order_relaxed)) return g;
        FASTNN_CPU_RELAX();
        if (spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    sleepers_.fetch_add(1);
    cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    return generation_.load();
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
  const FunctionRef<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
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
  pool().run([&](int t) {
    int64_t begin = t * per, end = std::min(n, begin + per);
    if (t >= chunks || begin >= end) return;
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
