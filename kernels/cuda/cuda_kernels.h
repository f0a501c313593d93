#pragma once
// The CUDA column of the dispatch tables in kernels/kernels.h (contracts there). Every entry
// queues work on current_stream() and returns without waiting; views hold device pointers.
// Plain host header: kernels/cuda/register.cpp includes it to fill the tables.
#include "halfgrad/kernels/kernels.h"

namespace hg::cuda {

void copy(const kernels::TensorView& src, const kernels::TensorView& out);
void fill(const kernels::TensorView& out, double value);
void unary(kernels::UnaryOp op, const kernels::TensorView& in, const kernels::TensorView& out,
           const kernels::UnaryParams& params);
void unary_backward(kernels::UnaryOp op, const kernels::TensorView& saved,
                    const kernels::TensorView& grad_out, const kernels::TensorView& grad_in,
                    const kernels::UnaryParams& params);
void binary(kernels::BinaryOp op, const kernels::TensorView& a, const kernels::TensorView& b,
            const kernels::TensorView& out);
void where(const kernels::TensorView& cond, const kernels::TensorView& a,
           const kernels::TensorView& b, const kernels::TensorView& out);
void reduce(kernels::ReduceOp op, const kernels::TensorView& in, const kernels::TensorView& out);
void arg_reduce(bool is_max, const kernels::TensorView& in, int dim,
                const kernels::TensorView* values, const kernels::TensorView& indices);
void argsort(const kernels::TensorView& in, const kernels::TensorView& out, bool descending);
void cumsum(const kernels::TensorView& in, const kernels::TensorView& out, bool reverse);
void gemm(const kernels::TensorView& a, const kernels::TensorView& b, const kernels::TensorView& c,
          bool accumulate);
void gemm_bias(const kernels::TensorView& a, const kernels::TensorView& b,
               const kernels::TensorView& bias, const kernels::TensorView& c);
void gemm_bias_grad(const kernels::TensorView& a, const kernels::TensorView& b,
                    const kernels::TensorView& c, const kernels::TensorView& bias_grad);
void softmax(bool log, const kernels::TensorView& in, const kernels::TensorView& out);
void softmax_backward(bool log, const kernels::TensorView& y, const kernels::TensorView& grad_out,
                      const kernels::TensorView& grad_in);

}  // namespace hg::cuda
