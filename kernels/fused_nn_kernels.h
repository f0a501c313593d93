#pragma once
// Fused nn kernel families: dropout with its mask generated inside the kernel, softmax +
// cross-entropy in one pass each way, and the losses' mean over the counted targets. Same
// conventions as kernels/nn_kernels.h (contiguous views, 16-bit dtypes computed in float, fp64 in
// double).
#include <cstdint>

#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

// out = in * m, elementwise over contiguous views of one floating dtype, with
//   m = T(1 / (1 - p)) where u_i >= float(p), else 0,
// u_i the float32 uniform value i of the Philox stream (seed, offset) (core/philox.h: block
// offset + i / 4, word i % 4, (w >> 8) * 2^-24) -- exactly the mask of rand() + ge + a scalar
// multiply, and what a generator fill of in.numel() float32 values at (seed, offset) draws.
// The product is always taken, so inf/NaN inputs stay non-finite where dropped, as x * 0.
// The backward is the same call on the gradient with the same (seed, offset).
using DropoutFn = void (*)(const TensorView& in, double p, uint64_t seed, uint64_t offset,
                           const TensorView& out);

// Cross-entropy of logits [N, C] (contiguous, floating) with int64 targets [N], one row at a
// time with float (double for fp64) inside:
//   lse = max + log(sum exp(x - max)),
//   loss[n] = (1 - ls) * (lse - x[t]) + ls * (lse - mean(x))   (ls: label smoothing),
// 0 where t == ignore_index; loss [N] has the logits' dtype, or float32 for 16-bit logits:
// autocast's float32 policy without the cast (widening a 16-bit value is exact, so the losses
// and gradients are those of the cast logits, bit for bit). lse [N, 2] holds each row's
// log-sum-exp in two parts, (max, log(sum exp(x - max))), in the compute dtype (float32,
// float64 for fp64), kept for the backward: max + log_sum as one number would lose log_sum's
// bits to a large max. Targets outside [0, C) are
// reported through bad_target (the first offending row, else -1) by the CPU; the CUDA column
// reports them late, as nll_loss's (kernels/nn_kernels.h).
// mean and count: empty (no data), or the outputs of mean_over_targets(loss, target, ...) below,
// written by the same call with the same bits (on CUDA in the same launch: the last block to
// finish its rows takes the mean, so a mean-reduced loss is one kernel, not two).
using CrossEntropyFn = void (*)(const TensorView& logits, const TensorView& target,
                                int64_t ignore_index, double label_smoothing,
                                const TensorView& loss, const TensorView& lse,
                                const TensorView& mean, const TensorView& count,
                                int64_t* bad_target);
// grad_logits[n, c] = g[n] * (exp((x[n, c] - max[n]) - log_sum[n]) - (1 - ls) [c == t]
// - ls / C), and 0 in ignored rows, in the logits' dtype. g[n] = grad_loss[n] (grad_loss [N],
// the loss's dtype L) when count is empty (no data); otherwise grad_loss [1] is the gradient of
// the mean over the counted targets and every row gets its share g[n] = L(C(grad_loss[0]) /
// count[0]), rounded as mean_over_targets_backward rounds it: the two backward passes in one
// launch.
using CrossEntropyBackwardFn = void (*)(const TensorView& logits, const TensorView& target,
                                        const TensorView& lse, const TensorView& grad_loss,
                                        const TensorView& count, int64_t ignore_index,
                                        double label_smoothing, const TensorView& grad_logits);

// The mean reduction of cross_entropy and nll_loss: the per-sample losses values [N] (floating,
// 0 at ignored rows) averaged over the rows whose int64 target is not ignore_index. Writes
// count [1] (the compute dtype: float32, float64 for fp64) = that number of rows, and
// out [1] (values' dtype) = T(C(sum) / count), the sum over the counted rows accumulated in
// double and rounded once to C: what sum(values.to(C)) / count.to(C) gives, in one launch
// instead of six. No rows counted gives 0 / 0 = NaN, as PyTorch.
using MeanOverTargetsFn = void (*)(const TensorView& values, const TensorView& target,
                                   int64_t ignore_index, const TensorView& out,
                                   const TensorView& count);
// Its backward: grad_values[n] = T(C(grad_out[0]) / count[0]) for every n (the per-sample
// loss's own backward clears the ignored rows), the gradient of that division, broadcast.
using MeanOverTargetsBackwardFn = void (*)(const TensorView& grad_out, const TensorView& count,
                                           const TensorView& grad_values);

// The hg::Error both columns raise for a loss dtype cross_entropy does not take: the logits'
// own, or float32 for 16-bit logits (kernels/fused_nn_tables.cpp).
void check_loss_dtype(DType logits, DType loss, const char* op);
// For both columns' cross-entropy launchers, after check_loss_dtype: f.template operator()<L>()
// with L the loss's element type, the logits' T or float for 16-bit T (CPU or CUDA types alike).
template <typename T, typename F>
void with_loss_type(DType loss, const F& f) {
  if constexpr (sizeof(T) == 2) {
    if (loss == DType::Float32) return f.template operator()<float>();
  }
  f.template operator()<T>();
}

extern DispatchTable<DropoutFn> dropout;
extern DispatchTable<CrossEntropyFn> cross_entropy;
extern DispatchTable<CrossEntropyBackwardFn> cross_entropy_backward;
extern DispatchTable<MeanOverTargetsFn> mean_over_targets;
extern DispatchTable<MeanOverTargetsBackwardFn> mean_over_targets_backward;

}  // namespace hg::kernels
