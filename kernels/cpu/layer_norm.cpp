// Layer norm on the CPU, row by row: the mean and variance of each row in double (two passes, so
// a large offset does not cancel) over interleaved lanes in a fixed order (norm_common.h: the
// same bits on any thread count; one running sum was a chain of dependent additions), stored as
// float32 (float64 for fp64 inputs). 16-bit rows are widened in blocks and their results rounded
// once, and weight and bias are widened once per call, so the loops are plain float/double ones
// the compiler vectorises.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "halfgrad/kernels/cpu/compute_rows.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/cpu/norm_common.h"
#include "halfgrad/kernels/with_flag.h"

namespace hg::kernels::cpu {

namespace {

using namespace norm;  // NOLINT: the shared helpers

struct RowStatistics {
  double mean, invstd;
};

template <typename T>
RowStatistics row_statistics(const T* row, int64_t cols, double eps) {
  double sums[kLanes] = {}, squares[kLanes] = {};
  for_each_block(row, cols, [&](const auto* v, int64_t, int64_t count) {
    by_lanes(count, [&](int64_t i, int k) { sums[k] += static_cast<double>(v[i]); });
  });
  const double mean = lane_total(sums) / static_cast<double>(cols);
  for_each_block(row, cols, [&](const auto* v, int64_t, int64_t count) {
    by_lanes(count, [&](int64_t i, int k) {
      const double d = static_cast<double>(v[i]) - mean;
      squares[k] += d * d;
    });
  });
  return {mean, 1.0 / std::sqrt(lane_total(squares) / static_cast<double>(cols) + eps)};
}

// y = (x - mean) * invstd in double, rounded to C, then * w (+ b when HasBias) in C; w [cols]
// (ones when the layer has none: the product is then exact).
template <bool HasBias, typename T, typename C>
void normalize_row(const T* row, int64_t cols, RowStatistics s, const C* w, const C* b, T* out) {
  BlockOut<T> o;
  for_each_block(row, cols, [&](const auto* v, int64_t start, int64_t count) {
    C* y = o.at(out + start);
    for (int64_t i = 0; i < count; ++i) {
      const C value = static_cast<C>((static_cast<double>(v[i]) - s.mean) * s.invstd);
      if constexpr (HasBias)
        y[i] = value * w[start + i] + b[start + i];
      else
        y[i] = value * w[start + i];
    }
    o.store(out + start, count);
  });
}

// The weight as C [cols]: widened once, or ones when there is none.
template <typename T, typename C>
const C* weight_or_ones(const TensorView* weight, int64_t cols, std::vector<C>& buffer) {
  if (weight != nullptr) return as_compute(weight->ptr<T>(), cols, buffer);
  buffer.assign(static_cast<size_t>(cols), C(1));
  return buffer.data();
}

// One row's backward (w: weight_or_ones): sums of gh = g * w and gh * xhat into the row's lanes, g
// * xhat and g into the thread's weight and bias partials; then, if gx, the input gradient.
template <typename T, typename C>
void layer_norm_backward_row(const T* x, const T* g, int64_t cols, RowStatistics s, const C* w,
                             double* pw, double* pb, T* gx) {
  double sum_gh[kLanes] = {}, sum_ghx[kLanes] = {};
  for_each_block(g, x, cols, [&](const auto* gv, const auto* xv, int64_t start, int64_t count) {
    by_lanes(count, [&](int64_t i, int k) {
      const double gi = static_cast<double>(gv[i]);
      const double xhat = (static_cast<double>(xv[i]) - s.mean) * s.invstd;
      const double gh = gi * static_cast<double>(w[start + i]);
      sum_gh[k] += gh;
      sum_ghx[k] += gh * xhat;
      pw[start + i] += gi * xhat;
      pb[start + i] += gi;
    });
  });
  if (gx == nullptr) return;
  const double d = static_cast<double>(cols), total_gh = lane_total(sum_gh);
  const double total_ghx = lane_total(sum_ghx), factor = s.invstd / d;
  BlockOut<T> o;
  for_each_block(g, x, cols, [&](const auto* gv, const auto* xv, int64_t start, int64_t count) {
    compute_t<T>* out = o.at(gx + start);
    for (int64_t i = 0; i < count; ++i) {
      const double xhat = (static_cast<double>(xv[i]) - s.mean) * s.invstd;
      const double gh = static_cast<double>(gv[i]) * static_cast<double>(w[start + i]);
      out[i] = static_cast<compute_t<T>>(factor * (d * gh - total_gh - xhat * total_ghx));
    }
    o.store(gx + start, count);
  });
}

}  // namespace

void layer_norm(const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                const TensorView& save_mean, const TensorView& save_invstd, const TensorView& y) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = x.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(x.dtype, "layer_norm", [&]<typename T>() {
    using C = compute_t<T>;
    std::vector<C> w_buffer, b_buffer;
    const C* w = weight_or_ones<T>(weight, cols, w_buffer);
    const C* b = bias ? as_compute(bias->ptr<T>(), cols, b_buffer) : nullptr;
    with_flag(b != nullptr, [&]<bool HasBias>() {
#pragma omp parallel for if (rows * cols >= kParallelGrain)
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x.ptr<T>() + r * cols;
        const RowStatistics s = row_statistics(row, cols, eps);
        set_param(&save_mean, r, s.mean);
        set_param(&save_invstd, r, s.invstd);
        normalize_row<HasBias>(row, cols, s, w, b, y.ptr<T>() + r * cols);
      }
    });
  });
}

// gx = invstd / D * (D * gxhat - sum(gxhat) - xhat * sum(gxhat * xhat)), gxhat = gy * w, with
// the mean and invstd as saved (rounded to float32 for 16-bit/fp32 inputs). grad_weight and
// grad_bias sum over rows: each thread keeps its own partial sums, added in thread order.
void layer_norm_backward(const TensorView& x, const TensorView& grad_y, const TensorView* weight,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = x.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(x.dtype, "layer_norm_backward", [&]<typename T>() {
    using C = compute_t<T>;
    std::vector<C> w_buffer;
    const C* w = weight_or_ones<T>(weight, cols, w_buffer);
    const int threads = rows * cols >= kParallelGrain ? omp_get_max_threads() : 1;
    std::vector<double> partial_w(static_cast<size_t>(threads * cols), 0.0);
    std::vector<double> partial_b(static_cast<size_t>(threads * cols), 0.0);
#pragma omp parallel num_threads(threads)
    {
      double* pw = partial_w.data() + omp_get_thread_num() * cols;
      double* pb = partial_b.data() + omp_get_thread_num() * cols;
#pragma omp for
      for (int64_t r = 0; r < rows; ++r) {
        const RowStatistics s{param(&save_mean, r, 0), param(&save_invstd, r, 1)};
        layer_norm_backward_row(x.ptr<T>() + r * cols, grad_y.ptr<T>() + r * cols, cols, s, w, pw,
                                pb, grad_x ? grad_x->ptr<T>() + r * cols : nullptr);
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

}  // namespace hg::kernels::cpu
