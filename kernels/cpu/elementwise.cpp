// Unary, binary and where kernels. Each op is a small functor on the compute type (float for
// fp16/bf16/fp32, double for fp64); the loop is instantiated per op so the switch on the op
// happens once per call, not per element.
#include <cmath>
#include <type_traits>

#include "halfgrad/kernels/cpu/activation_math.h"
#include "halfgrad/kernels/cpu/blocked_16bit.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/integer_pow.h"

namespace hg::kernels::cpu {

namespace {

template <typename T, typename F>
void unary_loop(const TensorView& in, const TensorView& out, F f) {
  using C = compute_t<T>;
  for_each<2>({&out, &in}, [f](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      if constexpr (kIs16Bit<T>) {
        map_16bit(o, x, n, f);
        return;
      }
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(f(static_cast<C>(x[i])));
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const C x = static_cast<C>(*reinterpret_cast<const T*>(p[1] + i * s[1]));
      *reinterpret_cast<T*>(p[0] + i * s[0]) = static_cast<T>(f(x));
    }
  });
}

template <typename C>
C gelu(C x) {  // exact (erf) form, as torch.nn.GELU() by default
  return static_cast<C>(0.5) * x * (static_cast<C>(1) + std::erf(x * static_cast<C>(M_SQRT1_2)));
}

// PyTorch's tanh approximation of gelu, its operations in its order
template <typename C>
C gelu_tanh(C x) {
  const C beta = static_cast<C>(M_SQRT2 * M_2_SQRTPI * 0.5), kappa = static_cast<C>(0.044715);
  const C inner = beta * (x + kappa * (x * x * x));
  return static_cast<C>(0.5) * x * (static_cast<C>(1) + std::tanh(inner));
}

// Float (also fp16/bf16's compute type): evaluated in double and rounded once, with no calls or
// branches, so the loops vectorise (activation_math.h). Double: split by sign so exp never
// overflows.
template <typename C>
C sigmoid(C x) {
  if constexpr (std::is_same_v<C, float>) {
    return sigmoid_rounded(x);
  } else {
    if (x >= 0) return static_cast<C>(1) / (static_cast<C>(1) + std::exp(-x));
    const C e = std::exp(x);
    return e / (static_cast<C>(1) + e);
  }
}

template <typename C>
C tanh_of(C x) {
  if constexpr (std::is_same_v<C, float>)
    return tanh_rounded(x);
  else
    return std::tanh(x);
}

template <typename T>
void unary_typed(UnaryOp op, const TensorView& in, const TensorView& out, const UnaryParams& p) {
  using C = compute_t<T>;
  const C a = static_cast<C>(p.a), b = static_cast<C>(p.b);
  switch (op) {
    case UnaryOp::Neg:
      return unary_loop<T>(in, out, [](C x) { return -x; });
    case UnaryOp::Exp:
      return unary_loop<T>(in, out, [](C x) { return std::exp(x); });
    case UnaryOp::Log:
      return unary_loop<T>(in, out, [](C x) { return std::log(x); });
    case UnaryOp::Sqrt:
      return unary_loop<T>(in, out, [](C x) { return std::sqrt(x); });
    case UnaryOp::Rsqrt:
      return unary_loop<T>(in, out, [](C x) { return C(1) / std::sqrt(x); });
    case UnaryOp::Abs:
      return unary_loop<T>(in, out, [](C x) { return std::abs(x); });
    case UnaryOp::Sign:
      return unary_loop<T>(in, out, [](C x) { return C((x > 0) - (x < 0)); });
    case UnaryOp::Relu:
      // NaN passes through, as in PyTorch: a NaN must reach the GradScaler and anomaly mode
      return unary_loop<T>(in, out, [](C x) { return x > 0 || x != x ? x : C(0); });
    case UnaryOp::Gelu:
      return unary_loop<T>(in, out, [](C x) { return gelu(x); });
    case UnaryOp::Sigmoid:
      return unary_loop<T>(in, out, [](C x) { return sigmoid(x); });
    case UnaryOp::Tanh:
      return unary_loop<T>(in, out, [](C x) { return tanh_of(x); });
    case UnaryOp::Square:
      return unary_loop<T>(in, out, [](C x) { return x * x; });
    case UnaryOp::Reciprocal:
      return unary_loop<T>(in, out, [](C x) { return C(1) / x; });
    case UnaryOp::Pow:
      return unary_loop<T>(in, out, [a](C x) { return std::pow(x, a); });
    case UnaryOp::Clamp:
      // NaN passes through, as in PyTorch: comparisons with NaN are false.
      return unary_loop<T>(in, out, [a, b](C x) { return x < a ? a : (x > b ? b : x); });
    case UnaryOp::DivScalar:
      return unary_loop<T>(in, out, [a](C x) { return x / a; });
    case UnaryOp::ScalarDiv:
      return unary_loop<T>(in, out, [a](C x) { return a / x; });
    case UnaryOp::Sin:
      return unary_loop<T>(in, out, [](C x) { return std::sin(x); });
    case UnaryOp::Cos:
      return unary_loop<T>(in, out, [](C x) { return std::cos(x); });
    case UnaryOp::Log1p:
      return unary_loop<T>(in, out, [](C x) { return std::log1p(x); });
    case UnaryOp::Expm1:
      return unary_loop<T>(in, out, [](C x) { return std::expm1(x); });
    case UnaryOp::Floor:
      return unary_loop<T>(in, out, [](C x) { return std::floor(x); });
    case UnaryOp::Ceil:
      return unary_loop<T>(in, out, [](C x) { return std::ceil(x); });
    case UnaryOp::Round:  // the default rounding mode: to nearest, ties to even
      return unary_loop<T>(in, out, [](C x) { return std::nearbyint(x); });
    case UnaryOp::Trunc:
      return unary_loop<T>(in, out, [](C x) { return std::trunc(x); });
    case UnaryOp::Erf:
      return unary_loop<T>(in, out, [](C x) { return std::erf(x); });
    case UnaryOp::GeluTanh:
      return unary_loop<T>(in, out, [](C x) { return gelu_tanh(x); });
    case UnaryOp::Affine:
      return unary_loop<T>(in, out, [a, b](C x) { return a * x + b; });
  }
}

template <typename T, typename Out, typename F>
void binary_loop(const TensorView& a, const TensorView& b, const TensorView& out, F f) {
  using C = compute_t<T>;
  for_each<3>({&out, &a, &b}, [f](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(Out) && s[1] == sizeof(T) && s[2] == sizeof(T)) {
      Out* o = reinterpret_cast<Out*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const T* y = reinterpret_cast<const T*>(p[2]);
      if constexpr (kIs16Bit<T>) {
        map_16bit(o, x, y, n, f);
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        o[i] = static_cast<Out>(f(static_cast<C>(x[i]), static_cast<C>(y[i])));
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const C x = static_cast<C>(*reinterpret_cast<const T*>(p[1] + i * s[1]));
      const C y = static_cast<C>(*reinterpret_cast<const T*>(p[2] + i * s[2]));
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = static_cast<Out>(f(x, y));
    }
  });
}

template <typename T>
void binary_typed(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out) {
  using C = compute_t<T>;
  switch (op) {
    case BinaryOp::Add:
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return x + y; });
    case BinaryOp::Sub:
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return x - y; });
    case BinaryOp::Mul:
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return x * y; });
    case BinaryOp::Div:
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return x / y; });
    case BinaryOp::Pow:
      return binary_loop<T, T>(a, b, out, [](C x, C y) {
        if constexpr (std::is_integral_v<C>)
          return integer_pow(x, y);  // exact, as PyTorch's integer pow
        else
          return static_cast<C>(std::pow(x, y));
      });
    case BinaryOp::Maximum:  // NaN propagates, as torch.maximum
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return (x != x || x >= y) ? x : y; });
    case BinaryOp::Minimum:
      return binary_loop<T, T>(a, b, out, [](C x, C y) { return (x != x || x <= y) ? x : y; });
    case BinaryOp::Eq:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x == y; });
    case BinaryOp::Ne:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x != y; });
    case BinaryOp::Lt:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x < y; });
    case BinaryOp::Le:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x <= y; });
    case BinaryOp::Gt:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x > y; });
    case BinaryOp::Ge:
      return binary_loop<T, bool>(a, b, out, [](C x, C y) { return x >= y; });
  }
}

}  // namespace

void unary(UnaryOp op, const TensorView& in, const TensorView& out, const UnaryParams& params) {
  dispatch_floating(in.dtype, "unary", [&]<typename T>() { unary_typed<T>(op, in, out, params); });
}

void binary(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out) {
  // Integer types compute in int64 and store back (uint8 wraps, like PyTorch). The front-end
  // never sends an integer Div here: true division promotes to float first.
  dispatch_all(a.dtype, [&]<typename T>() { binary_typed<T>(op, a, b, out); });
}

void where(const TensorView& cond, const TensorView& a, const TensorView& b,
           const TensorView& out) {
  dispatch_all(out.dtype, [&]<typename T>() {
    for_each<4>({&out, &cond, &a, &b}, [](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            *reinterpret_cast<const T*>(p[c ? 2 : 3] + i * s[c ? 2 : 3]);
      }
    });
  });
}

}  // namespace hg::kernels::cpu
