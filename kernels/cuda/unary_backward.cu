// Backward of the unary ops: grad_in = grad_out * f'(saved), saved being x or y as
// kernels::backward_uses_output says; computed in float (double for fp64), rounded once.
// Relu and clamp select instead of multiplying (0 where blocked, even for an inf/NaN gradient),
// like the CPU (kernels/cpu/elementwise_backward.cpp), whose formulas these are.
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"

namespace hg::cuda {

namespace {

using kernels::UnaryOp;

template <typename C>
struct Derivative {
  UnaryOp op;
  C a, b;

  __device__ static C gelu(C x) {  // Phi(x) + x phi(x)
    const C cdf = C(0.5) * (C(1) + erf_(x * static_cast<C>(0.70710678118654752440)));
    const C pdf = exp_(mul_rn(C(-0.5), x) * x) * static_cast<C>(0.3989422804014327);
    return cdf + mul_rn(x, pdf);
  }

  __device__ static C gelu_tanh(C x) {  // PyTorch's gelu_backward (tanh), its operations in order
    const C beta = static_cast<C>(0.79788456080286535588), kappa = static_cast<C>(0.044715);
    const C x_sq = mul_rn(x, x);
    const C inner = mul_rn(beta, x + mul_rn(kappa, mul_rn(x_sq, x)));
    const C tanh_inner = tanh_(inner);
    const C left = mul_rn(C(0.5), x), right = C(1) + tanh_inner;
    const C left_derivative = mul_rn(C(0.5), right);
    const C right_derivative = mul_rn(mul_rn(left, C(1) - mul_rn(tanh_inner, tanh_inner)),
                                      mul_rn(beta, C(1) + mul_rn(mul_rn(C(3), kappa), x_sq)));
    return left_derivative + right_derivative;
  }

  // grad_in for one element from the saved value v and the incoming gradient g.
  __device__ C operator()(C v, C g) const {
    switch (op) {
      case UnaryOp::Relu:
        return !(v <= C(0)) ? g : C(0);  // NaN passes, as on the CPU
      case UnaryOp::Clamp:
        return (v >= a && v <= b) ? g : C(0);
      default:
        return g * slope(v);
    }
  }

  __device__ C slope(C v) const {
    switch (op) {
      case UnaryOp::Neg:
        return C(-1);
      case UnaryOp::Exp:
        return v;
      case UnaryOp::Log:
        return C(1) / v;
      case UnaryOp::Sqrt:
        return C(0.5) / v;
      case UnaryOp::Rsqrt:
        return C(-0.5) * v * v * v;
      case UnaryOp::Abs:
        return C((v > C(0)) - (v < C(0)));
      case UnaryOp::Sign:
        return C(0);
      case UnaryOp::Gelu:
        return gelu(v);
      case UnaryOp::Sigmoid:
        return v * (C(1) - v);
      case UnaryOp::Tanh:
        return C(1) - mul_rn(v, v);
      case UnaryOp::Square:
        return C(2) * v;
      case UnaryOp::Reciprocal:
        return -v * v;
      case UnaryOp::Pow:
        return a == C(0) ? C(0) : a * pow_(v, a - C(1));
      case UnaryOp::DivScalar:  // autograd divides the gradient by a instead (unary_ops.cpp)
        return C(1) / a;
      case UnaryOp::ScalarDiv:  // d(a / x) = -a / x^2
        return -a / mul_rn(v, v);
      case UnaryOp::Sin:
        return cos_(v);
      case UnaryOp::Cos:
        return -sin_(v);
      case UnaryOp::Log1p:
        return C(1) / (C(1) + v);
      case UnaryOp::Expm1:
        return exp_(v);
      case UnaryOp::Erf:  // 2 / sqrt(pi) exp(-x^2)
        return static_cast<C>(1.12837916709551257390) * exp_(-mul_rn(v, v));
      case UnaryOp::GeluTanh:
        return gelu_tanh(v);
      case UnaryOp::Affine:
        return a;
      default:
        return C(0);
    }
  }
};

template <typename T>
struct BackwardFn {
  Derivative<compute_t<T>> d;
  __device__ T operator()(T saved, T grad_out) const {
    return Scalar<T>::store(d(Scalar<T>::load(saved), Scalar<T>::load(grad_out)));
  }
};

}  // namespace

void unary_backward(UnaryOp op, const kernels::TensorView& saved,
                    const kernels::TensorView& grad_out, const kernels::TensorView& grad_in,
                    const kernels::UnaryParams& params) {
  dispatch_floating(saved.dtype, "unary_backward", [&]<typename T>() {
    using C = compute_t<T>;
    const BackwardFn<T> fn{{op, static_cast<C>(params.a), static_cast<C>(params.b)}};
    map<T, T, T>("unary_backward_kernel", fn, grad_in, {&saved, &grad_out});
  });
}

}  // namespace hg::cuda
