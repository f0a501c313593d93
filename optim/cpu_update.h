#pragma once
// Internal to optim/: the raw CPU loop behind every optimizer update. One pass over the
// elements of a parameter: read the weight and the gradient widened to the compute type C
// (float, or double for fp64), the gradient times u.grad_factor; let the optimizer's
// per-element function compute the new weight (updating its state arrays as it goes); store
// it rounded to the weight's dtype.
#include <cstdint>
#include <type_traits>

#include "halfgrad/core/error.h"
#include "halfgrad/core/half.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::optim::detail {

// Below this many elements the loop runs on one thread: the fork costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

template <typename C, typename W, typename G, typename F>
void update_loop(W* weight, const G* grad, int64_t n, C factor, const F& f) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const C w = static_cast<C>(static_cast<float>(weight[i]));
    const C g = static_cast<C>(static_cast<float>(grad[i])) * factor;
    weight[i] = static_cast<W>(f(i, w, g));
  }
}

template <typename C, typename W, typename F>
void dispatch_grad(const ParamUpdate& u, W* weight, const F& f) {
  const int64_t n = u.weight.numel();
  const C k = static_cast<C>(u.grad_factor);
  switch (u.grad.dtype()) {
    case DType::Float32:
      return update_loop<C>(weight, u.grad.data<float>(), n, k, f);
    case DType::Float16:
      return update_loop<C>(weight, u.grad.data<Half>(), n, k, f);
    case DType::BFloat16:
      return update_loop<C>(weight, u.grad.data<BFloat16>(), n, k, f);
    default:
      HG_FAIL("optimizer: unexpected gradient dtype ", dtype_name(u.grad.dtype()));
  }
}

// Runs f(i, w, g) -> new w over every element of u.weight (contiguous, on the CPU). C must be
// double for fp64 weights and float otherwise; f may write its state arrays at index i.
template <typename C, typename F>
void for_each_element(const ParamUpdate& u, const F& f) {
  if constexpr (std::is_same_v<C, double>) {
    const int64_t n = u.weight.numel();
    double* w = u.weight.data<double>();
    const double* g = u.grad.data<double>();
    const double k = u.grad_factor;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) w[i] = f(i, w[i], g[i] * k);
  } else {
    switch (u.weight.dtype()) {
      case DType::Float32:
        return dispatch_grad<C>(u, u.weight.data<float>(), f);
      case DType::Float16:
        return dispatch_grad<C>(u, u.weight.data<Half>(), f);
      case DType::BFloat16:
        return dispatch_grad<C>(u, u.weight.data<BFloat16>(), f);
      default:
        HG_FAIL("optimizer: unexpected weight dtype ", dtype_name(u.weight.dtype()));
    }
  }
}

}  // namespace hg::optim::detail
