// The CPU column of the AMP and fused-optimizer families (kernels/amp_kernels.h): the same
// arithmetic as amp/grad_scaler.cpp and the optimizers' CPU loops (kernels/amp_math.h), in loops
// of the same shape as optim/cpu_update.h, so the results match bit for bit.
#include "halfgrad/kernels/cpu/amp_cpu.h"

#include <type_traits>

#include "halfgrad/kernels/amp_math.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {

namespace am = amp_math;

// Below this many elements a loop runs on one thread (as optim/cpu_update.h).
constexpr int64_t kUpdateGrain = 32768;

// In float, or in double for float64 gradients (amp_math.h's unscale says why).
template <typename In, typename Out>
bool unscale_loop(const In* in, Out* out, int64_t n, float inv_scale) {
  using C =
      std::conditional_t<std::is_same_v<In, double> && std::is_same_v<Out, double>, double, float>;
  bool bad = false;
#pragma omp parallel for schedule(static) reduction(|| : bad) if (n >= kUpdateGrain)
  for (int64_t i = 0; i < n; ++i) {
    const Out stored =
        static_cast<Out>(am::unscale(static_cast<C>(in[i]), static_cast<C>(inv_scale)));
    out[i] = stored;
    bad = bad || !am::is_finite(static_cast<C>(stored));  // as stored: fp64 1e300 into fp32 is inf
  }
  return bad;
}

// The gradient factor: *inv_scale when given, else grad_factor.
double step_factor(const FusedStepInputs& in, double grad_factor) {
  return in.inv_scale != nullptr ? static_cast<double>(*in.inv_scale->ptr<float>()) : grad_factor;
}
bool skipped(const FusedStepInputs& in) {
  return in.found_inf != nullptr && *in.found_inf->ptr<float>() != 0.0f;
}
// params with the learning rate read from in.lr when given.
template <typename Params>
Params with_lr(Params params, const FusedStepInputs& in) {
  if (in.lr != nullptr) params.lr = *in.lr->ptr<double>();
  return params;
}

// f(i, w, g) -> new w over every element, as optim/cpu_update.h's update_loop; param_out
// (any floating dtype) receives the stored new weight.
template <typename C, typename W, typename G, typename F>
void fused_loop(W* weight, const G* grad, int64_t n, C factor, const TensorView* param_out,
                const F& f) {
  auto body = [&]<typename P>(P* out) {
#pragma omp parallel for schedule(static) if (n >= kUpdateGrain)
    for (int64_t i = 0; i < n; ++i) {
      C w, g;
      if constexpr (std::is_same_v<C, double>) {
        w = static_cast<double>(weight[i]);
        g = static_cast<double>(grad[i]) * factor;
      } else {
        w = static_cast<C>(static_cast<float>(weight[i]));
        g = static_cast<C>(static_cast<float>(grad[i])) * factor;
      }
      weight[i] = static_cast<W>(f(i, w, g));
      if (out != nullptr) out[i] = static_cast<P>(static_cast<float>(weight[i]));
    }
  };
  if (param_out == nullptr) return body(static_cast<float*>(nullptr));
  dispatch_floating(param_out->dtype, "fused optimizer param_out",
                    [&]<typename P>() { body(param_out->ptr<P>()); });
}

// Dispatches weight and gradient dtypes: C is double for float64 weights, float otherwise.
template <typename F>
void for_weight_and_grad(const TensorView& weight, const TensorView& grad, const char* op,
                         const F& f) {
  dispatch_floating(weight.dtype, op, [&]<typename W>() {
    using C = compute_t<W>;
    if constexpr (std::is_same_v<C, double>) {
      HG_CHECK(grad.dtype == DType::Float64, op, ": float64 weights need float64 gradients");
      f.template operator()<C, W, double>();
    } else {
      dispatch_floating(grad.dtype, op, [&]<typename G>() {
        if constexpr (std::is_same_v<G, double>)
          HG_FAIL(op, ": float64 gradient for a ", dtype_name(weight.dtype), " weight");
        else
          f.template operator()<C, W, G>();
      });
    }
  });
}

// An optional tensor's data (a momentum buffer, amsgrad's maximum): null when it is absent.
template <typename C>
C* optional_ptr(const TensorView& v) {
  return v.data != nullptr ? v.ptr<C>() : nullptr;
}

}  // namespace

void unscale_grads(const TensorView* grads, const TensorView* outs, int64_t count,
                   const TensorView& inv_scale, const TensorView& found_inf) {
  const float inv = *inv_scale.ptr<float>();
  bool bad = false;
  for (int64_t t = 0; t < count; ++t) {
    const TensorView& in = grads[t];
    const TensorView& out = outs[t];
    dispatch_floating(in.dtype, "unscale_grads", [&]<typename In>() {
      dispatch_floating(out.dtype, "unscale_grads", [&]<typename Out>() {
        bad = unscale_loop(in.ptr<In>(), out.ptr<Out>(), in.numel(), inv) || bad;
      });
    });
  }
  if (bad) *found_inf.ptr<float>() = 1.0f;
}

void cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count) {
  check_cast_tensors(ins, outs, count);
  for (int64_t t = 0; t < count; ++t) copy(ins[t], outs[t]);  // Tensor::to's conversion
}

void scale_update(const TensorView& state, const TensorView& found_inf, const TensorView& inv_scale,
                  const TensorView& scale, const ScaleUpdateParams& params) {
  double* s = state.ptr<double>();
  am::update_scale(s, *found_inf.ptr<float>() != 0.0f, params);
  *inv_scale.ptr<float>() = static_cast<float>(1.0 / s[kScaleSlot]);
  *scale.ptr<float>() = static_cast<float>(s[kScaleSlot]);
  *found_inf.ptr<float>() = 0.0f;
}

