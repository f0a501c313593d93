// Unary ops: load, compute in float (double for fp64), round once on store. The formulas are
// the CPU's (kernels/cpu/elementwise.cpp) operation for operation; +, -, *, /, sqrt are
// correctly rounded on both, so only exp/log/erf/tanh/pow/log1p/expm1 can differ (by an ulp or
// so). One exception: 16-bit GELU takes the branch-free form of kernels/cuda/gelu_16bit.h, for
// speed.
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"
#include "halfgrad/kernels/cuda/gelu_16bit.h"

namespace hg::cuda {

namespace {

using kernels::UnaryOp;

template <typename C, UnaryOp Op>
struct UnaryMath {
  C a, b;

  __device__ static C sigmoid(C x) {  // split by sign so exp never overflows
    if (x >= C(0)) return C(1) / (C(1) + exp_(-x));
    const C e = exp_(x);
    return e / (C(1) + e);
  }
  __device__ static C gelu(C x) {  // exact (erf) form
    return mul_rn(C(0.5), x) * (C(1) + erf_(x * static_cast<C>(0.70710678118654752440)));
  }

  __device__ static C gelu_tanh(C x) {  // PyTorch's tanh approximation, its operations in order
    const C beta = static_cast<C>(0.79788456080286535588), kappa = static_cast<C>(0.044715);
    const C inner = mul_rn(beta, x + mul_rn(kappa, mul_rn(mul_rn(x, x), x)));
    return mul_rn(mul_rn(C(0.5), x), C(1) + tanh_(inner));
  }

  __device__ C operator()(C x) const {
    switch (Op) {  // a template constant: each instantiation keeps one case
      case UnaryOp::Neg:
        return -x;
      case UnaryOp::Exp:
        return exp_(x);
      case UnaryOp::Log:
        return log_(x);
      case UnaryOp::Sqrt:
        return sqrt_(x);
      case UnaryOp::Rsqrt:
        return C(1) / sqrt_(x);
      case UnaryOp::Abs:
        return abs_(x);
      case UnaryOp::Sign:
        return C((x > C(0)) - (x < C(0)));
      case UnaryOp::Relu:
        return x > C(0) || x != x ? x : C(0);  // NaN passes through, as on the CPU
      case UnaryOp::Gelu:
        return gelu(x);
      case UnaryOp::Sigmoid:
        return sigmoid(x);
      case UnaryOp::Tanh:
        return tanh_(x);
      case UnaryOp::Square:
        return x * x;
      case UnaryOp::Reciprocal:
        return C(1) / x;
      case UnaryOp::Pow:
        return pow_(x, a);
      case UnaryOp::Clamp:
        return x < a ? a : (x > b ? b : x);  // NaN passes through
      case UnaryOp::DivScalar:
        return x / a;  // IEEE division (nvcc's default -prec-div=true)
      case UnaryOp::ScalarDiv:
        return a / x;
      case UnaryOp::Sin:
        return sin_(x);
      case UnaryOp::Cos:
        return cos_(x);
      case UnaryOp::Log1p:
        return log1p_(x);
      case UnaryOp::Expm1:
        return expm1_(x);
      case UnaryOp::Floor:
        return floor_(x);
      case UnaryOp::Ceil:
        return ceil_(x);
      case UnaryOp::Round:
        return rint_(x);
      case UnaryOp::Trunc:
        return trunc_(x);
      case UnaryOp::Erf:
        return erf_(x);
      case UnaryOp::GeluTanh:
        return gelu_tanh(x);
      case UnaryOp::Affine:
        return mul_rn(a, x) + b;
    }
    return x;
  }
};

// The op is a template parameter: every (dtype, op) pair gets its own kernels, so the
// memory-bound loop carries no dispatch (16-bit relu has ~25 instructions per element to spend
// at full bandwidth on an H200).
template <typename T, UnaryOp Op>
struct UnaryFn {
  UnaryMath<compute_t<T>, Op> math;
  __device__ T operator()(T x) const {
    if constexpr (is_16bit_float<T> && Op == UnaryOp::Gelu)
      return Scalar<T>::store(gelu16::gelu(Scalar<T>::load(x)));
    return Scalar<T>::store(math(Scalar<T>::load(x)));
  }
};

template <typename T, UnaryOp Op>
void launch(const kernels::TensorView& in, const kernels::TensorView& out,
            const kernels::UnaryParams& p) {
  using C = compute_t<T>;
  map<T, T>("unary_kernel", UnaryFn<T, Op>{{static_cast<C>(p.a), static_cast<C>(p.b)}}, out, {&in});
}

// Calls launch<T, op> for the runtime op (one comparison per enumerator, folded).
template <typename T, int... I>
void launch_op(UnaryOp op, const kernels::TensorView& in, const kernels::TensorView& out,
               const kernels::UnaryParams& p, std::integer_sequence<int, I...>) {
  const bool found =
      ((op == static_cast<UnaryOp>(I) ? (launch<T, static_cast<UnaryOp>(I)>(in, out, p), true)
                                      : false) ||
       ...);
  if (!found) fail(__FILE__, __LINE__, "unary", "unknown op");
}

}  // namespace

void unary(UnaryOp op, const kernels::TensorView& in, const kernels::TensorView& out,
           const kernels::UnaryParams& params) {
  constexpr int kOps = static_cast<int>(UnaryOp::Affine) + 1;
  dispatch_floating(in.dtype, "unary", [&]<typename T>() {
    launch_op<T>(op, in, out, params, std::make_integer_sequence<int, kOps>{});
  });
}

}  // namespace hg::cuda
