// Per-element math of the tensor API's kernels (csrc/cpu/math_ops.cpp, cuda/math_ops.cu and
// binary_forward in both elementwise files): the binary ops beyond + - * /, comparisons,
// unary math and their derivatives, clamp. Templates on the op, so each loop compiles to
// one straight-line body. Conventions are torch's (see the Backend comments).
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/backend.h"
#include "math/common.h"

namespace fastnn::math {

using std::ceil;
using std::copysign;
using std::cos;
using std::expm1;
using std::fabs;
using std::floor;
using std::fmod;
using std::log10;
using std::log2;
using std::nearbyint;
using std::pow;
using std::sin;
using std::trunc;

template <class T>
constexpr bool is_float_v = std::is_floating_point_v<T>;
template <class T>
constexpr bool is_bool_v = std::is_same_v<T, bool>;

template <class T>
FASTNN_HOST_DEVICE bool is_nan(T x) {
  if constexpr (is_float_v<T>) {
    return x != x;
  } else {
    return false;
  }
}

// Whether v replaces the current extreme `best` of a max (or min) along an axis: strictly
// beyond it, or the first NaN (torch's argmax/max propagate NaN and keep its position).
template <class T>
FASTNN_HOST_DEVICE bool beats(bool is_max, T v, T best) {
  if (is_nan(best)) return false;
  if (is_nan(v)) return true;
  return is_max ? v > best : v < best;
}

// Integer arithmetic that wraps (as torch's does) instead of overflowing into undefined
// behaviour: through the unsigned type.
template <class T>
FASTNN_HOST_DEVICE T wrap_neg(T x) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(U(0) - static_cast<U>(x));
}

template <class T>
FASTNN_HOST_DEVICE T int_pow(T base, T exponent) {
  if (exponent < 0) {  // 1 / base^|e| truncated toward zero
    if (base == 1) return 1;
    if (base == -1) return (exponent & 1) ? T(-1) : T(1);
    return 0;
  }
  using U = std::make_unsigned_t<T>;
  U result = 1, b = static_cast<U>(base);
  for (T e = exponent; e > 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<T>(result);
}

// Python's (and torch's) floor division and modulo: the quotient rounds down, the remainder
// takes the divisor's sign. Integer division by zero gives 0 (torch raises; a kernel cannot).
template <class T>
FASTNN_HOST_DEVICE T floor_divide(T a, T b) {
  if constexpr (is_float_v<T>) {
    if (b == T(0)) return a / b;
    T mod = fmod(a, b);
    T div = (a - mod) / b;
    if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
    if (div == T(0)) return copysign(T(0), a / b);
    T result = floor(div);
    if (div - result > T(0.5)) result += T(1);
    return result;
  } else {
    if (b == 0) return 0;
    if (b == -1) return wrap_neg(a);
    T q = a / b, r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) --q;
    return q;
  }
}

template <class T>
FASTNN_HOST_DEVICE T remainder(T a, T b) {
  if constexpr (is_float_v<T>) {
    T r = fmod(a, b);
    if (r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
    return r;
  } else {
    if (b == 0 || b == -1) return 0;
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  }
}

// out = x op y. Ops a dtype does not take (the ops layer refuses them) give 0.
template <BinaryOp Op, class T>
FASTNN_HOST_DEVICE T binary(T x, T y) {
  if constexpr (Op == BinaryOp::Add) {
    if constexpr (is_bool_v<T>) return x || y;
    else return x + y;
  } else if constexpr (Op == BinaryOp::Sub) {
    if constexpr (is_bool_v<T>) return x != y;
    else if constexpr (is_float_v<T>) return x - y;
    else return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) -
                               static_cast<std::make_unsigned_t<T>>(y));
  } else if constexpr (Op == BinaryOp::Mul) {
    if constexpr (is_bool_v<T>) return x && y;
    else if constexpr (is_float_v<T>) return x * y;
    else return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) *
                               static_cast<std::make_unsigned_t<T>>(y));
  } else if constexpr (Op == BinaryOp::Div) {
    if constexpr (is_float_v<T>) return x / y;
    else return T(0);
  } else if constexpr (Op == BinaryOp::Pow) {
    if constexpr (is_float_v<T>) return pow(x, y);
    else if constexpr (is_bool_v<T>) return x || !y;
    else return int_pow(x, y);
  } else if constexpr (Op == BinaryOp::Maximum) {
    if (is_nan(x)) return x;
    if (is_nan(y)) return y;
    return x > y ? x : y;
  } else if constexpr (Op == BinaryOp::Minimum) {
    if (is_nan(x)) return x;
    if (is_nan(y)) return y;
    return x < y ? x : y;
  } else if constexpr (Op == BinaryOp::FloorDivide) {
    if constexpr (is_bool_v<T>) return T(0);
    else return floor_divide(x, y);
  } else if constexpr (Op == BinaryOp::Remainder) {
    if constexpr (is_bool_v<T>) return T(0);
    else return remainder(x, y);
  } else if constexpr (is_float_v<T>) {
    return T(0);  // bit ops: integers and bool only
  } else if constexpr (Op == BinaryOp::BitAnd) {
    return static_cast<T>(x & y);
  } else if constexpr (Op == BinaryOp::BitOr) {
    return static_cast<T>(x | y);
  } else {
    return static_cast<T>(x ^ y);
  }
}

template <CompareOp Op, class T>
FASTNN_HOST_DEVICE bool compare(T x, T y) {
  if constexpr (Op == CompareOp::Eq) return x == y;
  else if constexpr (Op == CompareOp::Ne) return x != y;
  else if constexpr (Op == CompareOp::Lt) return x < y;
  else if constexpr (Op == CompareOp::Le) return x <= y;
  else if constexpr (Op == CompareOp::Gt) return x > y;
  else return x >= y;
}

