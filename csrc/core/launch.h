// Kernel launches: every op launches its kernels through FASTNN_LAUNCH, the one point where a
// capturing Plan (autograd/plan.h) sees them. Outside a capture a launch is a plain virtual
// call; inside one the kernel runs and is also kept, with copies of its arguments (tensors
// are handles, so the buffers are shared), to run again on every replay. A new kernel thus
// costs one declaration in Backend and one implementation per backend, nothing here.
#pragma once

#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core/backend.h"

namespace fastnn {

// What a capture records into: the Plan capturing on this thread.
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual void record(const char* kernel, std::function<void()> run) = 0;
  // A deferred permute made during this capture (ops::permute_deferred): its copy is
  // recorded wherever it runs, and the capture's end runs those still pending.
  void note_deferred(std::weak_ptr<Storage> storage) { deferred_.push_back(std::move(storage)); }

 protected:
  // At the end of a capture, for the copies still pending, so that every tensor the capture
  // made holds its replays' values: runs them, recorded; or (refresh_when_read: a plan that
  // replays its steps one by one) records a step that repeats the copy once a read has run
  // it. A module's last input kept for summary() is then never copied.
  void resolve_deferred(bool refresh_when_read);
  // After an abandoned capture: the pending copies will run unrecorded when read.
  void forget_deferred();

 private:
  std::vector<std::weak_ptr<Storage>> deferred_;
};

// The recorder of this thread, or null; CaptureSuspend swaps it out in a scope.
Recorder* active_recorder();
void set_active_recorder(Recorder* recorder);

// A kernel's tensor arguments are filled before it runs (Tensor::materialize), here on the
// launching thread rather than by whichever pool thread reads one first.
inline void materialize_argument(const Tensor& t) {
  if (t.defined()) t.materialize();
}
inline void materialize_argument(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) materialize_argument(t);
}
template <class T>
void materialize_argument(const T&) {}

template <class... Params, class... Args>
void launch(const char* name, Backend& backend, void (Backend::*kernel)(Params...),
            Args&&... args) {
  (materialize_argument(args), ...);
  Recorder* recorder = active_recorder();
  if (recorder == nullptr) {
    (backend.*kernel)(std::forward<Args>(args)...);
    return;
  }
  auto run = [&backend, kernel, saved = std::make_tuple(std::decay_t<Args>(args)...)]() mutable {
    std::apply([&](auto&... a) { (backend.*kernel)(a...); }, saved);
  };
  run();
  recorder->record(name, std::move(run));
}

}  // namespace fastnn

// FASTNN_LAUNCH(backend, gemm, false, false, m, n, k, 1.0, a, b, 0.0, c)
#define FASTNN_LAUNCH(backend, kernel, ...) \
  ::fastnn::launch(#kernel, backend, &::fastnn::Backend::kernel, __VA_ARGS__)
