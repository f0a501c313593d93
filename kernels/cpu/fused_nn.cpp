// The CPU column of the fused nn families (kernels/fused_nn_kernels.h): dropout with its mask
// drawn from the Philox stream inside the loop, and softmax + cross-entropy per row with the
// CPU softmax's arithmetic (kernels/cpu/softmax.cpp), so the forward loss without label
// smoothing equals nll_loss(log_softmax(x)) bit for bit.
#include <cmath>

#include "halfgrad/kernels/cpu/fused_nn_cpu.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/fused_nn_math.h"

namespace hg::kernels::cpu {

void dropout(const TensorView& in, double p, uint64_t seed, uint64_t offset,
             const TensorView& out) {
  const int64_t n = in.numel(), blocks = (n + 3) / 4;
  const float threshold = static_cast<float>(p);
  dispatch_floating(in.dtype, "dropout", [&]<typename T>() {
    using C = compute_t<T>;
    // the kept value's multiplier, rounded to T as the mask tensor holds it
    const C scale = static_cast<C>(static_cast<T>(static_cast<C>(1.0 / (1.0 - p))));
    const T* x = in.ptr<T>();
    T* y = out.ptr<T>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t b = 0; b < blocks; ++b) {
      bool keep[4];
      fused_math::dropout_keep4(seed, offset, static_cast<uint64_t>(b), threshold, keep);
      for (int64_t i = 4 * b; i < std::min<int64_t>(4 * b + 4, n); ++i)
        y[i] = static_cast<T>(static_cast<C>(x[i]) * (keep[i - 4 * b] ? scale : C(0)));
    }
  });
}

namespace {

// A row's log-sum-exp kept in two parts, max + log_sum, so that a loss (max - x) + log_sum
// does not lose log_sum's bits to a large max (as kernels/cpu/softmax.cpp).
template <typename C>
struct RowLse {
  C max, log_sum;
};

template <typename T, typename C>
RowLse<C> row_lse(const T* xr, int64_t cols) {
  C max = -INFINITY;
  for (int64_t c = 0; c < cols; ++c) max = std::max(max, static_cast<C>(xr[c]));
  C sum = 0;
  for (int64_t c = 0; c < cols; ++c) sum += std::exp(static_cast<C>(xr[c]) - max);
  return {max, std::log(sum)};
}

// mean(x) - max, summed as x - max so a large max does not swamp the spread
template <typename T, typename C>
C row_mean_below_max(const T* xr, int64_t cols, C max) {
  C sum = 0;
  for (int64_t c = 0; c < cols; ++c) sum += static_cast<C>(xr[c]) - max;
  return sum / static_cast<C>(cols);
}

// One row's loss from its log-sum-exp (ignored rows: 0).
template <typename T, typename C>
C row_loss(const T* xr, int64_t cols, int64_t target, const RowLse<C>& row, double ls) {
  C value = (row.max - static_cast<C>(xr[target])) + row.log_sum;
  if (ls > 0.0) {
    const C s = static_cast<C>(ls);
    value = (C(1) - s) * value + s * (row.log_sum - row_mean_below_max<T, C>(xr, cols, row.max));
  }
  return value;
}

}  // namespace

void cross_entropy(const TensorView& logits, const TensorView& target, int64_t ignore_index,
                   double label_smoothing, const TensorView& loss, const TensorView& lse,
                   const TensorView& mean, const TensorView& count, int64_t* bad_target) {
  const int64_t rows = logits.sizes[0], cols = logits.sizes[1];
  const int64_t* t = target.ptr<int64_t>();
  check_loss_dtype(logits.dtype, loss.dtype, "cross_entropy");
  *bad_target = -1;
  for (int64_t n = 0; n < rows; ++n) {
    if (t[n] != ignore_index && (t[n] < 0 || t[n] >= cols)) {
      *bad_target = n;
      return;
    }
  }
  dispatch_floating(logits.dtype, "cross_entropy", [&]<typename T>() {
    with_loss_type<T>(loss.dtype, [&]<typename L>() {
      using C = compute_t<T>;
      const T* x = logits.ptr<T>();
      L* out = loss.ptr<L>();
      C* saved = lse.ptr<C>();
#pragma omp parallel for if (rows * cols >= kParallelGrain)
      for (int64_t n = 0; n < rows; ++n) {
        const T* xr = x + n * cols;
        const RowLse<C> row = row_lse<T, C>(xr, cols);
        saved[2 * n] = row.max;  // the backward's exp((x - max) - log_sum)
        saved[2 * n + 1] = row.log_sum;
        const bool counted = t[n] != ignore_index;
        out[n] = static_cast<L>(counted ? row_loss(xr, cols, t[n], row, label_smoothing) : C(0));
      }
    });
  });
  if (mean.data != nullptr) mean_over_targets(loss, target, ignore_index, mean, count);
}

