#pragma once
// The CPU column of the AMP and fused-optimizer families (contracts in kernels/amp_kernels.h).
#include "halfgrad/kernels/amp_kernels.h"

namespace hg::kernels::cpu {

void unscale_grads(const TensorView* grads, const TensorView* outs, int64_t count,
                   const TensorView& inv_scale, const TensorView& found_inf);
void cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count);
void scale_update(const TensorView& state, const TensorView& found_inf, const TensorView& inv_scale,
                  const TensorView& scale, const ScaleUpdateParams& params);
void fused_sgd(const FusedSgdTensor* tensors, int64_t count, const FusedStepInputs& inputs,
               double grad_factor, const FusedSgdParams& params);
void fused_adam(const FusedAdamTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                double grad_factor, const FusedAdamParams& params);
void fused_rmsprop(const FusedRmspropTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedRmspropParams& params);
void fused_adagrad(const FusedAdagradTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedAdagradParams& params);

}  // namespace hg::kernels::cpu
