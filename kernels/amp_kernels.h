#pragma once
// Kernel families of mixed-precision training: the multi-tensor gradient unscale with a found-inf
// flag, the dynamic loss-scale update, a multi-tensor cast, and fused SGD / AdamW / RMSprop /
// Adagrad steps. Same conventions as kernels/kernels.h. The loss scale, its inverse and the
// found-inf flag live in tensors on the kernels' device, so a CUDA training step can unscale,
// check, update and step with no host synchronisation. Every family has a CPU implementation that
// computes what amp/grad_scaler.cpp and the optimizers' CPU loops (optim/*.cpp) compute, bit for
// bit.
#include <cstdint>

#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

// ---- AMP ----
// For each i < count: outs[i] = float(grads[i]) * inv_scale (fp32 arithmetic, as the host's
// grad.to(float32) * (1 / scale); a float64 gradient into a float64 output in double), stored
// in outs[i]'s dtype: float32, or grads[i]'s own dtype when it is float32/float64 (outs[i] may
// then alias grads[i]). found_inf (float32 [1]) is set to 1 when any stored value is inf or NaN
// and is never cleared here. inv_scale: float32 [1].
// All views contiguous, on one device; one launch on CUDA however many tensors there are.
using UnscaleGradsFn = void (*)(const TensorView* grads, const TensorView* outs, int64_t count,
                                const TensorView& inv_scale, const TensorView& found_inf);

// For each i < count: outs[i] = ins[i] in outs[i]'s dtype, as Tensor::to converts (round to
// nearest even, NaN payloads kept). float32, float16 and bfloat16 only (a float64 source would
// round twice on CUDA); equal element counts; contiguous; one device. One launch on CUDA per 48
// tensors: autocast's weight casts made together (amp::cache_weight_casts) and their backward.
using CastTensorsFn = void (*)(const TensorView* ins, const TensorView* outs, int64_t count);
// The hg::Error both columns raise for a list cast_tensors does not take (kernels/amp_tables.cpp).
void check_cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count);

struct ScaleUpdateParams {
  double growth_factor = 2.0, backoff_factor = 0.5;
  int64_t growth_interval = 2000, hysteresis = 1;
  double min_scale = 0.0, max_scale = 0x1p127;
};
// Slots of the float64 [kScaleStateSize] state tensor of the scale update.
enum ScaleStateSlot : int64_t {
  kScaleSlot = 0,
  kGrowthTrackerSlot = 1,
  kOverflowStreakSlot = 2,
  kSkippedStepsSlot = 3,
  kScaleStateSize = 4
};
// GradScaler::update() on device memory: reads found_inf (float32 [1]) and the state, applies
// backoff (after `hysteresis` consecutive overflows) or growth (after `growth_interval` clean
// steps) exactly as the host does in double, counts a skipped step, writes inv_scale (float32
// [1]) = float(1 / scale) for the next unscale and scale (float32 [1]) = float(scale) for the next
// loss scaling (GradScaler::scale multiplies a float32 loss by it: no cast launch a step), and
// clears found_inf.
using ScaleUpdateFn = void (*)(const TensorView& state, const TensorView& found_inf,
                               const TensorView& inv_scale, const TensorView& scale,
                               const ScaleUpdateParams& params);

// ---- fused optimizer steps ----
// Each updates `weight` (the fp32 master, or the parameter itself: float32/float64/16-bit) in
// place from `grad` (float32/float16/bfloat16, or float64 for float64 weights) read as
// grad * factor. param_out, when given, receives the new weight rounded to its (16-bit) dtype
// in the same pass. State tensors have the compute dtype (float32, float64 for float64 weights).
// All views contiguous with weight's element count.
//
// The step's scalars that may live in memory on the kernels' device, read when the kernel runs
// (so a step replayed from a CUDA graph sees their current values); each is optional.
struct FusedStepInputs {
  const TensorView* inv_scale = nullptr;  // float32 [1]: the gradient factor, else grad_factor
  const TensorView* found_inf = nullptr;  // float32 [1]: non-zero skips the step (writes nothing)
  // float32 [1], Adam and Adagrad only: how many earlier steps of a device-gated run the device
  // applied; the update's step number is then params.step + *applied_steps
  // (optim/gated_step.cpp).
  const TensorView* applied_steps = nullptr;
  const TensorView* lr = nullptr;  // float64 [1]: the learning rate, else params.lr
  // float32 [1], fused_sgd and fused_rmsprop only: the call adds 1 - *found_inf to it (1 without
  // a flag), once, whether or not it skips: a device-gated run's counter of applied steps,
  // counted in the step's own launch instead of two more (optim/gated_step.cpp). Adam and
  // Adagrad read that counter, so they cannot.
  const TensorView* count_applied = nullptr;
};
struct FusedSgdParams {
  double lr = 0.0, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};
