// Errors raised by the core. The Python bindings translate each kind to the matching
// Python exception; messages name the op or layer, the argument, what was expected and
// what came.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fastnn {

enum class ErrorKind { Value, Type, Index, Memory, Runtime };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <class... Args>
[[noreturn]] void fail(ErrorKind kind, const Args&... args) {
  throw Error(kind, str(args...));
}

#define FASTNN_CHECK(cond, kind, ...)                                    \
  do {                                                                   \
    if (!(cond)) ::fastnn::fail(::fastnn::ErrorKind::kind, __VA_ARGS__); \
  } while (0)

}  // namespace fastnn
