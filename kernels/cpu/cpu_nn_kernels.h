#pragma once
// The CPU column of the nn dispatch tables (see kernels/nn_kernels.h for the contracts).
#include "halfgrad/kernels/nn_kernels.h"

namespace hg::kernels::cpu {

void conv2d(const TensorView& x, const TensorView& weight, const TensorView* bias,
            const TensorView& out, const Conv2dParams& params);
void conv2d_backward(const TensorView& x, const TensorView& weight, const TensorView& grad_out,
                     const TensorView* grad_x, const TensorView* grad_weight,
                     const TensorView* grad_bias, const Conv2dParams& params);
void max_pool2d(const TensorView& x, const TensorView& out, const TensorView& indices,
                const Pool2dParams& params);
void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices,
                         const TensorView& grad_x, const Pool2dParams* params);
void avg_pool2d(const TensorView& x, const TensorView& out, const Pool2dParams& params);
void avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x,
                         const Pool2dParams& params);
void adaptive_pool2d(bool is_max, const TensorView& x, const TensorView& out,
                     const TensorView* indices);
void adaptive_avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x);
void batch_norm(bool training, const TensorView& x, const TensorView* weight,
                const TensorView* bias, const TensorView& save_mean, const TensorView& save_invstd,
                const TensorView* batch_var, double eps, bool relu, const TensorView& y);
void batch_norm_backward(bool training, const TensorView& x, const TensorView& grad_y, bool relu,
                         const TensorView* weight, const TensorView* bias,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias);
void batch_norm_running_stats(const TensorView& running_mean, const TensorView& running_var,
                              const TensorView& batch_mean, const TensorView& batch_var,
                              double momentum, const TensorView* batches_tracked);
void layer_norm(const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                const TensorView& save_mean, const TensorView& save_invstd, const TensorView& y);
void layer_norm_backward(const TensorView& x, const TensorView& grad_y, const TensorView* weight,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias);
void nll_loss(const TensorView& logp, const TensorView& target, int64_t ignore_index,
              const TensorView& loss, int64_t* bad_target);
void nll_loss_backward(const TensorView& grad_loss, const TensorView& target, int64_t ignore_index,
                       const TensorView& grad_logp);
void embedding(const TensorView& weight, const TensorView& index, const TensorView& out,
               const char* call);
void embedding_backward(const TensorView& grad_out, const TensorView& index,
                        const TensorView& grad_weight);

}  // namespace hg::kernels::cpu
