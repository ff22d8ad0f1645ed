#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu/blas.h"

namespace fastnn {
namespace {

// A small pool of workers that sleep on a condition variable between jobs, so they take no
// cycles from OpenBLAS's threads while a GEMM runs.
class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    stop_workers();
    stop_ = false;
    // New workers wait for the next job, not one that ran before they existed.
    uint64_t current = generation_;
    for (int i = 0; i + 1 < n; ++i)
      workers_.emplace_back([this, i, current] { worker_loop(i + 1, current); });
  }

  // Runs job(t) for t in [0, size()), t == 0 on the calling thread.
  void run(const std::function<void(int)>& job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    cv_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

int default_threads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& pool() {
  static ThreadPool p(blas_get_num_threads());
  return p;
}

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

int get_num_threads() {
  return pool().size();
}

void set_num_threads(int n) {
  if (n <= 0) n = default_threads();
  blas_set_num_threads(n);
  std::lock_guard<std::mutex> lock(pool_mutex());
  pool().resize(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // One parallel region at a time (the lock also keeps set_num_threads from resizing the
  // pool under us); a nested call (body calling parallel_for) runs inline.
  std::unique_lock<std::mutex> lock(pool_mutex(), std::try_to_lock);
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
