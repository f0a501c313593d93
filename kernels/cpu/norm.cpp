// Batch norm and layer norm on the CPU. Statistics are computed in double (a two-pass mean and
// variance, so large offsets do not cancel) and stored as float32 (float64 for fp64 inputs);
// 16-bit activations are read and written with one rounding each way.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "halfgrad/kernels/cpu/blocked_16bit.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/with_flag.h"

namespace hg::kernels::cpu {

namespace {

// Reads element i of a float32/float64 parameter view (weight, bias, statistics).
inline double param(const TensorView* v, int64_t i, double fallback) {
  if (v == nullptr) return fallback;
  return v->dtype == DType::Float64 ? v->ptr<double>()[i] : v->ptr<float>()[i];
}
inline void set_param(const TensorView* v, int64_t i, double value) {
  if (v == nullptr) return;
  if (v->dtype == DType::Float64)
    v->ptr<double>()[i] = value;
  else
    v->ptr<float>()[i] = static_cast<float>(value);
}

struct ChannelLayout {
  int64_t batch, channels, inner;  // x viewed as [batch, channels, inner]
};
ChannelLayout channel_layout(const TensorView& x) {
  int64_t inner = 1;
  for (int d = 2; d < x.ndim; ++d) inner *= x.sizes[d];
  return {x.sizes[0], x.ndim > 1 ? x.sizes[1] : 1, inner};
}

// A row of T visited in blocks of at most kFloatBlock values in the compute type C: 16-bit rows
// widened by the bulk conversions (element by element, the scalar conversions kept 16-bit batch
// norm about 4x slower than fp32), fp32 and fp64 rows read in place. f(values, start, count);
// the blocks come in order, so sums over them add in the same order as one loop would.
template <typename T, typename F>
void for_each_block(const T* row, int64_t n, F&& f) {
  alignas(32) float wide[kFloatBlock];
  for (int64_t start = 0; start < n; start += kFloatBlock) {
    const int64_t count = std::min(kFloatBlock, n - start);
    if constexpr (kIs16Bit<T>) {
      widen_n(row + start, wide, count);
      f(static_cast<const float*>(wide), start, count);
    } else {
      f(row + start, start, count);
    }
  }
}

// Two rows of the same length in step (grad_y and x in the backward): f(a, b, start, count).
template <typename T, typename F>
void for_each_block(const T* row_a, const T* row_b, int64_t n, F&& f) {
  for_each_block(row_a, n, [&](const auto* a, int64_t start, int64_t count) {
    alignas(32) float wide[kFloatBlock];
    if constexpr (kIs16Bit<T>) {
      widen_n(row_b + start, wide, count);
      f(a, static_cast<const float*>(wide), start, count);
    } else {
      f(a, row_b + start, start, count);
    }
  });
}

// Where a block's results are computed before they are stored as T: in place for fp32/fp64,
// else in a float buffer that store() rounds with the bulk conversion.
template <typename T>
struct BlockOut {
  alignas(32) float wide[kFloatBlock];
  compute_t<T>* at(T* dst) {
    if constexpr (kIs16Bit<T>)
      return wide;
    else
      return dst;
  }
  void store(T* dst, int64_t count) {
    if constexpr (kIs16Bit<T>) narrow_n(wide, dst, count);
  }
};

// Sums in double over kLanes interleaved lanes: body(i, lane) for i in [0, count), lane i % kLanes
// (a block starts at a multiple of kLanes, so that is the element's lane within its row too),
// added up by lane_total in a fixed tree. One running sum is a chain of dependent additions, 4
// cycles each: batch norm's statistics and backward sums were latency-bound (~10% of a 16-bit
// ResNet-9 step); eight lanes are independent chains the compiler vectorises. The order is
// fixed, so the results are the same run to run and on any thread count.
constexpr int kLanes = 8;
template <typename F>
void by_lanes(int64_t count, F&& body) {
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (int k = 0; k < kLanes; ++k) body(i + k, k);
  for (; i < count; ++i) body(i, static_cast<int>(i % kLanes));
}
double lane_total(const double (&lane)[kLanes]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
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

void layer_norm(const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                const TensorView& save_mean, const TensorView& save_invstd, const TensorView& y) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = x.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(x.dtype, "layer_norm", [&]<typename T>() {
    using C = compute_t<T>;
    const T* px = x.ptr<T>();
    T* py = y.ptr<T>();
    const T* w = weight ? weight->ptr<T>() : nullptr;
    const T* b = bias ? bias->ptr<T>() : nullptr;
#pragma omp parallel for if (rows * cols >= kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = px + r * cols;
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < cols; ++i) sum += static_cast<double>(row[i]);
      const double mean = sum / static_cast<double>(cols);
      for (int64_t i = 0; i < cols; ++i) {
        const double d = static_cast<double>(row[i]) - mean;
        sq += d * d;
      }
      const double invstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
      set_param(&save_mean, r, mean);
      set_param(&save_invstd, r, invstd);
      for (int64_t i = 0; i < cols; ++i) {
        C v = static_cast<C>((static_cast<double>(row[i]) - mean) * invstd);
        if (w) v *= static_cast<C>(w[i]);
        if (b) v += static_cast<C>(b[i]);
        py[r * cols + i] = static_cast<T>(v);
      }
    }
  });
}

