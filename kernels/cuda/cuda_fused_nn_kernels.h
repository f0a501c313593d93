#pragma once
// The CUDA column of the fused nn families (contracts in kernels/fused_nn_kernels.h); registered
// by kernels/cuda/nn_register.cpp.
#include "halfgrad/kernels/fused_nn_kernels.h"

namespace hg::kernels::cuda {

void dropout(const TensorView& in, double p, uint64_t seed, uint64_t offset, const TensorView& out);
void cross_entropy(const TensorView& logits, const TensorView& target, int64_t ignore_index,
                   double label_smoothing, const TensorView& loss, const TensorView& lse,
                   const TensorView& mean, const TensorView& count, int64_t* bad_target);
void cross_entropy_backward(const TensorView& logits, const TensorView& target,
                            const TensorView& lse, const TensorView& grad_loss,
                            const TensorView& count, int64_t ignore_index, double label_smoothing,
                            const TensorView& grad_logits);
void mean_over_targets(const TensorView& values, const TensorView& target, int64_t ignore_index,
                       const TensorView& out, const TensorView& count);
void mean_over_targets_backward(const TensorView& grad_out, const TensorView& count,
                                const TensorView& grad_values);

}  // namespace hg::kernels::cuda
