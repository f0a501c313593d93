// Batch norm on the CPU (layer norm: layer_norm.cpp). Statistics are computed in double (a
// two-pass mean and variance, so large offsets do not cancel) and stored as float32 (float64 for
// fp64 inputs); 16-bit activations are read and written with one rounding each way.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "halfgrad/kernels/cpu/blocked_16bit.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/cpu/norm_common.h"
#include "halfgrad/kernels/with_flag.h"

namespace hg::kernels::cpu {

namespace {

using namespace norm;  // NOLINT: the shared helpers

struct ChannelLayout {
  int64_t batch, channels, inner;  // x viewed as [batch, channels, inner]
};
ChannelLayout channel_layout(const TensorView& x) {
  int64_t inner = 1;
  for (int d = 2; d < x.ndim; ++d) inner *= x.sizes[d];
  return {x.sizes[0], x.ndim > 1 ? x.sizes[1] : 1, inner};
}

// Channel c's batch mean, invstd and unbiased variance, from double sums in two passes.
template <typename T>
void channel_statistics(const T* px, const ChannelLayout& L, int64_t c, double eps,
                        const TensorView& save_mean, const TensorView& save_invstd,
                        const TensorView* batch_var) {
  double sums[kLanes] = {}, squares[kLanes] = {};
  for (int64_t n = 0; n < L.batch; ++n)
    for_each_block(
        px + (n * L.channels + c) * L.inner, L.inner, [&](const auto* v, int64_t, int64_t count) {
          by_lanes(count, [&](int64_t i, int k) { sums[k] += static_cast<double>(v[i]); });
        });
  const double count = static_cast<double>(L.batch * L.inner);
  const double mean = lane_total(sums) / count;
  for (int64_t n = 0; n < L.batch; ++n)
    for_each_block(px + (n * L.channels + c) * L.inner, L.inner,
                   [&](const auto* v, int64_t, int64_t m) {
                     by_lanes(m, [&](int64_t i, int k) {
                       const double d = static_cast<double>(v[i]) - mean;
                       squares[k] += d * d;
                     });
                   });
  const double sq = lane_total(squares);
  set_param(&save_mean, c, mean);
  set_param(&save_invstd, c, 1.0 / std::sqrt(sq / count + eps));
  set_param(batch_var, c, count > 1 ? sq / (count - 1) : NAN);
}

// Channel c's y = (x - mean) * scale + shift in the compute type, rounded to T: what the forward
// writes, and what the backward recomputes for a fused relu's mask (instead of keeping the
// output alive for it). One function for both, so the two agree bit for bit.
template <typename T>
struct ChannelAffine {
  using C = compute_t<T>;
  C mean, scale, shift;
  ChannelAffine(const TensorView& save_mean, const TensorView& save_invstd,
                const TensorView* weight, const TensorView* bias, int64_t c)
      : mean(static_cast<C>(param(&save_mean, c, 0))),
        scale(static_cast<C>(param(&save_invstd, c, 1) * param(weight, c, 1))),
        shift(static_cast<C>(param(bias, c, 0))) {}
  // y[0, count) from x[0, count) (count <= kFloatBlock), held in C but rounded to T's precision
  void outputs(const C* x, int64_t count, C* y) const {
    for (int64_t i = 0; i < count; ++i) y[i] = (x[i] - mean) * scale + shift;
    if constexpr (kIs16Bit<T>) {
      T rounded[kFloatBlock];
      narrow_n(y, rounded, count);
      widen_n(rounded, y, count);
    }
  }
};

}  // namespace

void batch_norm(bool training, const TensorView& x, const TensorView* weight,
                const TensorView* bias, const TensorView& save_mean, const TensorView& save_invstd,
                const TensorView* batch_var, double eps, bool relu, const TensorView& y) {
  const ChannelLayout L = channel_layout(x);
  dispatch_floating(x.dtype, "batch_norm", [&]<typename T>() {
    using C = compute_t<T>;
    const T* px = x.ptr<T>();
    T* py = y.ptr<T>();
#pragma omp parallel for if (L.batch * L.channels * L.inner >= kParallelGrain)
    for (int64_t c = 0; c < L.channels; ++c) {
      if (training) channel_statistics(px, L, c, eps, save_mean, save_invstd, batch_var);
      const ChannelAffine<T> affine(save_mean, save_invstd, weight, bias, c);
      auto apply = [&]<bool Relu>() {  // (two loops: no test of relu per element)
        for (int64_t n = 0; n < L.batch; ++n) {
          T* out_row = py + (n * L.channels + c) * L.inner;
          for_each_block(px + (n * L.channels + c) * L.inner, L.inner,
                         [&](const C* xv, int64_t start, int64_t count) {
                           BlockOut<T> out;
                           C* yv = out.at(out_row + start);
                           affine.outputs(xv, count, yv);
                           if constexpr (Relu)
                             for (int64_t i = 0; i < count; ++i)
                               yv[i] = yv[i] <= C(0) ? C(0) : yv[i];  // NaN passes
                           out.store(out_row + start, count);
                         });
        }
      };
      with_flag(relu, apply);
    }
  });
}

namespace {

// grad_y as relu's backward passes it on when the forward fused relu (0 where the output y is
// <= 0; NaN passes), else as it is.
template <bool Relu, typename C>
inline double masked_grad(C g, C y) {
  const double value = static_cast<double>(g);
  if constexpr (Relu) {
    // a mask, not a branch: the signs are random, and a mispredicted branch per element made
    // the fused backward 3x slower than relu's select and batch_norm's backward apart
    const uint64_t keep = uint64_t{0} - static_cast<uint64_t>(!(y <= C(0)));
    return std::bit_cast<double>(std::bit_cast<uint64_t>(value) & keep);
  }
  return value;
}

// The channel loop of batch_norm_backward, with or without relu's mask (from the outputs
// recomputed from x).
template <typename T, bool Relu>
void batch_norm_backward_loop(bool training, const ChannelLayout& L, const T* px, const T* pg,
                              const TensorView* weight, const TensorView* bias,
                              const TensorView& save_mean, const TensorView& save_invstd,
                              const TensorView* grad_x, const TensorView* grad_weight,
                              const TensorView* grad_bias) {
  using C = compute_t<T>;
#pragma omp parallel for if (L.batch * L.channels * L.inner >= kParallelGrain)
  for (int64_t c = 0; c < L.channels; ++c) {
    const double mean = param(&save_mean, c, 0), invstd = param(&save_invstd, c, 1);
    const ChannelAffine<T> affine(save_mean, save_invstd, weight, bias, c);
    double lanes_g[kLanes] = {}, lanes_gx[kLanes] = {};
    C y[kFloatBlock];  // the recomputed outputs, for relu's mask
    for (int64_t n = 0; n < L.batch; ++n) {
      const int64_t base = (n * L.channels + c) * L.inner;
      for_each_block(pg + base, px + base, L.inner,
                     [&](const C* gv, const C* xv, int64_t, int64_t count) {
                       if constexpr (Relu) affine.outputs(xv, count, y);
                       by_lanes(count, [&](int64_t i, int k) {
                         const double g = masked_grad<Relu>(gv[i], y[i]);
                         lanes_g[k] += g;
                         lanes_gx[k] += g * (static_cast<double>(xv[i]) - mean) * invstd;
                       });
                     });
    }
    const double sum_g = lane_total(lanes_g), sum_gx = lane_total(lanes_gx);
    set_param(grad_bias, c, sum_g);
    set_param(grad_weight, c, sum_gx);
    if (grad_x == nullptr) continue;
    const double w = param(weight, c, 1);
    const double count = static_cast<double>(L.batch * L.inner);
    for (int64_t n = 0; n < L.batch; ++n) {
      const int64_t base = (n * L.channels + c) * L.inner;
      T* gx = grad_x->ptr<T>() + base;
      for_each_block(
          pg + base, px + base, L.inner, [&](const C* gv, const C* xv, int64_t start, int64_t m) {
            if constexpr (Relu) affine.outputs(xv, m, y);
            BlockOut<T> out;
            C* o = out.at(gx + start);
            for (int64_t i = 0; i < m; ++i) {
              const double g = masked_grad<Relu>(gv[i], y[i]);
              const double xhat = (static_cast<double>(xv[i]) - mean) * invstd;
              o[i] =
                  static_cast<C>(training ? w * invstd / count * (count * g - sum_g - xhat * sum_gx)
                                          : g * w * invstd);
            }
            out.store(gx + start, m);
          });
    }
  }
}

}  // namespace

// training: gx = w * invstd / M * (M * gy - sum(gy) - xhat * sum(gy * xhat)), M = N * inner
// eval:     gx = gy * w * invstd
void batch_norm_backward(bool training, const TensorView& x, const TensorView& grad_y, bool relu,
                         const TensorView* weight, const TensorView* bias,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias) {
  const ChannelLayout L = channel_layout(x);
  dispatch_floating(x.dtype, "batch_norm_backward", [&]<typename T>() {
    auto run = [&]<bool Relu>() {
      batch_norm_backward_loop<T, Relu>(training, L, x.ptr<T>(), grad_y.ptr<T>(), weight, bias,
                                        save_mean, save_invstd, grad_x, grad_weight, grad_bias);
    };
    with_flag(relu, run);
  });
}

void batch_norm_running_stats(const TensorView& running_mean, const TensorView& running_var,
                              const TensorView& batch_mean, const TensorView& batch_var,
                              double momentum, const TensorView* batches_tracked) {
  if (batches_tracked != nullptr) ++*batches_tracked->ptr<int64_t>();
  dispatch_floating(running_mean.dtype, "batch_norm_running_stats", [&]<typename S>() {
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>) {
      const S keep = static_cast<S>(1.0 - momentum), take = static_cast<S>(momentum);
      S* rm = running_mean.ptr<S>();
      S* rv = running_var.ptr<S>();
      const S* m = batch_mean.ptr<S>();
      const S* v = batch_var.ptr<S>();
      for (int64_t c = 0; c < running_mean.numel(); ++c) {
        rm[c] =
            rm[c] * keep + m[c] * take;  // (built with -ffp-contract=off: no fused multiply-add)
        rv[c] = rv[c] * keep + v[c] * take;
      }
    } else {
      HG_FAIL("batch_norm_running_stats: statistics must be float32 or float64, got ",
              dtype_name(running_mean.dtype));
    }
  });
}

}  // namespace hg::kernels::cpu
