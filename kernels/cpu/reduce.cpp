// Reductions. `out` arrives with the input's sizes and stride 0 in the reduced dims, so one
// strided loop over the input serves every choice of dims: each element is combined into the
// accumulator its output position maps to. Each thread owns an accumulator buffer (the input
// range is split statically, so results are the same run after run), combined at the end.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "halfgrad/kernels/cpu/convert_bulk.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {

// Sums (and products) accumulate in double for floating inputs (16-bit ones too: a float
// accumulator made a long fp16 sum depend on the layout and the thread split by an ulp of the
// result), int64 for integers.
template <typename T>
struct SumAcc {
  using type = double;
};
template <>
struct SumAcc<int64_t> {
  using type = int64_t;
};
template <>
struct SumAcc<uint8_t> {
  using type = int64_t;
};
template <>
struct SumAcc<bool> {
  using type = int64_t;
};

template <typename A>
struct SumCombine {
  static A init() { return A(0); }
  static A combine(A acc, A x) { return acc + x; }
};
template <typename A>
struct ProdCombine {
  static A init() { return A(1); }
  static A combine(A acc, A x) { return acc * x; }
};
template <typename A, bool IsMax>
struct ExtremeCombine {  // NaN wins, as in PyTorch
  static A init() {
    if constexpr (std::numeric_limits<A>::has_infinity)
      return IsMax ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    return IsMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
  }
  static A combine(A acc, A x) {
    if (acc != acc) return acc;
    if (x != x) return x;
    return IsMax ? (x > acc ? x : acc) : (x < acc ? x : acc);
  }
};

// Accumulator layout: in's sizes; kept dims contiguous over the output, reduced dims stride 0.
TensorView accumulator_view(const TensorView& out, DType acc_dtype, void* data) {
  TensorView acc = out;
  acc.data = data;
  acc.dtype = acc_dtype;
  int64_t stride = 1;
  for (int d = out.ndim - 1; d >= 0; --d) {
    acc.strides[d] = out.strides[d] == 0 ? 0 : stride;
    if (out.strides[d] != 0) stride *= out.sizes[d];
  }
  return acc;
}

TensorView collapse_reduced(const TensorView& view, const TensorView& out) {
  TensorView small = view;
  for (int d = 0; d < out.ndim; ++d)
    if (out.strides[d] == 0) small.sizes[d] = 1;
  return small;
}

// acc[i] = combine(acc[i], in[i]) over a contiguous run of both (a kept dim that is innermost,
// as in a bias gradient's column sums): the same additions in the same order as the strided loop,
// in a loop the compiler vectorises; 16-bit values are widened a block at a time in bulk first.
template <typename T, typename A, typename Combine>
void combine_contiguous(A* acc, const T* in, int64_t n) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    constexpr int64_t kBlock = 256;
    float wide[kBlock];
    for (int64_t start = 0; start < n; start += kBlock) {
      const int64_t count = std::min(kBlock, n - start);
      widen_n(in + start, wide, count);
      for (int64_t i = 0; i < count; ++i)
        acc[start + i] = Combine::combine(acc[start + i], static_cast<A>(wide[i]));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] = Combine::combine(acc[i], static_cast<A>(in[i]));
  }
}

