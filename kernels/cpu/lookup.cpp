// Index-driven kernels: NLL loss (gather one log-probability per row) and embedding lookup.
#include <cstring>
#include <vector>

#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

void nll_loss(const TensorView& logp, const TensorView& target, int64_t ignore_index,
              const TensorView& loss, int64_t* bad_target) {
  const int64_t rows = logp.sizes[0], classes = logp.sizes[1];
  const int64_t* t = target.ptr<int64_t>();
  *bad_target = -1;
  dispatch_floating(logp.dtype, "nll_loss", [&]<typename T>() {
    const T* lp = logp.ptr<T>();
    T* out = loss.ptr<T>();
    for (int64_t n = 0; n < rows; ++n) {
      if (t[n] == ignore_index) {
        out[n] = static_cast<T>(0.0f);
        continue;
      }
      if (t[n] < 0 || t[n] >= classes) {
        *bad_target = n;
        return;
      }
      out[n] = static_cast<T>(-static_cast<compute_t<T>>(lp[n * classes + t[n]]));
    }
  });
}

void nll_loss_backward(const TensorView& grad_loss, const TensorView& target, int64_t ignore_index,
                       const TensorView& grad_logp) {
  const int64_t rows = grad_logp.sizes[0], classes = grad_logp.sizes[1];
  const int64_t* t = target.ptr<int64_t>();
  dispatch_floating(grad_logp.dtype, "nll_loss_backward", [&]<typename T>() {
    const T* g = grad_loss.ptr<T>();
    T* out = grad_logp.ptr<T>();
    std::memset(static_cast<void*>(out), 0, static_cast<size_t>(rows * classes) * sizeof(T));
    for (int64_t n = 0; n < rows; ++n)
      if (t[n] != ignore_index)
        out[n * classes + t[n]] = static_cast<T>(-static_cast<compute_t<T>>(g[n]));
  });
}

void embedding(const TensorView& weight, const TensorView& index, const TensorView& out,
               const char* /*call: the front-ends check the indices on the CPU*/) {
  const int64_t dim = weight.sizes[1], rows = index.numel();
  const int64_t* idx = index.ptr<int64_t>();
  const size_t row_bytes = static_cast<size_t>(dim) * itemsize(weight.dtype);
  const char* w = static_cast<const char*>(weight.data);
  char* o = static_cast<char*>(out.data);
#pragma omp parallel for if (rows * dim >= kParallelGrain)
  for (int64_t n = 0; n < rows; ++n)
    std::memcpy(o + n * row_bytes, w + idx[n] * row_bytes, row_bytes);
}

void embedding_backward(const TensorView& grad_out, const TensorView& index,
                        const TensorView& grad_weight) {
  const int64_t dim = grad_weight.sizes[1], rows = index.numel();
  const int64_t* idx = index.ptr<int64_t>();
  dispatch_floating(grad_weight.dtype, "embedding_backward", [&]<typename T>() {
    using C = compute_t<T>;
    // accumulate in the compute type, then round once: repeated indices sum exactly in float
    std::vector<C> acc(static_cast<size_t>(grad_weight.numel()), C(0));
    const T* g = grad_out.ptr<T>();
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t d = 0; d < dim; ++d) acc[idx[n] * dim + d] += static_cast<C>(g[n * dim + d]);
    T* out = grad_weight.ptr<T>();
    for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
  });
}

}  // namespace hg::kernels::cpu
