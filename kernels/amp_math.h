#pragma once
// The per-element arithmetic of the AMP and fused-optimizer families (kernels/amp_kernels.h),
// shared by the CPU implementation (kernels/cpu/amp.cpp) and the CUDA kernels
// (kernels/cuda/multi_tensor.cu, kernels/cuda/fused_optim.cu, fused_optim_extra.cu). The
// expressions are those of amp/grad_scaler.cpp and the CPU loops of optim/sgd.cpp and adam.cpp,
// operation for operation (the loops of optim/rmsprop.cpp and adagrad.cpp call the elements
// below), so the CPU family reproduces the optimizers bit for bit (CUDA too: no contraction,
// -fmad=false, and IEEE division and sqrt).
// HG_HD: compiled for host and device.
#include <math.h>

#include <cmath>
#include <cstdint>

#include "halfgrad/core/half.h"
#include "halfgrad/kernels/amp_kernels.h"

namespace hg::kernels::amp_math {

HG_HD inline float sqrt_c(float x) { return ::sqrtf(x); }
HG_HD inline double sqrt_c(double x) { return ::sqrt(x); }
HG_HD inline bool is_nan(float x) { return x != x; }
HG_HD inline bool is_nan(double x) { return x != x; }
HG_HD inline bool is_finite(float x) { return x - x == 0.0f; }  // false for inf and NaN
HG_HD inline bool is_finite(double x) { return x - x == 0.0; }

// a * b rounded on its own, as the host computes it: nvcc would fuse it into a following add.
HG_HD inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// The host unscale: grad.to(float32) * inv_scale is the Affine kernel a * x + 0 in float.
HG_HD inline float unscale(float g, float inv_scale) {
#if defined(__CUDA_ARCH__)
  // a NaN comes back quiet with its sign and payload, as x86's mulss returns it (the GPU's
  // multiply would return its one canonical NaN)
  if (g != g) return __int_as_float(__float_as_int(g) | 0x00400000);
  return __fmul_rn(inv_scale, g) + 0.0f;  // no fused multiply-add: -0 becomes +0 as on the host
#else
  return inv_scale * g + 0.0f;
#endif
}

// float64 gradients stay in double (PyTorch's opmath for double): in float, 1e300 / scale would
// be inf and skip a step whose gradients are all finite, and 1e-50 would flush to zero.
HG_HD inline double unscale(double g, double inv_scale) {
#if defined(__CUDA_ARCH__)
  if (g != g) return __longlong_as_double(__double_as_longlong(g) | 0x0008000000000000LL);
  return __dmul_rn(inv_scale, g) + 0.0;
#else
  return inv_scale * g + 0.0;
#endif
}

// GradScaler::update() in double, on the state slots of kernels::ScaleStateSlot.
HG_HD inline void update_scale(double* state, bool found_inf, const ScaleUpdateParams& p) {
  double& scale = state[kScaleSlot];
  double& growth_tracker = state[kGrowthTrackerSlot];
  double& overflow_streak = state[kOverflowStreakSlot];
  if (found_inf) {
    state[kSkippedStepsSlot] += 1.0;
    growth_tracker = 0.0;
    overflow_streak += 1.0;
    if (overflow_streak >= static_cast<double>(p.hysteresis)) {
      const double backed_off = scale * p.backoff_factor;
      scale = p.min_scale < backed_off ? backed_off : p.min_scale;  // std::max(min, x)
      overflow_streak = 0.0;
    }
  } else {
    overflow_streak = 0.0;
    growth_tracker += 1.0;
    if (growth_tracker == static_cast<double>(p.growth_interval)) {
      const double grown = scale * p.growth_factor;
      scale = grown < p.max_scale ? grown : p.max_scale;  // std::min(max, x)
      growth_tracker = 0.0;
    }
  }
}

// The constants of one SGD step in the compute type C (as optim/sgd.cpp's sgd_loop).
template <typename C>
struct SgdScalars {
  C neg_lr, wd, momentum, keep;
  bool decay, nesterov, first;
};
template <typename C>
HG_HD inline SgdScalars<C> sgd_scalars(const FusedSgdParams& h, bool first_step) {
  return {static_cast<C>(-h.lr),
          static_cast<C>(h.weight_decay),
          static_cast<C>(h.momentum),
          static_cast<C>(1.0 - h.dampening),
          h.weight_decay != 0.0,
          h.nesterov,
          first_step};
}
// New weight from w and g (already times the factor); buf (may be null) is updated.
template <typename C>
HG_HD inline C sgd_element(C w, C g, C* buf, const SgdScalars<C>& s) {
  C d = s.decay ? g + s.wd * w : g;
  if (buf != nullptr) {
    const C b = s.first ? d : s.momentum * *buf + s.keep * d;
    *buf = b;
    d = s.nesterov ? d + s.momentum * b : b;
  }
  return w + s.neg_lr * d;
}

// The constants of one Adam/AdamW step in C (as optim/adam.cpp's adam_loop).
template <typename C>
struct AdamScalars {
  C neg_step_size, bc2_sqrt, beta1, keep1, beta2, keep2, eps, wd, shrink;
  bool decoupled, coupled;
};
// step: h.step, or that plus the device's applied count (FusedAdamFn's applied_steps), which is why
// this also compiles for the device (::pow is std::pow for doubles on the host).
template <typename C>
HG_HD inline AdamScalars<C> adam_scalars(const FusedAdamParams& h, double step) {
  const double bias_correction1 = 1.0 - ::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - ::pow(h.beta2, step);
  return {static_cast<C>(-(h.lr / bias_correction1)),
          static_cast<C>(::sqrt(bias_correction2)),
          static_cast<C>(h.beta1),
          static_cast<C>(1.0 - h.beta1),
          static_cast<C>(h.beta2),
          static_cast<C>(1.0 - h.beta2),
          static_cast<C>(h.eps),
          static_cast<C>(h.weight_decay),
          static_cast<C>(1.0 - mul_rn(h.lr, h.weight_decay)),
          h.decoupled,
          !h.decoupled && h.weight_decay != 0.0};
}
template <typename C>
inline AdamScalars<C> adam_scalars(const FusedAdamParams& h) {
  return adam_scalars<C>(h, static_cast<double>(h.step));
}
template <typename C>
HG_HD inline C adam_element(C w, C g, C* m, C* v, C* vmax, const AdamScalars<C>& s) {
  if (s.decoupled) w = w * s.shrink;
  if (s.coupled) g = g + s.wd * w;
  const C mi = s.beta1 * *m + s.keep1 * g;
  const C vi = s.beta2 * *v + s.keep2 * g * g;
  *m = mi;
  *v = vi;
  C vx = vi;
  if (vmax != nullptr) {  // torch.maximum: NaN wins
    vx = (is_nan(*vmax) || *vmax > vi) ? *vmax : vi;
    *vmax = vx;
  }
  const C denom = sqrt_c(vx) / s.bc2_sqrt + s.eps;
  return w + s.neg_step_size * (mi / denom);
}

// The constants of one RMSprop step in C (as optim/rmsprop.cpp's rmsprop_loop).
template <typename C>
struct RmspropScalars {
  C alpha, keep, eps, wd, momentum, neg_lr;
  bool decay;
};
template <typename C>
HG_HD inline RmspropScalars<C> rmsprop_scalars(const FusedRmspropParams& h) {
  return {static_cast<C>(h.alpha),        static_cast<C>(1.0 - h.alpha), static_cast<C>(h.eps),
          static_cast<C>(h.weight_decay), static_cast<C>(h.momentum),    static_cast<C>(-h.lr),
          h.weight_decay != 0.0};
}
// PyTorch's addcmul (self + (value * t1) * t2) and addcdiv (self + (value * t1) / t2) rounding
// order, term by term as rmsprop_loop; grad_avg (centered) and buf (momentum) may be null.
template <typename C>
HG_HD inline C rmsprop_element(C w, C g, C* square_avg, C* grad_avg, C* buf,
                               const RmspropScalars<C>& s) {
  if (s.decay) g = g + s.wd * w;
  const C sq = s.alpha * *square_avg + s.keep * g * g;
  *square_avg = sq;
  C var = sq;
  if (grad_avg != nullptr) {
    const C ga = s.alpha * *grad_avg + s.keep * g;
    *grad_avg = ga;
    var = sq - ga * ga;
  }
  const C avg = sqrt_c(var) + s.eps;
  if (buf == nullptr) return w + s.neg_lr * g / avg;
  const C b = s.momentum * *buf + g / avg;
  *buf = b;
  return w + s.neg_lr * b;
}

// The constants of one Adagrad step in C (as optim/adagrad.cpp's adagrad_loop). step: h.step, or
// that plus the device's applied count, so the decayed lr is formed on the device too; in double,
// as PyTorch's Python, and without a fused multiply-add, as the host.
template <typename C>
struct AdagradScalars {
  C neg_clr, eps, wd;
  bool decay;
};
template <typename C>
HG_HD inline AdagradScalars<C> adagrad_scalars(const FusedAdagradParams& h, double step) {
  const double clr = h.lr / (1.0 + mul_rn(step - 1.0, h.lr_decay));
  return {static_cast<C>(-clr), static_cast<C>(h.eps), static_cast<C>(h.weight_decay),
          h.weight_decay != 0.0};
}
template <typename C>
HG_HD inline C adagrad_element(C w, C g, C* sum, const AdagradScalars<C>& s) {
  if (s.decay) g = g + s.wd * w;
  const C total = *sum + g * g;
  *sum = total;
  return w + s.neg_clr * g / (sqrt_c(total) + s.eps);
}

}  // namespace hg::kernels::amp_math
