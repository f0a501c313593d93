// Backward of the unary ops: grad_in = grad_out * f'(.), computed in float (double for fp64)
// from the saved input or output, rounded once on store.
#include <cmath>

#include "halfgrad/kernels/cpu/blocked_16bit.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {

template <typename T, typename F>
void backward_loop(const TensorView& saved, const TensorView& grad_out, const TensorView& grad_in,
                   F derivative) {
  using C = compute_t<T>;
  for_each<3>({&grad_in, &saved, &grad_out}, [derivative](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T)) {  // contiguous: vectorizes
      T* out = reinterpret_cast<T*>(p[0]);
      const T* v = reinterpret_cast<const T*>(p[1]);
      const T* g = reinterpret_cast<const T*>(p[2]);
      if constexpr (kIs16Bit<T>) {
        map_16bit(out, v, g, n, [derivative](float x, float gx) { return gx * derivative(x); });
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<T>(static_cast<C>(g[i]) * derivative(static_cast<C>(v[i])));
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const C v = static_cast<C>(*reinterpret_cast<const T*>(p[1] + i * s[1]));
      const C g = static_cast<C>(*reinterpret_cast<const T*>(p[2] + i * s[2]));
      *reinterpret_cast<T*>(p[0] + i * s[0]) = static_cast<T>(g * derivative(v));
    }
  });
}

// grad_in = pass(saved) ? grad_out : 0, as a select rather than a multiply: it vectorizes
// (random signs would mispredict a branch half the time) and, like PyTorch's
// threshold_backward, gives 0 where the gradient is blocked even if grad_out is inf/NaN.
template <typename T, typename P>
void select_loop(const TensorView& saved, const TensorView& grad_out, const TensorView& grad_in,
                 P pass) {
  using C = compute_t<T>;
  for_each<3>({&grad_in, &saved, &grad_out}, [pass](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T)) {
      T* __restrict out = reinterpret_cast<T*>(p[0]);
      const T* __restrict v = reinterpret_cast<const T*>(p[1]);
      const T* __restrict g = reinterpret_cast<const T*>(p[2]);
      if constexpr (kIs16Bit<T>) {
        map_16bit(out, v, g, n, [pass](float x, float gx) { return pass(x) ? gx : 0.0f; });
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<T>(pass(static_cast<C>(v[i])) ? static_cast<C>(g[i]) : C(0));
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const C v = static_cast<C>(*reinterpret_cast<const T*>(p[1] + i * s[1]));
      const C g = static_cast<C>(*reinterpret_cast<const T*>(p[2] + i * s[2]));
      *reinterpret_cast<T*>(p[0] + i * s[0]) = static_cast<T>(pass(v) ? g : C(0));
    }
  });
}

template <typename C>
C gelu_derivative(C x) {  // d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
  const C cdf = C(0.5) * (C(1) + std::erf(x * static_cast<C>(M_SQRT1_2)));
  const C pdf = std::exp(C(-0.5) * x * x) * static_cast<C>(0.3989422804014327);
  return cdf + x * pdf;
}

// PyTorch's gelu_backward with approximate = "tanh", its operations in its order
template <typename C>
C gelu_tanh_derivative(C x) {
  const C beta = static_cast<C>(M_SQRT2 * M_2_SQRTPI * 0.5), kappa = static_cast<C>(0.044715);
  const C x_sq = x * x;
  const C inner = beta * (x + kappa * (x_sq * x));
  const C tanh_inner = std::tanh(inner);
  const C left = C(0.5) * x, right = C(1) + tanh_inner;
  const C left_derivative = C(0.5) * right;
  const C right_derivative =
      left * (C(1) - tanh_inner * tanh_inner) * (beta * (C(1) + C(3) * kappa * x_sq));
  return left_derivative + right_derivative;
}