// One parameter of a fused SGD step: `momentum_buffer` and `param_out` are absent when their
// data is null; first_step: the momentum buffer starts as this step's direction.
struct FusedSgdTensor {
  TensorView weight, grad, momentum_buffer, param_out;
  bool first_step = false;
};
// Steps `count` parameters with the same options and inputs: on CUDA one launch per run of
// tensors with the same weight and gradient dtypes (at most 48 tensors each), so a model's
// whole SGD step is one launch, not one per parameter.
using FusedSgdFn = void (*)(const FusedSgdTensor* tensors, int64_t count,
                            const FusedStepInputs& inputs, double grad_factor,
                            const FusedSgdParams& params);

struct FusedAdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false;
  bool decoupled = true;  // AdamW (w *= 1 - lr * wd), else Adam's L2 term in the gradient
  int64_t step = 1;       // this update's step number (for the bias corrections)
};
// One parameter of a fused Adam step: `max_exp_avg_sq` (amsgrad) and `param_out` are absent
// when their data is null.
struct FusedAdamTensor {
  TensorView weight, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, param_out;
};
// Steps `count` parameters with the same options (step number included) and inputs: on CUDA
// one launch per run of tensors with the same weight and gradient dtypes (at most 48 each), as
// fused_sgd.
using FusedAdamFn = void (*)(const FusedAdamTensor* tensors, int64_t count,
                             const FusedStepInputs& inputs, double grad_factor,
                             const FusedAdamParams& params);

// RMSprop (optim/rmsprop.h) with the options of torch.optim.RMSprop; `centered` and `momentum > 0`
// are told by the tensors: grad_avg and momentum_buffer are given exactly then.
struct FusedRmspropParams {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0.0, momentum = 0.0;
};
// One parameter of a fused RMSprop step: `grad_avg` (centered), `momentum_buffer` (momentum > 0)
// and `param_out` are absent when their data is null.
struct FusedRmspropTensor {
  TensorView weight, grad, square_avg, grad_avg, momentum_buffer, param_out;
};
// Steps `count` parameters with the same options and inputs, as fused_sgd (one launch per run
// of equal weight and gradient dtypes, at most 48 tensors each, on CUDA).
using FusedRmspropFn = void (*)(const FusedRmspropTensor* tensors, int64_t count,
                                const FusedStepInputs& inputs, double grad_factor,
                                const FusedRmspropParams& params);

// Adagrad (optim/adagrad.h): the decayed lr is lr / (1 + (step - 1) * lr_decay) in double, with
// step as in fused_adam: params.step, plus *applied_steps in a device-gated run.
struct FusedAdagradParams {
  double lr = 1e-2, lr_decay = 0.0, weight_decay = 0.0, eps = 1e-10;
  int64_t step = 1;  // this update's step number
};
// One parameter of a fused Adagrad step: `param_out` is absent when its data is null.
struct FusedAdagradTensor {
  TensorView weight, grad, sum, param_out;
};
// Steps `count` parameters with the same options (step number included) and inputs, as
// fused_adam.
using FusedAdagradFn = void (*)(const FusedAdagradTensor* tensors, int64_t count,
                                const FusedStepInputs& inputs, double grad_factor,
                                const FusedAdagradParams& params);

extern DispatchTable<UnscaleGradsFn> unscale_grads;
extern DispatchTable<CastTensorsFn> cast_tensors;
extern DispatchTable<ScaleUpdateFn> scale_update;
extern DispatchTable<FusedSgdFn> fused_sgd;
extern DispatchTable<FusedAdamFn> fused_adam;
extern DispatchTable<FusedRmspropFn> fused_rmsprop;
extern DispatchTable<FusedAdagradFn> fused_adagrad;

}  // namespace hg::kernels
