// The bf16 GEMM of kernels/cpu/gemm_bf16.h: GotoBLAS's blocking around a 12 x 32 micro-kernel.
//
// vdpbf16ps works on pairs along k: each 32-bit lane holds two bf16 values (k = 2p in the low
// half, 2p + 1 in the high half), and acc[j] += a.lo * b.lo + a.hi * b.hi lane by lane. So both
// operands are packed as such pairs: a panel of B as [k / 2][32 columns] (two zmm registers per
// pair of k), a panel of A as [k / 2][12 rows], each row's pair broadcast to all 16 lanes. An
// odd k gets a zero high half. The 12 x 32 tile keeps 24 accumulators in registers, and each
// pair of k costs 2 loads and 12 broadcasts for 24 vdpbf16ps.
//
// Blocks: kKc values of k at a time; a B block of kNc columns (512 KiB) stays in L2, and the
// micro-kernel keeps one 32-column panel of it (32 KiB) in L1 while it sweeps an A block of kMc
// rows (48 KiB, from L2). Chosen on a Zen 5 with bench_gemm (2 threads, 1024^3: 586-695
// GFLOP/s over kKc 256..512, kMc 48..96, kNc 512..2048; OpenBLAS's sgemm 320-340 in the same
// runs; docs/blas.md).
#include "halfgrad/kernels/cpu/gemm_bf16.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "halfgrad/core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HG_GEMM_BF16_X86 1  // the kernel below; elsewhere gemm_bf16 is never supported
#endif

