#pragma once
// The CUDA column of the fused attention (contract in kernels/attention_kernels.h); registered by
// kernels/cuda/nn_register.cpp.
#include "halfgrad/kernels/attention_kernels.h"

namespace hg::kernels::cuda {

void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView* mask, bool causal, double scale, const TensorView& out,
               const TensorView& weights);
void attention_backward(const TensorView& q, const TensorView& k, const TensorView& v,
                        const TensorView& weights, double scale, const TensorView& grad_out,
                        const TensorView& grad_q, const TensorView& grad_k,
                        const TensorView& grad_v);

}  // namespace hg::kernels::cuda