template <typename T>
void backward_typed(UnaryOp op, const TensorView& v, const TensorView& g, const TensorView& out,
                    const UnaryParams& p) {
  using C = compute_t<T>;
  const C a = static_cast<C>(p.a), b = static_cast<C>(p.b);
  switch (op) {
    case UnaryOp::Neg:
      return backward_loop<T>(v, g, out, [](C) { return C(-1); });
    case UnaryOp::Exp:
      return backward_loop<T>(v, g, out, [](C y) { return y; });
    case UnaryOp::Log:
      return backward_loop<T>(v, g, out, [](C x) { return C(1) / x; });
    case UnaryOp::Sqrt:
      return backward_loop<T>(v, g, out, [](C y) { return C(0.5) / y; });
    case UnaryOp::Rsqrt:
      return backward_loop<T>(v, g, out, [](C y) { return C(-0.5) * y * y * y; });
    case UnaryOp::Abs:
      return backward_loop<T>(v, g, out, [](C x) { return C((x > 0) - (x < 0)); });
    case UnaryOp::Sign:
      return backward_loop<T>(v, g, out, [](C) { return C(0); });
    case UnaryOp::Relu:
      return select_loop<T>(v, g, out, [](C x) { return !(x <= C(0)); });  // NaN passes
    case UnaryOp::Gelu:
      return backward_loop<T>(v, g, out, [](C x) { return gelu_derivative(x); });
    case UnaryOp::Sigmoid:
      return backward_loop<T>(v, g, out, [](C y) { return y * (C(1) - y); });
    case UnaryOp::Tanh:
      return backward_loop<T>(v, g, out, [](C y) { return C(1) - y * y; });
    case UnaryOp::Square:
      return backward_loop<T>(v, g, out, [](C x) { return C(2) * x; });
    case UnaryOp::Reciprocal:
      return backward_loop<T>(v, g, out, [](C y) { return -y * y; });
    case UnaryOp::Pow:
      return backward_loop<T>(v, g, out, [a](C x) {
        return a == C(0) ? C(0) : a * static_cast<C>(std::pow(x, a - C(1)));
      });
    case UnaryOp::Clamp:  // gradient passes where the input was inside [a, b]
      return select_loop<T>(v, g, out, [a, b](C x) { return x >= a && x <= b; });
    case UnaryOp::DivScalar:  // autograd divides the gradient by a instead (unary_ops.cpp)
      return backward_loop<T>(v, g, out, [a](C) { return C(1) / a; });
    case UnaryOp::ScalarDiv:  // d(a / x) = -a / x^2
      return backward_loop<T>(v, g, out, [a](C x) { return -a / (x * x); });
    case UnaryOp::Sin:
      return backward_loop<T>(v, g, out, [](C x) { return std::cos(x); });
    case UnaryOp::Cos:
      return backward_loop<T>(v, g, out, [](C x) { return -std::sin(x); });
    case UnaryOp::Log1p:
      return backward_loop<T>(v, g, out, [](C x) { return C(1) / (C(1) + x); });
    case UnaryOp::Expm1:
      return backward_loop<T>(v, g, out, [](C x) { return std::exp(x); });
    case UnaryOp::Floor:  // piecewise constant: autograd gives zeros without calling this
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Trunc:
      return backward_loop<T>(v, g, out, [](C) { return C(0); });
    case UnaryOp::Erf:  // 2 / sqrt(pi) exp(-x^2)
      return backward_loop<T>(v, g, out,
                              [](C x) { return static_cast<C>(M_2_SQRTPI) * std::exp(-(x * x)); });
    case UnaryOp::GeluTanh:
      return backward_loop<T>(v, g, out, [](C x) { return gelu_tanh_derivative(x); });
    case UnaryOp::Affine:
      return backward_loop<T>(v, g, out, [a](C) { return a; });
  }
}

}  // namespace

void unary_backward(UnaryOp op, const TensorView& saved, const TensorView& grad_out,
                    const TensorView& grad_in, const UnaryParams& params) {
  dispatch_floating(saved.dtype, "unary_backward",
                    [&]<typename T>() { backward_typed<T>(op, saved, grad_out, grad_in, params); });
}

}  // namespace hg::kernels::cpu
