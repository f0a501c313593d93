#pragma once
// Fast paths of max pooling for 2x2 windows with stride 2 (the pooling of most CNNs), used by
// kernels/cpu/pool.cpp on one NCHW plane at a time.
//
// Forward: branch-free (random data makes a branchy max mispredict every other compare); fp32
// with AVX2 does 8 outputs per step. The rule is PyTorch's: a value replaces the running max
// when it is larger or NaN, scanning the window in row-major order.
//
// Backward: max_pool2d_backward gets no window parameters, only the argmax indices. When every
// index of a plane lies in its own output's 2x2 block (always so for 2x2/stride 2, and checked
// here), each block receives exactly one gradient, so the plane is written block by block
// (gradient at the argmax, zero elsewhere) in one pass, with no zeroing pass and no scatter.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

// One output of a 2x2 window whose top-left input is x[r0 + c] (second row at r1 = r0 + w).
template <typename T>
inline void max_2x2_one(const T* x, int64_t r0, int64_t r1, int64_t c, T* out, int64_t* idx) {
  using C = compute_t<T>;
  C best = convert<C>(x[r0 + c]);
  int64_t at = r0 + c;
  const int64_t pos[3] = {r0 + c + 1, r1 + c, r1 + c + 1};
  for (int64_t p : pos) {
    const C v = convert<C>(x[p]);
    const bool take = v > best || std::isnan(v);
    best = take ? v : best;
    at = take ? p : at;
  }
  *out = convert<T>(best);
  *idx = at;
}

#if defined(__AVX2__)
// 8 outputs from 16 columns of two rows. Shuffling even/odd columns puts the outputs in the
// lane order 0 1 4 5 2 3 6 7; one 64-bit permute restores it.
inline void max_2x2_x8(const float* row0, const float* row1, int64_t base, int32_t w, float* out,
                       int64_t* idx) {
  const __m256 a0 = _mm256_loadu_ps(row0), a1 = _mm256_loadu_ps(row0 + 8);
  const __m256 b0 = _mm256_loadu_ps(row1), b1 = _mm256_loadu_ps(row1 + 8);
  const __m256 cand[3] = {_mm256_shuffle_ps(a0, a1, 0xDD), _mm256_shuffle_ps(b0, b1, 0x88),
                          _mm256_shuffle_ps(b0, b1, 0xDD)};
  const __m256i offset[3] = {_mm256_set1_epi32(1), _mm256_set1_epi32(w), _mm256_set1_epi32(w + 1)};
  __m256 best = _mm256_shuffle_ps(a0, a1, 0x88);
  __m256i at = _mm256_setzero_si256();
  for (int k = 0; k < 3; ++k) {
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(cand[k], best, _CMP_GT_OQ),
                                     _mm256_cmp_ps(cand[k], cand[k], _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, cand[k], take);
    at = _mm256_blendv_epi8(at, offset[k], _mm256_castps_si256(take));
  }
  best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), 0xD8));
  at = _mm256_permute4x64_epi64(at, 0xD8);
  at = _mm256_add_epi32(at, _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
  _mm256_storeu_ps(out, best);
  const __m256i vbase = _mm256_set1_epi64x(base);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx),
                      _mm256_add_epi64(vbase, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at))));
  _mm256_storeu_si256(
      reinterpret_cast<__m256i*>(idx + 4),
      _mm256_add_epi64(vbase, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1))));
}

