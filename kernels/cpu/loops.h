#pragma once
// Building blocks of the CPU kernels: dtype dispatch, the float/double compute type, and an
// N-operand strided loop that coalesces dims and splits the work across OpenMP threads.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "halfgrad/core/convert.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/half.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels::cpu {

// fp16/bf16 compute in float, fp64 in double, integers in int64.
template <typename T>
struct ComputeType {
  using type = float;
};
template <>
struct ComputeType<double> {
  using type = double;
};
template <>
struct ComputeType<int64_t> {
  using type = int64_t;
};
template <>
struct ComputeType<uint8_t> {
  using type = int64_t;
};
template <>
struct ComputeType<bool> {
  using type = int64_t;
};
template <typename T>
using compute_t = typename ComputeType<T>::type;

// Calls f.template operator()<T>() with T the C++ type of a floating `dtype`.
template <typename F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32:
      f.template operator()<float>();
      return;
    case DType::Float16:
      f.template operator()<Half>();
      return;
    case DType::BFloat16:
      f.template operator()<BFloat16>();
      return;
    case DType::Float64:
      f.template operator()<double>();
      return;
    default:
      HG_FAIL(op, ": expected a floating dtype, got ", dtype_name(dtype));
  }
}

// The same for any dtype: the integer types here, the floating ones as above.
template <typename F>
void dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Int64:
      f.template operator()<int64_t>();
      return;
    case DType::UInt8:
      f.template operator()<uint8_t>();
      return;
    case DType::Bool:
      f.template operator()<bool>();
      return;
    default:
      dispatch_floating(dtype, "dispatch_all", f);
  }
}

// Converts between any two element types: 16-bit floats widen through float; to bool tests
// x != 0; double and int64 round to 16 bits once; floating -> integer saturates, NaN -> 0
// (core/convert.h). kernels/cuda/common.cuh's convert follows the same rules.
template <typename To, typename From>
inline To convert(From x) {
  constexpr bool from_16bit = std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>;
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (from_16bit)
      return static_cast<float>(x) != 0.0f;
    else
      return x != From(0);
  } else if constexpr (from_16bit) {
    return convert<To>(static_cast<float>(x));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    if constexpr (std::is_same_v<From, double> || std::is_same_v<From, int64_t>)
      return To(detail::float_round_to_odd(x));
    else
      return To(static_cast<float>(x));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return detail::saturate_to_integer<To>(static_cast<double>(x));
  } else {
    return static_cast<To>(x);
  }
}

// Below this many elements a kernel runs on one thread: the fork costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

// Calls f(i) for i in [0, n) where each call is a whole piece of work (a matrix product, an
// attention problem): f(0) alone first, so that whatever can throw (loading the BLAS) does so
// outside a parallel region; the rest, when `parallel` (and not already inside a region), on
// the threads, taken as they finish. Each f(i) runs on one thread, so its result does not
// depend on the thread count.
template <typename F>
void for_each_piece(int64_t n, bool parallel, F&& f) {
  if (n <= 0) return;
  f(0);
  const bool threads = parallel && n > 2 && !omp_in_parallel() && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(dynamic) if (threads)
  for (int64_t i = 1; i < n; ++i) f(i);
}

template <int N>
struct LoopPlan {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};  // in bytes
  char* base[N] = {};
};

// All views must have the same sizes; strides may differ (0 = broadcast).
template <int N>
LoopPlan<N> make_plan(const std::array<const TensorView*, N>& views) {
  LoopPlan<N> plan;
  const TensorView& ref = *views[0];
  for (int k = 0; k < N; ++k) plan.base[k] = static_cast<char*>(views[k]->data);
  for (int d = 0; d < ref.ndim; ++d) {
    if (ref.sizes[d] == 1) continue;  // size-1 dims never move the pointers
    const int at = plan.ndim;
    bool merge = at > 0;
    for (int k = 0; k < N && merge; ++k) {
      const int64_t item = static_cast<int64_t>(itemsize(views[k]->dtype));
      merge = plan.strides[k][at - 1] == views[k]->strides[d] * item * ref.sizes[d];
    }
    if (merge) {
      plan.sizes[at - 1] *= ref.sizes[d];
      for (int k = 0; k < N; ++k)
        plan.strides[k][at - 1] =
            views[k]->strides[d] * static_cast<int64_t>(itemsize(views[k]->dtype));
      continue;
    }
    plan.sizes[at] = ref.sizes[d];
    for (int k = 0; k < N; ++k)
      plan.strides[k][at] = views[k]->strides[d] * static_cast<int64_t>(itemsize(views[k]->dtype));
    ++plan.ndim;
  }
  if (plan.ndim == 0) {  // a single element
    plan.ndim = 1;
    plan.sizes[0] = ref.numel();
  }
  return plan;
}

// Runs inner(ptrs, inner_strides, count) over the linear range [begin, end) of the plan.
template <int N, typename Inner>
void run_range(const LoopPlan<N>& plan, int64_t begin, int64_t end, Inner& inner) {
  const int last = plan.ndim - 1;
  int64_t index[kMaxDims] = {};
  int64_t rest = begin;
  char* ptrs[N];
  for (int k = 0; k < N; ++k) ptrs[k] = plan.base[k];
  for (int d = last; d >= 0; --d) {
    index[d] = rest % plan.sizes[d];
    rest /= plan.sizes[d];
    for (int k = 0; k < N; ++k) ptrs[k] += index[d] * plan.strides[k][d];
  }
  int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = plan.strides[k][last];
  int64_t position = begin;
  while (position < end) {
    const int64_t count = std::min(plan.sizes[last] - index[last], end - position);
    inner(ptrs, inner_strides, count);
    position += count;
    // advance: step the innermost dim by count, then carry
    for (int k = 0; k < N; ++k) ptrs[k] += count * plan.strides[k][last];
    index[last] += count;
    for (int d = last; d > 0 && index[d] == plan.sizes[d]; --d) {
      for (int k = 0; k < N; ++k)
        ptrs[k] += plan.strides[k][d - 1] - plan.sizes[d] * plan.strides[k][d];
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

// Applies inner over every element of the views, in parallel when large enough.
template <int N, typename Inner>
void for_each(const std::array<const TensorView*, N>& views, Inner inner) {
  const LoopPlan<N> plan = make_plan<N>(views);
  const int64_t total = views[0]->numel();
  if (total == 0) return;
  if (total < kParallelGrain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run_range<N>(plan, 0, total, inner);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t id = omp_get_thread_num();
    const int64_t chunk = (total + threads - 1) / threads;
    const int64_t begin = std::min(total, id * chunk);
    const int64_t end = std::min(total, begin + chunk);
    Inner local = inner;
    if (begin < end) run_range<N>(plan, begin, end, local);
  }
}

}  // namespace hg::kernels::cpu