template <class T>
FASTNN_HOST_DEVICE T sign_of(T x) {
  if constexpr (is_bool_v<T>) {
    return x;
  } else {
    if (is_nan(x)) return T(0);  // torch.sign(nan) is 0
    return static_cast<T>((T(0) < x) - (x < T(0)));
  }
}

// out = op(x). Float-only ops on integers give 0 (the ops layer refuses them).
template <UnaryOp Op, class T>
FASTNN_HOST_DEVICE T unary(T x) {
  if constexpr (Op == UnaryOp::Neg) {
    if constexpr (is_float_v<T>) return -x;
    else if constexpr (is_bool_v<T>) return x;
    else return wrap_neg(x);
  } else if constexpr (Op == UnaryOp::Abs) {
    if constexpr (is_float_v<T>) return fabs(x);
    else if constexpr (is_bool_v<T>) return x;
    else return x < 0 ? wrap_neg(x) : x;
  } else if constexpr (Op == UnaryOp::Sign) {
    return sign_of(x);
  } else if constexpr (Op == UnaryOp::BitNot) {
    if constexpr (is_bool_v<T>) return !x;
    else if constexpr (is_float_v<T>) return T(0);
    else return static_cast<T>(~x);
  } else if constexpr (!is_float_v<T>) {
    // Roundings leave integers as they are; the rest are float-only.
    if constexpr (Op == UnaryOp::Floor || Op == UnaryOp::Ceil || Op == UnaryOp::Round ||
                  Op == UnaryOp::Trunc)
      return x;
    else return T(0);
  } else if constexpr (Op == UnaryOp::Floor) {
    return floor(x);
  } else if constexpr (Op == UnaryOp::Ceil) {
    return ceil(x);
  } else if constexpr (Op == UnaryOp::Round) {
    return nearbyint(x);  // halves to even, as torch.round
  } else if constexpr (Op == UnaryOp::Trunc) {
    return trunc(x);
  } else if constexpr (Op == UnaryOp::Exp) {
    return exp(x);
  } else if constexpr (Op == UnaryOp::Log) {
    return log(x);
  } else if constexpr (Op == UnaryOp::Log2) {
    return log2(x);
  } else if constexpr (Op == UnaryOp::Log10) {
    return log10(x);
  } else if constexpr (Op == UnaryOp::Log1p) {
    return log1p(x);
  } else if constexpr (Op == UnaryOp::Expm1) {
    return expm1(x);
  } else if constexpr (Op == UnaryOp::Sqrt) {
    return sqrt(x);
  } else if constexpr (Op == UnaryOp::Rsqrt) {
    return T(1) / sqrt(x);
  } else if constexpr (Op == UnaryOp::Reciprocal) {
    return T(1) / x;
  } else if constexpr (Op == UnaryOp::Sin) {
    return sin(x);
  } else if constexpr (Op == UnaryOp::Cos) {
    return cos(x);
  } else {
    return x * x;  // Square
  }
}

// gy * op'(x), y = op(x); float types only.
template <UnaryOp Op, class T>
FASTNN_HOST_DEVICE T unary_grad(T x, T y, T g) {
  if constexpr (Op == UnaryOp::Neg) return -g;
  else if constexpr (Op == UnaryOp::Abs) return g * sign_of(x);
  else if constexpr (Op == UnaryOp::Exp) return g * y;
  else if constexpr (Op == UnaryOp::Log) return g / x;
  else if constexpr (Op == UnaryOp::Log2) return g / (x * T(0.693147180559945309417232121458));
  else if constexpr (Op == UnaryOp::Log10) return g / (x * T(2.30258509299404568401799145468));
  else if constexpr (Op == UnaryOp::Log1p) return g / (x + T(1));
  else if constexpr (Op == UnaryOp::Expm1) return g * (y + T(1));
  else if constexpr (Op == UnaryOp::Sqrt) return g / (T(2) * y);
  else if constexpr (Op == UnaryOp::Rsqrt) return T(-0.5) * g * y * y * y;
  else if constexpr (Op == UnaryOp::Reciprocal) return -g * y * y;
  else if constexpr (Op == UnaryOp::Sin) return g * cos(x);
  else if constexpr (Op == UnaryOp::Cos) return -g * sin(x);
  else if constexpr (Op == UnaryOp::Square) return T(2) * g * x;
  else return T(0);  // Sign, roundings, BitNot: piecewise constant
}

// Pow's partial derivatives with torch's masks (see Backend::binary_backward).
template <class T>
FASTNN_HOST_DEVICE T pow_grad_base(T a, T b, T g) {
  return b == T(0) ? T(0) : g * b * pow(a, b - T(1));
}
template <class T>
FASTNN_HOST_DEVICE T pow_grad_exponent(T a, T b, T out, T g) {
  return (a == T(0) && b >= T(0)) ? T(0) : g * out * log(a);
}
// Maximum (is_max) / Minimum: the gradient of the first operand (swap a and b for the
// second's): all of g where it is the extreme, half on a tie.
template <class T>
FASTNN_HOST_DEVICE T extreme_grad(bool is_max, T a, T b, T g) {
  if (a == b) return g / T(2);
  return (is_max ? a < b : a > b) ? T(0) : g;
}

template <class T>
FASTNN_HOST_DEVICE T clamp(T x, bool has_low, T low, bool has_high, T high) {
  if (is_nan(x)) return x;
  if (has_low && x < low) x = low;
  if (has_high && x > high) x = high;
  return x;
}

}  // namespace fastnn::math