// The backward of 8 outputs (gradients g, argmax idx) written into 16 columns of two rows;
// false when some index is not in its own block.
inline bool max_unpool_2x2_x8(const float* g, const int64_t* idx, int64_t base, int64_t w,
                              float* row0, float* row1) {
  const __m256i first = _mm256_add_epi64(_mm256_set1_epi64x(base), _mm256_setr_epi64x(0, 2, 4, 6));
  const __m256i at[2] = {
      _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), first),
      _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 4)),
                       _mm256_add_epi64(first, _mm256_set1_epi64x(8)))};
  const __m256i where[4] = {_mm256_setzero_si256(), _mm256_set1_epi64x(1), _mm256_set1_epi64x(w),
                            _mm256_set1_epi64x(w + 1)};
  const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256 grad = _mm256_loadu_ps(g);
  __m256 part[4];
  __m256i any = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {  // 64-bit masks of outputs 0-3 and 4-7 -> one 8 x 32-bit mask
    const __m256i lo = _mm256_cmpeq_epi64(at[0], where[k]),
                  hi = _mm256_cmpeq_epi64(at[1], where[k]);
    const __m256i mask = _mm256_permutevar8x32_epi32(_mm256_blend_epi32(lo, hi, 0xAA), order);
    any = _mm256_or_si256(any, mask);
    part[k] = _mm256_and_ps(grad, _mm256_castsi256_ps(mask));
  }
  for (int r = 0; r < 2; ++r) {  // interleave even/odd columns of row r
    const __m256 lo = _mm256_unpacklo_ps(part[2 * r], part[2 * r + 1]);
    const __m256 hi = _mm256_unpackhi_ps(part[2 * r], part[2 * r + 1]);
    float* row = r == 0 ? row0 : row1;
    _mm256_storeu_ps(row, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(row + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
  return _mm256_movemask_epi8(any) == -1;
}
#endif

#if defined(__AVX2__)
// One output row of fp32 max pooling; the last (< 8) outputs go through a zero-padded buffer.
inline void max_2x2_row(const float* x, int64_t r0, int64_t w, int64_t wo, float* o, int64_t* id) {
  const int64_t r1 = r0 + w;
  const auto w32 = static_cast<int32_t>(w);
  int64_t ow = 0;
  for (; ow + 8 <= wo; ow += 8)
    max_2x2_x8(x + r0 + 2 * ow, x + r1 + 2 * ow, r0 + 2 * ow, w32, o + ow, id + ow);
  if (ow == wo) return;
  const int64_t rest = wo - ow;
  float in0[16] = {}, in1[16] = {}, o8[8];
  int64_t i8[8];
  std::copy(x + r0 + 2 * ow, x + r0 + 2 * wo, in0);
  std::copy(x + r1 + 2 * ow, x + r1 + 2 * wo, in1);
  max_2x2_x8(in0, in1, r0 + 2 * ow, w32, o8, i8);
  std::copy(o8, o8 + rest, o + ow);
  std::copy(i8, i8 + rest, id + ow);
}
#endif

// One plane: x [h, w] -> out, idx [ho, wo] with ho <= h / 2, wo <= w / 2.
template <typename T>
void max_pool_2x2_plane(const T* x, int64_t w, int64_t ho, int64_t wo, T* out, int64_t* idx) {
  for (int64_t oh = 0; oh < ho; ++oh) {
    const int64_t r0 = 2 * oh * w;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
      if (w < (int64_t{1} << 30)) {
        max_2x2_row(x, r0, w, wo, out + oh * wo, idx + oh * wo);
        continue;
      }
    }
#endif
    for (int64_t ow = 0; ow < wo; ++ow)
      max_2x2_one(x, r0, r0 + w, 2 * ow, out + oh * wo + ow, idx + oh * wo + ow);
  }
}

// Writes the gradient of one plane gx [h, w] block by block from go, idx [ho, wo] when every
// index lies in its own block ([2 oh, 2 oh + 1] x [2 ow, 2 ow + 1]); rows and columns past
// the blocks get zeros. Returns false (gx partly written) when some index lies elsewhere.
template <typename T>
bool max_unpool_2x2_plane(const T* go, const int64_t* idx, int64_t h, int64_t w, int64_t ho,
                          int64_t wo, T* gx) {
  if (2 * ho > h || 2 * wo > w) return false;
  bool inside = true;
  for (int64_t oh = 0; oh < ho; ++oh) {
    T* g0 = gx + 2 * oh * w;
    T* g1 = g0 + w;
    int64_t ow = 0;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
      for (; ow + 8 <= wo; ow += 8)
        inside &= max_unpool_2x2_x8(go + oh * wo + ow, idx + oh * wo + ow, 2 * oh * w + 2 * ow, w,
                                    g0 + 2 * ow, g1 + 2 * ow);
      if (ow < wo) {  // the last < 8 outputs, through a buffer
        const int64_t rest = wo - ow, base = 2 * oh * w + 2 * ow;
        float g8[8] = {}, out0[16], out1[16];
        int64_t i8[8];
        for (int64_t k = 0; k < 8; ++k) i8[k] = base + 2 * k;  // unused lanes: inside
        std::copy(go + oh * wo + ow, go + oh * wo + wo, g8);
        std::copy(idx + oh * wo + ow, idx + oh * wo + wo, i8);
        inside &= max_unpool_2x2_x8(g8, i8, base, w, out0, out1);
        std::copy(out0, out0 + 2 * rest, g0 + 2 * ow);
        std::copy(out1, out1 + 2 * rest, g1 + 2 * ow);
        ow = wo;
      }
    }
#endif
    for (; ow < wo; ++ow) {
      const int64_t at = idx[oh * wo + ow] - (2 * oh * w + 2 * ow);
      const T g = go[oh * wo + ow], zero = T(0);
      inside &= (at == 0) | (at == 1) | (at == w) | (at == w + 1);
      g0[2 * ow] = at == 0 ? g : zero;
      g0[2 * ow + 1] = at == 1 ? g : zero;
      g1[2 * ow] = at == w ? g : zero;
      g1[2 * ow + 1] = at == w + 1 ? g : zero;
    }
    if (!inside) return false;
    for (int64_t c = 2 * wo; c < w; ++c) g0[c] = g1[c] = T(0);
  }
  for (int64_t i = 2 * ho * w; i < h * w; ++i) gx[i] = T(0);
  return true;
}

}  // namespace hg::kernels::cpu