// gx = invstd / D * (D * gxhat - sum(gxhat) - xhat * sum(gxhat * xhat)), gxhat = gy * w.
// grad_weight/grad_bias sum over rows: each thread keeps its own partial sums.
void layer_norm_backward(const TensorView& x, const TensorView& grad_y, const TensorView* weight,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = x.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(x.dtype, "layer_norm_backward", [&]<typename T>() {
    const T* px = x.ptr<T>();
    const T* pg = grad_y.ptr<T>();
    const T* w = weight ? weight->ptr<T>() : nullptr;
    const int threads = rows * cols >= kParallelGrain ? omp_get_max_threads() : 1;
    std::vector<double> partial_w(static_cast<size_t>(threads * cols), 0.0);
    std::vector<double> partial_b(static_cast<size_t>(threads * cols), 0.0);
#pragma omp parallel num_threads(threads)
    {
      double* pw = partial_w.data() + omp_get_thread_num() * cols;
      double* pb = partial_b.data() + omp_get_thread_num() * cols;
#pragma omp for
      for (int64_t r = 0; r < rows; ++r) {
        const double mean = param(&save_mean, r, 0), invstd = param(&save_invstd, r, 1);
        double sum_gh = 0, sum_ghx = 0;
        for (int64_t i = 0; i < cols; ++i) {
          const double g = static_cast<double>(pg[r * cols + i]);
          const double xhat = (static_cast<double>(px[r * cols + i]) - mean) * invstd;
          const double gh = g * (w ? static_cast<double>(w[i]) : 1.0);
          sum_gh += gh;
          sum_ghx += gh * xhat;
          pw[i] += g * xhat;
          pb[i] += g;
        }
        if (grad_x == nullptr) continue;
        T* gx = grad_x->ptr<T>() + r * cols;
        const double d = static_cast<double>(cols);
        for (int64_t i = 0; i < cols; ++i) {
          const double xhat = (static_cast<double>(px[r * cols + i]) - mean) * invstd;
          const double gh =
              static_cast<double>(pg[r * cols + i]) * (w ? static_cast<double>(w[i]) : 1.0);
          gx[i] = static_cast<T>(invstd / d * (d * gh - sum_gh - xhat * sum_ghx));
        }
      }
    }
    for (int64_t i = 0; i < cols; ++i) {
      double sw = 0, sb = 0;
      for (int t = 0; t < threads; ++t) {
        sw += partial_w[t * cols + i];
        sb += partial_b[t * cols + i];
      }
      if (grad_weight) grad_weight->ptr<T>()[i] = static_cast<T>(sw);
      if (grad_bias) grad_bias->ptr<T>()[i] = static_cast<T>(sb);
    }
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