namespace hg::kernels::cpu {

namespace {

#if defined(HG_GEMM_BF16_X86)

constexpr int kMr = 12, kNr = 32;  // the micro-kernel's tile
constexpr int64_t kKc = 512, kMc = 48, kNc = 512;
constexpr int64_t kParallelMacs = int64_t{1} << 18;  // smaller products stay on one thread

uint32_t bits16(BFloat16 v) { return v.bits; }
uint32_t bits16(float v) { return std::bit_cast<uint32_t>(v) >> 16; }  // a bf16 value's bits

// The pair (k, k + 1) at `at`, whose k stride is `step`.
template <typename S>
uint32_t pair_at(const S* at, int64_t step) {
  if constexpr (std::is_same_v<S, BFloat16>) {
    if (step == 1) {  // the pair is one 32-bit word
      uint32_t word;
      std::memcpy(&word, at, sizeof(word));
      return word;
    }
  }
  return bits16(at[0]) | bits16(at[step]) << 16;
}

// Transposes the 16 x 16 matrix of 32-bit words r[row][column] in place: two rounds of unpacks
// within 128-bit lanes, then two of 128-bit lanes regrouped across rows. (Zero-masked with a full
// mask, these are the plain instructions: GCC 12's plain intrinsics warn about their undefined
// pass-through operand.)
__attribute__((target("avx512f"))) inline void transpose_16x16(__m512i* r) {
  const __mmask16 all = 0xffff;
  const __mmask8 all8 = 0xff;
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_epi32(all, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_epi32(all, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_maskz_unpacklo_epi64(all8, t[i], t[i + 2]);
    r[i + 1] = _mm512_maskz_unpackhi_epi64(all8, t[i], t[i + 2]);
    r[i + 2] = _mm512_maskz_unpacklo_epi64(all8, t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_maskz_unpackhi_epi64(all8, t[i + 1], t[i + 3]);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_maskz_shuffle_i32x4(all, r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_maskz_shuffle_i32x4(all, r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_maskz_shuffle_i32x4(all, t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_maskz_shuffle_i32x4(all, t[i], t[i + 8], 0xdd);
  }
}

// 16 pairs (32 consecutive values of k) of `lanes` <= 16 lanes whose k stride is 1 (lane l at
// src + l * ls), as out[pair * W + lane]. Each lane's pairs are one 64-byte load for bf16, and
// for floats the high halves of two loads (one vpermt2w); a transpose turns lanes of pairs into
// pairs of lanes. The scalar loop it replaces spent 5 instructions a pair (a tenth of a bf16
// ResNet-9 step, in the weight gradients' transposed operands).
template <int W, typename S>
__attribute__((target("avx512f,avx512bw"))) void pack_16_pairs(const S* src, int64_t ls, int lanes,
                                                               uint32_t* out) {
  __m512i r[16];
  const __m512i high_halves =
      _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                       25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int l = 0; l < 16; ++l) {
    if (l >= lanes) {
      r[l] = _mm512_setzero_si512();
    } else if constexpr (std::is_same_v<S, BFloat16>) {
      r[l] = _mm512_loadu_si512(src + l * ls);
    } else {
      const __m512i low = _mm512_loadu_si512(src + l * ls);
      const __m512i high = _mm512_loadu_si512(src + l * ls + 16);
      r[l] = _mm512_permutex2var_epi16(low, high_halves, high);
    }
  }
  transpose_16x16(r);
  const auto mask = static_cast<__mmask16>(lanes >= 16 ? 0xffff : (1u << lanes) - 1);
  for (int p = 0; p < 16; ++p) _mm512_mask_storeu_epi32(out + p * W, mask, r[p]);
}

// One panel: `count` <= W lanes (rows of A, or columns of B) from `src`, lane stride ls and k
// stride ks, over kc values of k, as out[pair][lane]; lanes past count are 0, and so is the high
// half of an odd kc's last pair. The inner loop runs along whichever stride is 1, so the reads
// are sequential (and vectorize when the lanes are contiguous).
template <int W, typename S>
void pack_panel(const S* src, int64_t ls, int64_t ks, int count, int64_t kc, uint32_t* out) {
  const int64_t full = kc / 2, pairs = (kc + 1) / 2;
  if (ls == 1) {
    for (int64_t p = 0; p < full; ++p) {
      const S* first = src + 2 * p * ks;
      const S* second = first + ks;
      for (int l = 0; l < count; ++l) out[p * W + l] = bits16(first[l]) | bits16(second[l]) << 16;
    }
  } else {
    int64_t done = 0;  // pairs packed 16 at a time
    if (ks == 1)
      for (; done + 16 <= full; done += 16)
        for (int l0 = 0; l0 < count; l0 += 16)
          pack_16_pairs<W>(src + l0 * ls + 2 * done, ls, std::min(16, count - l0),
                           out + done * W + l0);
    for (int l = 0; l < count; ++l) {
      const S* lane = src + l * ls;
      for (int64_t p = done; p < full; ++p) out[p * W + l] = pair_at(lane + 2 * p * ks, ks);
    }
  }
  if (full < pairs)
    for (int l = 0; l < count; ++l) out[full * W + l] = bits16(src[(kc - 1) * ks + l * ls]);
  if (count < W)
    for (int64_t p = 0; p < pairs; ++p)
      for (int l = count; l < W; ++l) out[p * W + l] = 0;
}

// A [mc, kc] block (rows i0.., k p0..) as panels of kMr rows: out[panel][pair][row].
template <typename S>
void pack_a(MatrixRef<S> a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, uint32_t* out) {
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t ib = 0; ib < mc; ib += kMr, out += pairs * kMr)
    pack_panel<kMr>(a.data + (i0 + ib) * a.row_stride + p0 * a.col_stride, a.row_stride,
                    a.col_stride, static_cast<int>(std::min<int64_t>(kMr, mc - ib)), kc, out);
}

// B's [kc, nc] block (k p0.., columns j0..) as panels of kNr columns: out[panel][pair][column].
template <typename S>
void pack_b(MatrixRef<S> b, int64_t p0, int64_t kc, int64_t j0, int64_t nc, uint32_t* out) {
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t jb = 0; jb < nc; jb += kNr, out += pairs * kNr)
    pack_panel<kNr>(b.data + p0 * b.row_stride + (j0 + jb) * b.col_stride, b.col_stride,
                    b.row_stride, static_cast<int>(std::min<int64_t>(kNr, nc - jb)), kc, out);
}

// c [mr, nr] (row stride ldc) = beta c + the packed panels' product over `pairs` pairs of k.
// load_c false: c is only written (beta is 0).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void micro_kernel(
    int64_t pairs, const uint32_t* pa, const uint32_t* pb, float* c, int64_t ldc, int mr, int nr,
    bool load_c, float beta) {
  __m512 acc[kMr][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p, pa += kMr, pb += kNr) {
    const auto b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(pb));
    const auto b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(pb + 16));
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      const auto ai = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pa[i])));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
  }
  const auto low = static_cast<__mmask16>(nr >= 16 ? 0xffff : (1u << nr) - 1);
  const auto high = static_cast<__mmask16>(nr >= 32   ? 0xffff
                                           : nr <= 16 ? 0
                                                      : (1u << (nr - 16)) - 1);
  const __m512 scale = _mm512_set1_ps(beta);
  for (int i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (load_c) {  // beta c + sum, as sgemm rounds it
      r0 = _mm512_add_ps(_mm512_mul_ps(scale, _mm512_maskz_loadu_ps(low, row)), r0);
      r1 = _mm512_add_ps(_mm512_mul_ps(scale, _mm512_maskz_loadu_ps(high, row + 16)), r1);
    }
    _mm512_mask_storeu_ps(row, low, r0);
    _mm512_mask_storeu_ps(row + 16, high, r1);
  }
}

// This thread's packing buffers (scratch reused from call to call; nothing survives a call).
struct Panels {
  std::vector<uint32_t> a, b;
};
Panels& panels() {
  thread_local Panels p;
  return p;
}

