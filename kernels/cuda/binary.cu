// Binary ops with broadcasting (broadcast operands arrive with stride 0), comparisons to Bool,
// and where. Floating types compute in float (double for fp64); integer types in int64 and
// store back (uint8 wraps), like the CPU (kernels/cpu/elementwise.cpp).
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"
#include "halfgrad/kernels/integer_pow.h"

namespace hg::cuda {

namespace {

using kernels::BinaryOp;

template <typename C>
__device__ inline C power(C x, C y) {
  if constexpr (std::is_same_v<C, int64_t>) {
    return kernels::integer_pow(x, y);  // exact, as the CPU's
  } else {
    return pow_(x, y);
  }
}

// The op is a template parameter (see unary.cu): no dispatch inside the loop.
template <typename T, BinaryOp Op>
struct ArithmeticFn {  // T -> T
  __device__ T operator()(T a, T b) const {
    using C = compute_t<T>;
    const C x = Scalar<T>::load(a), y = Scalar<T>::load(b);
    C r;
    switch (Op) {
      case BinaryOp::Add:
        r = x + y;
        break;
      case BinaryOp::Sub:
        r = x - y;
        break;
      case BinaryOp::Mul:
        r = x * y;
        break;
      case BinaryOp::Div:
        r = x / y;
        break;
      case BinaryOp::Pow:
        r = power(x, y);
        break;
      case BinaryOp::Maximum:
        r = (x != x || x >= y) ? x : y;
        break;  // NaN propagates
      case BinaryOp::Minimum:
        r = (x != x || x <= y) ? x : y;
        break;
      default:
        r = C(0);
        break;
    }
    return Scalar<T>::store(r);
  }
};

template <typename T, BinaryOp Op>
struct CompareFn {  // T -> bool
  __device__ bool operator()(T a, T b) const {
    const compute_t<T> x = Scalar<T>::load(a), y = Scalar<T>::load(b);
    switch (Op) {
      case BinaryOp::Eq:
        return x == y;
      case BinaryOp::Ne:
        return x != y;
      case BinaryOp::Lt:
        return x < y;
      case BinaryOp::Le:
        return x <= y;
      case BinaryOp::Gt:
        return x > y;
      case BinaryOp::Ge:
        return x >= y;
      default:
        return false;
    }
  }
};

template <typename T>
struct SelectFn {
  __device__ T operator()(bool c, T a, T b) const { return c ? a : b; }
};

template <typename T, BinaryOp Op>
void launch(const kernels::TensorView& a, const kernels::TensorView& b,
            const kernels::TensorView& out) {
  if constexpr (kernels::is_comparison(Op)) {
    map<bool, T, T>("compare_kernel", CompareFn<T, Op>{}, out, {&a, &b});
  } else {
    map<T, T, T>("binary_kernel", ArithmeticFn<T, Op>{}, out, {&a, &b});
  }
}

template <typename T, int... I>
void launch_op(BinaryOp op, const kernels::TensorView& a, const kernels::TensorView& b,
               const kernels::TensorView& out, std::integer_sequence<int, I...>) {
  const bool found =
      ((op == static_cast<BinaryOp>(I) ? (launch<T, static_cast<BinaryOp>(I)>(a, b, out), true)
                                       : false) ||
       ...);
  if (!found) fail(__FILE__, __LINE__, "binary", "unknown op");
}

}  // namespace

void binary(BinaryOp op, const kernels::TensorView& a, const kernels::TensorView& b,
            const kernels::TensorView& out) {
  constexpr int kOps = static_cast<int>(BinaryOp::Ge) + 1;
  dispatch_all(a.dtype, [&]<typename T>() {
    launch_op<T>(op, a, b, out, std::make_integer_sequence<int, kOps>{});
  });
}

void where(const kernels::TensorView& cond, const kernels::TensorView& a,
           const kernels::TensorView& b, const kernels::TensorView& out) {
  dispatch_all(out.dtype, [&]<typename T>() {
    map<T, bool, T, T>("where_kernel", SelectFn<T>{}, out, {&cond, &a, &b});
  });
}

}  // namespace hg::cuda
