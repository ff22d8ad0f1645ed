// A non-owning reference to a callable, for functions that call it before they return
// (parallel_for's body, the pool's job). std::function copies its callable, and a lambda
// with more than two captures then lands on the heap: an allocation per parallel loop, so
// per kernel of a replayed step.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace fastnn {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  // Refers to f, which must outlive this reference (a temporary lives to the end of the
  // full expression holding the call it is passed to).
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                              std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): passed like a std::function
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace fastnn
