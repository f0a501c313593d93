#pragma once
// Helpers of the CPU normalisation kernels (norm.cpp: batch norm; layer_norm.cpp): parameter and
// statistics views, rows visited in blocks in the compute type, and sums in double over
// interleaved lanes in a fixed order.
#include <algorithm>
#include <cstdint>

#include "halfgrad/kernels/cpu/blocked_16bit.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels::cpu::norm {

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
inline double lane_total(const double (&lane)[kLanes]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace hg::kernels::cpu::norm
