#pragma once
// Kernel families for the neural-network ops: convolution, pooling, normalisation, losses and
// embeddings. Same conventions as kernels/kernels.h; every tensor here is contiguous NCHW
// (or [rows, cols]) unless the family says otherwise, and 16-bit dtypes compute in float.
#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

// ---- convolution: x [N, C, H, W], weight [O, C / groups, KH, KW], out [N, O, HO, WO] ----
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
// out = conv(x, weight) (+ bias [O] when bias is non-null).
using Conv2dFn = void (*)(const TensorView& x, const TensorView& weight, const TensorView* bias,
                          const TensorView& out, const Conv2dParams& params);
// Writes whichever of grad_x, grad_weight, grad_bias is non-null.
using Conv2dBackwardFn = void (*)(const TensorView& x, const TensorView& weight,
                                  const TensorView& grad_out, const TensorView* grad_x,
                                  const TensorView* grad_weight, const TensorView* grad_bias,
                                  const Conv2dParams& params);

// ---- pooling: x [N, C, H, W], out [N, C, HO, WO] ----
struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg pooling: divide by the full window, padding included
};
// Max over each window; indices (out's shape) get the argmax: int64, as h * W + w within x's
// plane; or uint8, as i * kernel_w + j within the window (kernel_h * kernel_w <= 256), an eighth
// of the memory, where a backend takes them (CUDA; the CPU kernels take int64). Adaptive max
// pooling keeps int64 plane positions.
using MaxPool2dFn = void (*)(const TensorView& x, const TensorView& out, const TensorView& indices,
                             const Pool2dParams& params);
// grad_x (zeroed by the kernel) += grad_out scattered through indices. params: the forward's
// windows, or nullptr (adaptive pooling); where they cannot overlap (kernel <= stride) an input
// receives at most one gradient, and a backend may write grad_x in one pass, with no zeroing and
// no accumulator.
using MaxPool2dBackwardFn = void (*)(const TensorView& grad_out, const TensorView& indices,
                                     const TensorView& grad_x, const Pool2dParams* params);
using AvgPool2dFn = void (*)(const TensorView& x, const TensorView& out,
                             const Pool2dParams& params);
using AvgPool2dBackwardFn = void (*)(const TensorView& grad_out, const TensorView& grad_x,
                                     const Pool2dParams& params);
// Adaptive pooling: window i of n over length L is [floor(i L / n), ceil((i + 1) L / n)).
// indices is written for max (is_max) and ignored for average.
using AdaptivePool2dFn = void (*)(bool is_max, const TensorView& x, const TensorView& out,
                                  const TensorView* indices);
using AdaptiveAvgPool2dBackwardFn = void (*)(const TensorView& grad_out, const TensorView& grad_x);

// ---- normalisation ----
// Batch norm over x [N, C, *] (contiguous): per channel c, y = (x - mean) * invstd * w + b.
// Training: mean/invstd are computed from the batch and written to save_mean/save_invstd
// ([C]); eval: they are read from there (the front-end fills them from running stats).
// weight/bias ([C]) may be null. Statistics, weight and bias are float32 (float64 when x is
// float64): BatchNorm stays fp32 while its input may be fp16/bf16. batch_var ([C], may be null;
// training only) gets the unbiased batch variance for the running statistics, from the double
// sums (rebuilt from the rounded invstd it lost its bits when the variance is far below eps).
// relu: y is then relu of that, in the same pass (relu's rule on the rounded value: NaN passes).
using BatchNormFn = void (*)(bool training, const TensorView& x, const TensorView* weight,
                             const TensorView* bias, const TensorView& save_mean,
                             const TensorView& save_invstd, const TensorView* batch_var, double eps,
                             bool relu, const TensorView& y);
// relu: the forward fused relu; grad_y is then read as relu's backward would pass it on: 0
// where the forward's output was <= 0, grad_y elsewhere (NaN passes). The output is recomputed
// from x, the statistics, weight and bias (the forward's bits: the same arithmetic), so it need
// not stay alive for the backward.
using BatchNormBackwardFn = void (*)(bool training, const TensorView& x, const TensorView& grad_y,
                                     bool relu, const TensorView* weight, const TensorView* bias,
                                     const TensorView& save_mean, const TensorView& save_invstd,
                                     const TensorView* grad_x, const TensorView* grad_weight,
                                     const TensorView* grad_bias);
