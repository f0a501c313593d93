// Softmax and log-softmax over the last dim of a contiguous [rows, cols] tensor: the max is
// subtracted first so exp never overflows; sums are kept in float (double for fp64).
#include <cmath>
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {
int64_t rows_of(const TensorView& v) {
  return v.numel() / std::max<int64_t>(v.sizes[v.ndim - 1], 1);
}
}  // namespace

void softmax(bool log, const TensorView& in, const TensorView& out) {
  const int64_t cols = in.sizes[in.ndim - 1], rows = rows_of(in);
  dispatch_floating(in.dtype, "softmax", [&]<typename T>() {
    using C = compute_t<T>;
    const T* x = in.ptr<T>();
    T* y = out.ptr<T>();
#pragma omp parallel for if (rows * cols >= kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      C max = -INFINITY;
      for (int64_t c = 0; c < cols; ++c) max = std::max(max, static_cast<C>(xr[c]));
      if (log) {  // (x - max) - log(sum): x - (max + log(sum)) loses log(sum)'s bits to max
        C sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += std::exp(static_cast<C>(xr[c]) - max);
        const C log_sum = std::log(sum);
        for (int64_t c = 0; c < cols; ++c)
          yr[c] = static_cast<T>((static_cast<C>(xr[c]) - max) - log_sum);
        continue;
      }
      // Each exp once: kept in the output row when T is the compute type, else in a float row.
      thread_local std::vector<C> exps;
      C* e = std::is_same_v<T, C> ? reinterpret_cast<C*>(yr) : (exps.resize(cols), exps.data());
      C sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        e[c] = std::exp(static_cast<C>(xr[c]) - max);
        sum += e[c];
      }
      const C scale = C(1) / sum;
      for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<T>(e[c] * scale);
    }
  });
}

// softmax:     dx = y * (g - sum(g * y))
// log_softmax: dx = g - exp(y) * sum(g)
void softmax_backward(bool log, const TensorView& y_view, const TensorView& grad_out,
                      const TensorView& grad_in) {
  const int64_t cols = y_view.sizes[y_view.ndim - 1], rows = rows_of(y_view);
  dispatch_floating(y_view.dtype, "softmax_backward", [&]<typename T>() {
    using C = compute_t<T>;
    const T* y = y_view.ptr<T>();
    const T* g = grad_out.ptr<T>();
    T* dx = grad_in.ptr<T>();
#pragma omp parallel for if (rows * cols >= kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* yr = y + r * cols;
      const T* gr = g + r * cols;
      T* dr = dx + r * cols;
      C dot = 0;
      for (int64_t c = 0; c < cols; ++c)
        dot += log ? static_cast<C>(gr[c]) : static_cast<C>(gr[c]) * static_cast<C>(yr[c]);
      for (int64_t c = 0; c < cols; ++c) {
        const C yc = static_cast<C>(yr[c]), gc = static_cast<C>(gr[c]);
        dr[c] = static_cast<T>(log ? gc - std::exp(yc) * dot : yc * (gc - dot));
      }
    }
  });
}

}  // namespace hg::kernels::cpu