void cross_entropy_backward(const TensorView& logits, const TensorView& target,
                            const TensorView& lse, const TensorView& grad_loss,
                            const TensorView& count, int64_t ignore_index, double label_smoothing,
                            const TensorView& grad_logits) {
  const int64_t rows = logits.sizes[0], cols = logits.sizes[1];
  const int64_t* t = target.ptr<int64_t>();
  check_loss_dtype(logits.dtype, grad_loss.dtype, "cross_entropy_backward");
  dispatch_floating(logits.dtype, "cross_entropy_backward", [&]<typename T>() {
    with_loss_type<T>(grad_loss.dtype, [&]<typename L>() {
      using C = compute_t<T>;
      const C ls = static_cast<C>(label_smoothing), uniform = ls / static_cast<C>(cols);
      const T* x = logits.ptr<T>();
      const L* g = grad_loss.ptr<L>();
      const bool of_mean = count.data != nullptr;
      // the mean's share of every row, rounded to L as mean_over_targets_backward stores it
      const C share =
          of_mean ? static_cast<C>(static_cast<L>(static_cast<C>(g[0]) / *count.ptr<C>())) : C(0);
      const C* saved = lse.ptr<C>();
      T* dx = grad_logits.ptr<T>();
#pragma omp parallel for if (rows * cols >= kParallelGrain)
      for (int64_t n = 0; n < rows; ++n) {
        T* dr = dx + n * cols;
        if (t[n] == ignore_index) {
          for (int64_t c = 0; c < cols; ++c) dr[c] = static_cast<T>(C(0));
          continue;
        }
        const C gn = of_mean ? share : static_cast<C>(g[n]);
        const C max = saved[2 * n], log_sum = saved[2 * n + 1];
        for (int64_t c = 0; c < cols; ++c) {
          const C target_share = c == t[n] ? C(1) - ls : C(0);
          const C p = std::exp((static_cast<C>(x[n * cols + c]) - max) - log_sum);
          dr[c] = static_cast<T>(gn * (p - target_share - uniform));
        }
      }
    });
  });
}

// In row order: the double sum's rounding does not depend on the order for any realistic batch
// (its 53 bits hold the partial sums of float losses exactly), so the result is reduce's.
void mean_over_targets(const TensorView& values, const TensorView& target, int64_t ignore_index,
                       const TensorView& out, const TensorView& count) {
  const int64_t rows = values.numel();
  const int64_t* t = target.ptr<int64_t>();
  dispatch_floating(values.dtype, "mean_over_targets", [&]<typename T>() {
    using C = compute_t<T>;
    const T* v = values.ptr<T>();
    double sum = 0.0;
    int64_t counted = 0;
    for (int64_t n = 0; n < rows; ++n) {
      if (t[n] == ignore_index) continue;
      sum += static_cast<double>(static_cast<C>(v[n]));
      ++counted;
    }
    const C divisor = static_cast<C>(counted);
    count.ptr<C>()[0] = divisor;
    out.ptr<T>()[0] = static_cast<T>(static_cast<C>(sum) / divisor);
  });
}

void mean_over_targets_backward(const TensorView& grad_out, const TensorView& count,
                                const TensorView& grad_values) {
  dispatch_floating(grad_values.dtype, "mean_over_targets_backward", [&]<typename T>() {
    using C = compute_t<T>;
    const T share = static_cast<T>(static_cast<C>(grad_out.ptr<T>()[0]) / count.ptr<C>()[0]);
    T* g = grad_values.ptr<T>();
    for (int64_t n = 0; n < grad_values.numel(); ++n) g[n] = share;
  });
}

}  // namespace hg::kernels::cpu