// Adds the call's step to inputs.count_applied, if given: before the skip (a skipped step adds 0).
void count_step(const FusedStepInputs& inputs) {
  if (inputs.count_applied == nullptr) return;
  const float found = inputs.found_inf != nullptr ? *inputs.found_inf->ptr<float>() : 0.0f;
  float& applied = *inputs.count_applied->ptr<float>();
  applied = applied + (1.0f - found);  // as applied.add_(one - found_inf)
}

void fused_sgd(const FusedSgdTensor* tensors, int64_t count, const FusedStepInputs& inputs,
               double grad_factor, const FusedSgdParams& params) {
  count_step(inputs);
  if (skipped(inputs)) return;
  const double factor = step_factor(inputs, grad_factor);
  const FusedSgdParams p = with_lr(params, inputs);
  for (int64_t k = 0; k < count; ++k) {
    const FusedSgdTensor& t = tensors[k];
    for_weight_and_grad(t.weight, t.grad, "fused_sgd", [&]<typename C, typename W, typename G>() {
      const am::SgdScalars<C> s = am::sgd_scalars<C>(p, t.first_step);
      C* buf = optional_ptr<C>(t.momentum_buffer);
      fused_loop<C>(t.weight.ptr<W>(), t.grad.ptr<G>(), t.weight.numel(), static_cast<C>(factor),
                    t.param_out.data != nullptr ? &t.param_out : nullptr, [=](int64_t i, C w, C g) {
                      return am::sgd_element(w, g, buf != nullptr ? buf + i : nullptr, s);
                    });
    });
  }
}

void fused_adam(const FusedAdamTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                double grad_factor, const FusedAdamParams& params) {
  if (skipped(inputs)) return;
  const double factor = step_factor(inputs, grad_factor);
  double step = static_cast<double>(params.step);
  if (inputs.applied_steps != nullptr)
    step += static_cast<double>(*inputs.applied_steps->ptr<float>());
  const FusedAdamParams p = with_lr(params, inputs);
  for (int64_t k = 0; k < count; ++k) {
    const FusedAdamTensor& t = tensors[k];
    for_weight_and_grad(t.weight, t.grad, "fused_adam", [&]<typename C, typename W, typename G>() {
      const am::AdamScalars<C> s = am::adam_scalars<C>(p, step);
      C* m = t.exp_avg.ptr<C>();
      C* v = t.exp_avg_sq.ptr<C>();
      C* vmax = optional_ptr<C>(t.max_exp_avg_sq);
      fused_loop<C>(t.weight.ptr<W>(), t.grad.ptr<G>(), t.weight.numel(), static_cast<C>(factor),
                    t.param_out.data != nullptr ? &t.param_out : nullptr, [=](int64_t i, C w, C g) {
                      return am::adam_element(w, g, m + i, v + i,
                                              vmax != nullptr ? vmax + i : nullptr, s);
                    });
    });
  }
}

void fused_rmsprop(const FusedRmspropTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedRmspropParams& params) {
  count_step(inputs);
  if (skipped(inputs)) return;
  const double factor = step_factor(inputs, grad_factor);
  const FusedRmspropParams p = with_lr(params, inputs);
  for (int64_t k = 0; k < count; ++k) {
    const FusedRmspropTensor& t = tensors[k];
    for_weight_and_grad(
        t.weight, t.grad, "fused_rmsprop", [&]<typename C, typename W, typename G>() {
          const am::RmspropScalars<C> s = am::rmsprop_scalars<C>(p);
          C* sq = t.square_avg.ptr<C>();
          C* ga = optional_ptr<C>(t.grad_avg);
          C* buf = optional_ptr<C>(t.momentum_buffer);
          fused_loop<C>(
              t.weight.ptr<W>(), t.grad.ptr<G>(), t.weight.numel(), static_cast<C>(factor),
              t.param_out.data != nullptr ? &t.param_out : nullptr, [=](int64_t i, C w, C g) {
                return am::rmsprop_element(w, g, sq + i, ga != nullptr ? ga + i : nullptr,
                                           buf != nullptr ? buf + i : nullptr, s);
              });
        });
  }
}

void fused_adagrad(const FusedAdagradTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedAdagradParams& params) {
  if (skipped(inputs)) return;
  const double factor = step_factor(inputs, grad_factor);
  double step = static_cast<double>(params.step);
  if (inputs.applied_steps != nullptr)
    step += static_cast<double>(*inputs.applied_steps->ptr<float>());
  const FusedAdagradParams p = with_lr(params, inputs);
  for (int64_t k = 0; k < count; ++k) {
    const FusedAdagradTensor& t = tensors[k];
    for_weight_and_grad(
        t.weight, t.grad, "fused_adagrad", [&]<typename C, typename W, typename G>() {
          const am::AdagradScalars<C> s = am::adagrad_scalars<C>(p, step);
          C* sum = t.sum.ptr<C>();
          fused_loop<C>(t.weight.ptr<W>(), t.grad.ptr<G>(), t.weight.numel(),
                        static_cast<C>(factor),
                        t.param_out.data != nullptr ? &t.param_out : nullptr,
                        [=](int64_t i, C w, C g) { return am::adagrad_element(w, g, sum + i, s); });
        });
  }
}

}  // namespace hg::kernels::cpu