template <typename T, typename A, typename Combine>
void reduce_into(const TensorView& in, const TensorView& out, double divisor) {
  int64_t out_numel = 1;
  for (int d = 0; d < out.ndim; ++d)
    if (out.strides[d] != 0) out_numel *= out.sizes[d];
  const int64_t total = in.numel();
  const int threads = (total < kParallelGrain || omp_in_parallel()) ? 1 : omp_get_max_threads();
  std::vector<A> partial(static_cast<size_t>(out_numel) * threads, Combine::init());

  auto inner = [](char** p, const int64_t* s, int64_t n) {
    A* acc = reinterpret_cast<A*>(p[0]);
    if (s[0] == 0) {  // the run is reduced into one accumulator: keep 4 lanes for speed
      A lanes[4] = {Combine::init(), Combine::init(), Combine::init(), Combine::init()};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; ++l)
          lanes[l] = Combine::combine(
              lanes[l], static_cast<A>(*reinterpret_cast<const T*>(p[1] + (i + l) * s[1])));
      for (; i < n; ++i)
        lanes[0] = Combine::combine(lanes[0],
                                    static_cast<A>(*reinterpret_cast<const T*>(p[1] + i * s[1])));
      A r = Combine::combine(Combine::combine(lanes[0], lanes[1]),
                             Combine::combine(lanes[2], lanes[3]));
      *acc = Combine::combine(*acc, r);
      return;
    }
    if (s[0] == sizeof(A) && s[1] == sizeof(T)) {
      combine_contiguous<T, A, Combine>(acc, reinterpret_cast<const T*>(p[1]), n);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      A* a = reinterpret_cast<A*>(p[0] + i * s[0]);
      *a = Combine::combine(*a, static_cast<A>(*reinterpret_cast<const T*>(p[1] + i * s[1])));
    }
  };
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int id = omp_get_thread_num();
    const TensorView acc = accumulator_view(out, dtype_of<A>(), partial.data() + id * out_numel);
    const LoopPlan<2> plan = make_plan<2>({&acc, &in});
    const int64_t chunk = (total + threads - 1) / threads;
    const int64_t begin = std::min(total, id * chunk), end = std::min(total, begin + chunk);
    auto local = inner;
    if (begin < end) run_range<2>(plan, begin, end, local);
  }
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < out_numel; ++i)
      partial[i] = Combine::combine(partial[i], partial[t * out_numel + i]);
  // Store: divide (for mean: sum / n, 0 / 0 = NaN when empty) in the accumulator type, then
  // round once into out's dtype.
  const TensorView out_small = collapse_reduced(out, out);
  const TensorView acc_small =
      collapse_reduced(accumulator_view(out, dtype_of<A>(), partial.data()), out);
  dispatch_all(out.dtype, [&]<typename O>() {
    for_each<2>({&out_small, &acc_small}, [divisor](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        A v = *reinterpret_cast<const A*>(p[1] + i * s[1]);
        if (divisor != 1.0) v = static_cast<A>(v / static_cast<A>(divisor));
        *reinterpret_cast<O*>(p[0] + i * s[0]) = convert<O>(v);
      }
    });
  });
}

}  // namespace

void reduce(ReduceOp op, const TensorView& in, const TensorView& out) {
  int64_t reduced = 1;
  for (int d = 0; d < in.ndim; ++d)
    if (out.strides[d] == 0) reduced *= in.sizes[d];
  dispatch_all(in.dtype, [&]<typename T>() {
    using A = typename SumAcc<T>::type;
    using E = std::conditional_t<std::is_same_v<T, double>, double, compute_t<T>>;
    switch (op) {
      case ReduceOp::Sum:
        return reduce_into<T, A, SumCombine<A>>(in, out, 1.0);
      case ReduceOp::Mean:
        return reduce_into<T, A, SumCombine<A>>(in, out, static_cast<double>(reduced));
      case ReduceOp::Max:
        return reduce_into<T, E, ExtremeCombine<E, true>>(in, out, 1.0);
      case ReduceOp::Min:
        return reduce_into<T, E, ExtremeCombine<E, false>>(in, out, 1.0);
      case ReduceOp::Prod:
        return reduce_into<T, A, ProdCombine<A>>(in, out, 1.0);
    }
  });
}

}  // namespace hg::kernels::cpu

namespace hg::kernels::cpu {

// For every position of `in` with `dim` removed, scans along dim for the first extreme value
// (a NaN counts as the extreme, as in PyTorch).
void arg_reduce(bool is_max, const TensorView& in, int dim, const TensorView* values,
                const TensorView& indices) {
  TensorView slice = in;  // in with dim collapsed: one entry per output position
  slice.sizes[dim] = 1;
  const int64_t length = in.sizes[dim];
  dispatch_all(in.dtype, [&]<typename T>() {
    using C = compute_t<T>;
    const int64_t step = in.strides[dim] * static_cast<int64_t>(sizeof(T));
    const TensorView& vals = values != nullptr ? *values : indices;
    const bool write_values = values != nullptr;
    for_each<3>({&indices, &vals, &slice}, [=](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const char* base = p[2] + i * s[2];
        C best = static_cast<C>(*reinterpret_cast<const T*>(base));
        int64_t best_at = 0;
        for (int64_t j = 1; j < length && best == best; ++j) {
          const C x = static_cast<C>(*reinterpret_cast<const T*>(base + j * step));
          if (x != x || (is_max ? x > best : x < best)) {
            best = x;
            best_at = j;
          }
        }
        *reinterpret_cast<int64_t*>(p[0] + i * s[0]) = best_at;
        if (write_values) *reinterpret_cast<T*>(p[1] + i * s[1]) = static_cast<T>(best);
      }
    });
  });
}

}  // namespace hg::kernels::cpu
