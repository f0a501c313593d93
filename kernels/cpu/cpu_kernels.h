#pragma once
// The CPU column of the dispatch tables (see kernels/kernels.h for the contracts).
#include "halfgrad/kernels/kernels.h"

namespace hg::kernels::cpu {

void copy(const TensorView& src, const TensorView& out);
void fill(const TensorView& out, double value);
void unary(UnaryOp op, const TensorView& in, const TensorView& out, const UnaryParams& params);
void unary_backward(UnaryOp op, const TensorView& saved, const TensorView& grad_out,
                    const TensorView& grad_in, const UnaryParams& params);
void binary(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out);
void where(const TensorView& cond, const TensorView& a, const TensorView& b, const TensorView& out);
void reduce(ReduceOp op, const TensorView& in, const TensorView& out);
void arg_reduce(bool is_max, const TensorView& in, int dim, const TensorView* values,
                const TensorView& indices);
void argsort(const TensorView& in, const TensorView& out, bool descending);
void cumsum(const TensorView& in, const TensorView& out, bool reverse);
void softmax(bool log, const TensorView& in, const TensorView& out);
void softmax_backward(bool log, const TensorView& y, const TensorView& grad_out,
                      const TensorView& grad_in);
void gemm(const TensorView& a, const TensorView& b, const TensorView& c, bool accumulate);
void gemm_bias(const TensorView& a, const TensorView& b, const TensorView& bias,
               const TensorView& c);
void gemm_bias_grad(const TensorView& a, const TensorView& b, const TensorView& c,
                    const TensorView& bias_grad);

}  // namespace hg::kernels::cpu