// The running statistics after a training batch, one pass over the C channels (all four views
// [C], contiguous, float32 or float64):
//   running_mean = running_mean * S(1 - momentum) + batch_mean * S(momentum)
//   running_var  = running_var * S(1 - momentum) + batch_var * S(momentum)
// every product and sum rounded to that dtype S, as the same tensor ops would round them: one
// launch where those take eight. batches_tracked (int64 [], may be null; nn::BatchNorm's
// num_batches_tracked) is incremented in the same launch.
using BatchNormRunningStatsFn = void (*)(const TensorView& running_mean,
                                         const TensorView& running_var,
                                         const TensorView& batch_mean, const TensorView& batch_var,
                                         double momentum, const TensorView* batches_tracked);
// Layer norm over the last `cols` elements of x [rows, cols]; weight/bias [cols] (x's dtype)
// may be null; save_mean/save_invstd [rows] are float32 (float64 when x is float64).
using LayerNormFn = void (*)(const TensorView& x, const TensorView* weight, const TensorView* bias,
                             double eps, const TensorView& save_mean, const TensorView& save_invstd,
                             const TensorView& y);
using LayerNormBackwardFn = void (*)(const TensorView& x, const TensorView& grad_y,
                                     const TensorView* weight, const TensorView& save_mean,
                                     const TensorView& save_invstd, const TensorView* grad_x,
                                     const TensorView* grad_weight, const TensorView* grad_bias);

// ---- losses and lookups ----
// NLL on log-probabilities logp [N, C] with int64 targets [N]: per-sample loss ([N], logp's
// dtype, 0 where target == ignore_index). Targets out of [0, C) are reported through `bad_target`
// (set to the first offending index, else -1) by the CPU; the CUDA column sets -1, gives such a
// row a NaN loss and reports it late, without a host synchronisation (kernels/cuda/
// target_check.h).
using NllLossFn = void (*)(const TensorView& logp, const TensorView& target, int64_t ignore_index,
                           const TensorView& loss, int64_t* bad_target);
// grad_logp [N, C] = -grad_loss[n] at (n, target[n]), 0 elsewhere.
using NllLossBackwardFn = void (*)(const TensorView& grad_loss, const TensorView& target,
                                   int64_t ignore_index, const TensorView& grad_logp);
// out [N, D] = weight[index[n]] for weight [V, D]; index int64 [N] (checked by the front-end on
// the CPU; on CUDA by the kernel, reported late naming `call`: the op and its operands, or null
// for embedding's own description).
using EmbeddingFn = void (*)(const TensorView& weight, const TensorView& index,
                             const TensorView& out, const char* call);
// grad_weight [V, D] (zeroed by the kernel) += grad_out rows at index.
using EmbeddingBackwardFn = void (*)(const TensorView& grad_out, const TensorView& index,
                                     const TensorView& grad_weight);

extern DispatchTable<Conv2dFn> conv2d;
extern DispatchTable<Conv2dBackwardFn> conv2d_backward;
extern DispatchTable<MaxPool2dFn> max_pool2d;
extern DispatchTable<MaxPool2dBackwardFn> max_pool2d_backward;
extern DispatchTable<AvgPool2dFn> avg_pool2d;
extern DispatchTable<AvgPool2dBackwardFn> avg_pool2d_backward;
extern DispatchTable<AdaptivePool2dFn> adaptive_pool2d;
extern DispatchTable<AdaptiveAvgPool2dBackwardFn> adaptive_avg_pool2d_backward;
extern DispatchTable<BatchNormFn> batch_norm;
extern DispatchTable<BatchNormBackwardFn> batch_norm_backward;
extern DispatchTable<BatchNormRunningStatsFn> batch_norm_running_stats;
extern DispatchTable<LayerNormFn> layer_norm;
extern DispatchTable<LayerNormBackwardFn> layer_norm_backward;
extern DispatchTable<NllLossFn> nll_loss;
extern DispatchTable<NllLossBackwardFn> nll_loss_backward;
extern DispatchTable<EmbeddingFn> embedding;
extern DispatchTable<EmbeddingBackwardFn> embedding_backward;

}  // namespace hg::kernels
