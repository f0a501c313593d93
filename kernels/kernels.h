#pragma once
// The kernel families of halfgrad and their dispatch tables. Every family has one entry point
// per device; front-ends call e.g. `kernels::unary(device)(op, in, out, params)`.
//
// Conventions for every family:
//  - views carry element strides; broadcast inputs come with the output's sizes, stride 0;
//  - fp16/bf16 are computed in float and rounded (to nearest even) when stored, fp64 in double;
//  - outputs are written, never accumulated into, unless the family says otherwise.
#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

enum class UnaryOp {
  Neg,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Abs,
  Sign,
  Relu,
  Gelu,
  Sigmoid,
  Tanh,
  Square,
  Reciprocal,
  Pow,        // x^p, p = params.a
  Clamp,      // clamp(x, params.a, params.b)
  DivScalar,  // x / params.a: a true division, as PyTorch's CPU (not x * (1 / a))
  ScalarDiv,  // params.a / x: a true division, the scalar kept in the compute type
  Sin,
  Cos,
  Log1p,  // log(1 + x), accurate for small x
  Expm1,  // exp(x) - 1, accurate for small x; its backward reads x: exp(x), where PyTorch's
          // y + 1 cancels to 0 for x below about -17 in fp32
  Floor,
  Ceil,
  Round,  // to the nearest integer, ties to even (as torch.round)
  Trunc,
  Erf,
  GeluTanh,  // gelu's tanh approximation, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
  Affine     // params.a * x + params.b (last: the CUDA dispatch counts the ops up to it)
};
struct UnaryParams {
  double a = 0.0;
  double b = 0.0;
};
// Whether the backward of op is computed from its output y (else from its input x). Relu's mask
// reads the same from y as from x (y > 0 or NaN exactly where x is), and the output is what the
// next op saves anyway, as PyTorch's relu saves its result.
constexpr bool backward_uses_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt ||
         op == UnaryOp::Sigmoid || op == UnaryOp::Tanh || op == UnaryOp::Reciprocal ||
         op == UnaryOp::Relu;
}

enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };
constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

enum class ReduceOp { Sum, Mean, Max, Min, Prod };  // Prod: in sum's accumulator type

// out = cast(src): any dtypes, any layouts, same sizes (src may be broadcast).
using CopyFn = void (*)(const TensorView& src, const TensorView& out);
// out[...] = value
using FillFn = void (*)(const TensorView& out, double value);
// out = op(in); in and out have the same floating dtype.
using UnaryFn = void (*)(UnaryOp op, const TensorView& in, const TensorView& out,
                         const UnaryParams& params);
// grad_in = grad_out * op'(saved), saved being x or y as backward_uses_output(op) says.
using UnaryBackwardFn = void (*)(UnaryOp op, const TensorView& saved, const TensorView& grad_out,
                                 const TensorView& grad_in, const UnaryParams& params);
// out = a op b; a and b share a dtype; out has it too, or Bool for comparisons.
using BinaryFn = void (*)(BinaryOp op, const TensorView& a, const TensorView& b,
                          const TensorView& out);
// out = cond ? a : b; cond is Bool, a/b/out share a dtype.
using WhereFn = void (*)(const TensorView& cond, const TensorView& a, const TensorView& b,
                         const TensorView& out);
// Reduces `in` into `out`, where `out` is given with in's sizes and stride 0 in reduced dims.
// Sum of Bool/UInt8/Int64 gives Int64 (out's dtype); float dtypes accumulate in float/double.
using ReduceFn = void (*)(ReduceOp op, const TensorView& in, const TensorView& out);
// Max (or min) along `dim` with the index of the first extreme value; values may be null.
using ArgReduceFn = void (*)(bool is_max, const TensorView& in, int dim, const TensorView* values,
                             const TensorView& indices);
// The order of each row of a contiguous [rows, cols] view: out (int64, contiguous [rows, cols])
// gets the column indices sorted by value, stable (ties keep their order), NaN after every number
// (before every number when descending), as torch.sort(stable=True).
using ArgsortFn = void (*)(const TensorView& in, const TensorView& out, bool descending);
// Inclusive prefix sums along the middle dim of contiguous [outer, n, inner] views of one dtype
// (floating, or int64): out[o][i][k] = sum of in[o][j][k] over j <= i (j >= i when reverse).
// Floating sums run in double, each rounded once to float and then to the dtype, on every
// device alike; int64 in int64.
using CumsumFn = void (*)(const TensorView& in, const TensorView& out, bool reverse);
// c[i] = a[i] @ b[i] (+ c[i] when accumulate) for every batch index i: a [*, M, K],
// b [*, K, N], c [*, M, N] with the same batch dims; a and b may be strided or broadcast
// (stride 0 in batch dims); c is contiguous. Floating dtypes, all equal.
using GemmFn = void (*)(const TensorView& a, const TensorView& b, const TensorView& c,
                        bool accumulate);
// c = a @ b + bias, the bias [N] added to every row, rounded once: a [M, K], b [K, N] (strided
// as for gemm), c [M, N] contiguous, bias contiguous; floating dtypes, all equal. What linear
// computes: the CPU copies the bias into c and accumulates the product into it, the CUDA
// backend adds it in cuBLASLt's epilogue (one kernel instead of two) where cuBLASLt takes it.
using GemmBiasFn = void (*)(const TensorView& a, const TensorView& b, const TensorView& bias,
                            const TensorView& c);
// c = a @ b and bias_grad[i] = sum_k a[i][k]: linear's weight and bias gradients, a being
// grad_out^T [N, R] (any strides), b the input [R, K], c [N, K] contiguous, bias_grad [N]
// contiguous; floating dtypes, all equal. The sums are reduce's (the CPU calls it on a^T as
// sum(grad_out, {0}) does); the CUDA backend takes them from cuBLASLt's epilogue
// (CUBLASLT_EPILOGUE_BGRADB, one kernel instead of a GEMM and a reduction) where it can.
using GemmBiasGradFn = void (*)(const TensorView& a, const TensorView& b, const TensorView& c,
                                const TensorView& bias_grad);

// Softmax (or log-softmax) over the last dim of contiguous [rows, cols] views, in float.
using SoftmaxFn = void (*)(bool log, const TensorView& in, const TensorView& out);
// grad_in from the forward output y and grad_out (all contiguous [rows, cols]).
using SoftmaxBackwardFn = void (*)(bool log, const TensorView& y, const TensorView& grad_out,
                                   const TensorView& grad_in);

extern DispatchTable<CopyFn> copy;
extern DispatchTable<FillFn> fill;
extern DispatchTable<UnaryFn> unary;
extern DispatchTable<UnaryBackwardFn> unary_backward;
extern DispatchTable<BinaryFn> binary;
extern DispatchTable<WhereFn> where;
extern DispatchTable<ReduceFn> reduce;
extern DispatchTable<ArgReduceFn> arg_reduce;
extern DispatchTable<ArgsortFn> argsort;
extern DispatchTable<CumsumFn> cumsum;
extern DispatchTable<GemmFn> gemm;
extern DispatchTable<GemmBiasFn> gemm_bias;
extern DispatchTable<GemmBiasGradFn> gemm_bias_grad;
extern DispatchTable<SoftmaxFn> softmax;
extern DispatchTable<SoftmaxBackwardFn> softmax_backward;

}  // namespace hg::kernels
