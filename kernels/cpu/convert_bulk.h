#pragma once
// Bulk conversions between a storage type and its compute type (float for fp16/bf16) for the
// conv/pool kernels: the same results as convert<>() in loops.h (IEEE round-to-nearest-even,
// subnormals kept, overflow to inf, NaN stays a quiet NaN with its top payload bits), 8 values
// at a time: F16C instructions for fp16 where the build targets them, integer bit operations
// (which the compiler vectorises) for bf16. convert<>() on 16-bit values is a scalar bit-twiddle
// and dominates a 16-bit kernel that converts every element with it.
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

// dst[0, n) = src[0, n) in 32-byte moves; the last move overlaps the previous one rather than
// finishing element by element (the rows here are short: 14 or 28 elements in a small CNN).
template <typename C>
inline void copy_row(const C* src, C* dst, int64_t n) {
  constexpr int64_t kVec = 32 / static_cast<int64_t>(sizeof(C));
  if (n < kVec) {
    for (int64_t o = 0; o < n; ++o) dst[o] = src[o];
    return;
  }
  int64_t o = 0;
  for (; o + kVec <= n; o += kVec) std::memcpy(dst + o, src + o, 32);
  if (o < n) std::memcpy(dst + n - kVec, src + n - kVec, 32);
}

// dst[0, n) = src[0, n) as C.
template <typename T, typename C>
inline void widen_n(const T* src, C* dst, int64_t n) {
  if constexpr (std::is_same_v<T, C>) {
    copy_row(src, dst, n);
  } else if constexpr (std::is_same_v<T, BFloat16> && std::is_same_v<C, float>) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t bits = static_cast<uint32_t>(src[i].bits) << 16;
      std::memcpy(dst + i, &bits, sizeof bits);
    }
  } else if constexpr (std::is_same_v<T, Half> && std::is_same_v<C, float>) {
    int64_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i,
                       _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
    for (; i < n; ++i) dst[i] = static_cast<float>(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = convert<C>(src[i]);
  }
}

// dst[0, n) = src[0, n) rounded to T.
template <typename C, typename T>
inline void narrow_n(const C* src, T* dst, int64_t n) {
  if constexpr (std::is_same_v<T, C>) {
    copy_row(src, dst, n);
  } else if constexpr (std::is_same_v<T, BFloat16> && std::is_same_v<C, float>) {
    for (int64_t i = 0; i < n; ++i) {  // as detail::float_to_bfloat16_bits, branch-free
      uint32_t x;
      std::memcpy(&x, src + i, sizeof x);
      const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
      const bool nan = (x & 0x7fffffffu) > 0x7f800000u;
      dst[i].bits = static_cast<uint16_t>(nan ? ((x >> 16) | 0x40u) : rounded);
    }
  } else if constexpr (std::is_same_v<T, Half> && std::is_same_v<C, float>) {
    int64_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; ++i) dst[i] = Half(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = convert<T>(src[i]);
  }
}

}  // namespace hg::kernels::cpu
