#pragma once
// Contiguous elementwise loops over fp16/bf16 in float blocks. Converting element by element
// (static_cast<float>(Half)) is a scalar call the compiler does not vectorise, and with it the
// select of relu's backward becomes a branch: a 16-bit elementwise pass then cost several times
// its fp32 twin. Here each block is widened with the 8-wide bulk conversions, computed in float
// (vectorisable), and rounded back with them: bit-identical to the per-element conversions
// (tests/kernels/test_cast.cpp checks the bulk conversions on every bit pattern).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "halfgrad/core/half.h"
#include "halfgrad/kernels/cpu/convert_bulk.h"

namespace hg::kernels::cpu {

template <typename T>
inline constexpr bool kIs16Bit = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

inline constexpr int64_t kFloatBlock = 256;  // 3 float blocks = 3 KiB: stays in L1

// out[i] = f(x[i]), i in [0, n)
template <typename T, typename F>
void map_16bit(T* out, const T* x, int64_t n, F f) {
  alignas(32) float xf[kFloatBlock];
  alignas(32) float of[kFloatBlock];
  for (int64_t start = 0; start < n; start += kFloatBlock) {
    const int64_t m = std::min(kFloatBlock, n - start);
    widen_n(x + start, xf, m);
    for (int64_t i = 0; i < m; ++i) of[i] = f(xf[i]);
    narrow_n(of, out + start, m);
  }
}

// out[i] = f(x[i], y[i]), i in [0, n); Out is T or a non-16-bit type (e.g. bool)
template <typename T, typename Out, typename F>
void map_16bit(Out* out, const T* x, const T* y, int64_t n, F f) {
  alignas(32) float xf[kFloatBlock];
  alignas(32) float yf[kFloatBlock];
  for (int64_t start = 0; start < n; start += kFloatBlock) {
    const int64_t m = std::min(kFloatBlock, n - start);
    widen_n(x + start, xf, m);
    widen_n(y + start, yf, m);
    if constexpr (std::is_same_v<Out, T>) {
      alignas(32) float of[kFloatBlock];
      for (int64_t i = 0; i < m; ++i) of[i] = f(xf[i], yf[i]);
      narrow_n(of, out + start, m);
    } else {
      for (int64_t i = 0; i < m; ++i) out[start + i] = static_cast<Out>(f(xf[i], yf[i]));
    }
  }
}

}  // namespace hg::kernels::cpu