// The whole product on the calling thread.
template <typename SA, typename SB>
void gemm_one_thread(int64_t m, int64_t n, int64_t k, MatrixRef<SA> a, MatrixRef<SB> b, float beta,
                     float* c, int64_t ldc) {
  Panels& buf = panels();
  const int64_t max_pairs = (std::min(k, kKc) + 1) / 2;
  buf.a.resize(static_cast<size_t>((kMc + kMr) * max_pairs));
  buf.b.resize(static_cast<size_t>((std::min(n, kNc) + kNr) * max_pairs));
  for (int64_t j0 = 0; j0 < n; j0 += kNc) {
    const int64_t nc = std::min(kNc, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kKc) {
      const int64_t kc = std::min(kKc, k - p0), pairs = (kc + 1) / 2;
      const bool first = p0 == 0, load_c = !first || beta != 0.0f;
      pack_b(b, p0, kc, j0, nc, buf.b.data());
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t mc = std::min(kMc, m - i0);
        pack_a(a, i0, mc, p0, kc, buf.a.data());
        for (int64_t jb = 0; jb < nc; jb += kNr)
          for (int64_t ib = 0; ib < mc; ib += kMr)
            micro_kernel(pairs, buf.a.data() + ib * pairs, buf.b.data() + jb * pairs,
                         c + (i0 + ib) * ldc + j0 + jb, ldc,
                         static_cast<int>(std::min<int64_t>(kMr, mc - ib)),
                         static_cast<int>(std::min<int64_t>(kNr, nc - jb)), load_c,
                         first ? beta : 1.0f);
      }
    }
  }
}

// Splits the longer of m and n across the threads, in whole tiles: every element of C is summed
// by one thread in the same order, so the bits do not depend on the thread count.
template <typename SA, typename SB>
void gemm_any(int64_t m, int64_t n, int64_t k, MatrixRef<SA> a, MatrixRef<SB> b, float beta,
              float* c, int64_t ldc) {
  HG_CHECK(bf16_gemm_supported(),
           "gemm_bf16: this CPU lacks AVX-512 BF16 (avx512f, avx512bw, "
           "avx512bf16); check bf16_gemm_enabled() first");
  HG_CHECK(m >= 0 && n >= 0 && k >= 0 && (m <= 1 || ldc >= n), "gemm_bf16: bad sizes m ", m, " n ",
           n, " k ", k, " ldc ", ldc);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || m * n * k < kParallelMacs)
    return gemm_one_thread(m, n, k, a, b, beta, c, ldc);
  const bool split_n = n >= m;
  const int64_t tile = split_n ? kNr : kMr, length = split_n ? n : m;
  const int64_t per = (length + threads * tile - 1) / (threads * tile) * tile;
#pragma omp parallel num_threads(threads)
  {
    const int64_t begin = omp_get_thread_num() * per, end = std::min(length, begin + per);
    if (begin < end && split_n) {
      const MatrixRef<SB> part{b.data + begin * b.col_stride, b.row_stride, b.col_stride};
      gemm_one_thread(m, end - begin, k, a, part, beta, c + begin, ldc);
    } else if (begin < end) {
      const MatrixRef<SA> part{a.data + begin * a.row_stride, a.row_stride, a.col_stride};
      gemm_one_thread(end - begin, n, k, part, b, beta, c + begin * ldc, ldc);
    }
  }
}

#else  // not x86-64

template <typename SA, typename SB>
void gemm_any(int64_t, int64_t, int64_t, MatrixRef<SA>, MatrixRef<SB>, float, float*, int64_t) {
  HG_FAIL("gemm_bf16: needs an x86-64 CPU with AVX-512 BF16; check bf16_gemm_enabled() first");
}

#endif

}  // namespace

bool bf16_gemm_supported() {
#if defined(HG_GEMM_BF16_X86)
  static const bool supported = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512bf16");
  return supported;
#else
  return false;
#endif
}

bool bf16_gemm_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("HG_CPU_BF16_GEMM");
    return bf16_gemm_supported() && (env == nullptr || std::string_view(env) != "0");
  }();
  return enabled;
}

template <typename SA, typename SB>
void gemm_bf16(int64_t m, int64_t n, int64_t k, MatrixRef<SA> a, MatrixRef<SB> b, float beta,
               float* c, int64_t ldc) {
  gemm_any(m, n, k, a, b, beta, c, ldc);
}

template void gemm_bf16(int64_t, int64_t, int64_t, MatrixRef<BFloat16>, MatrixRef<BFloat16>, float,
                        float*, int64_t);
template void gemm_bf16(int64_t, int64_t, int64_t, MatrixRef<float>, MatrixRef<float>, float,
                        float*, int64_t);
template void gemm_bf16(int64_t, int64_t, int64_t, MatrixRef<float>, MatrixRef<BFloat16>, float,
                        float*, int64_t);
template void gemm_bf16(int64_t, int64_t, int64_t, MatrixRef<BFloat16>, MatrixRef<float>, float,
                        float*, int64_t);

}  // namespace hg::kernels::cpu
