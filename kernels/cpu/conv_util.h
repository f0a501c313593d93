#pragma once
// Shared pieces of the CPU convolution (kernels/cpu/conv.cpp forward, conv_backward.cpp
// backward): the problem's shape, the GEMM in the compute type, the split of the batch across
// threads, and the per-thread buffers.
//
// The plan, per group:
//  - stride-1 convolutions with a large enough plane and enough input channels (e.g. 3x3 on
//    14x14 and up, 8 to 32 channels; not bf16 where gemm_bf16 runs, which is faster on the one
//    GEMM) go "shifted" (kernels/cpu/conv_shifted.h), one sample at a
//    time: one GEMM with K = C / groups per kernel offset, over zero-padded input planes, with
//    no im2col in the forward pass and no col2im in grad_x; grad_weight still uses im2col;
//  - the others go through im2col, in chunks of `chunk` samples, one GEMM per chunk whose N
//    dimension is chunk * HO * WO (more than one sample when the planes are small, e.g. 4x4 in
//    a ResNet's last stage, where one sample per GEMM would leave BLAS a skinny matrix). Chunks
//    of one need no copies: the GEMM reads x (1x1 kernels) or the column matrix and writes the
//    output in place.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cpu/blas.h"
#include "halfgrad/kernels/cpu/compute_rows.h"
#include "halfgrad/kernels/cpu/convert_bulk.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"
#include "halfgrad/kernels/cpu/im2col.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/cpu/scratch_vector.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg::kernels::cpu::conv {

// Fewer output positions per sample than this: several samples share one GEMM.
inline constexpr int64_t kMinGemmColumns = 256;
// The shifted plan needs this many output positions and 8 .. 32 input channels (per group):
// measured (one thread, 3x3 pad 1) it saves 12% of a 32-channel 14x14 layer's forward +
// backward, breaks even at 64 channels and loses 5% at 128 and 256, where the GEMMs with K = C
// run slower than one with K = 9 C and im2col costs relatively little.
inline constexpr int64_t kMinShiftedColumns = 128;
inline constexpr int64_t kMinShiftedChannels = 8;
inline constexpr int64_t kMaxShiftedChannels = 32;

struct Shape {
  int64_t n = 0, cin = 0, cout = 0, groups = 1;
  int64_t og = 0;          // output channels per group
  int64_t kg = 0;          // rows of a group's column matrix: C / groups * KH * KW
  int64_t hwi = 0;         // input plane size
  int64_t hwo = 0;         // output plane size
  int64_t chunk = 1;       // samples per GEMM
  bool direct = false;     // 1x1, stride 1, no padding: the column matrix of one sample is x
  bool shifted = false;    // the shifted plan, one sample per GEMM
  bool bf16_gemm = false;  // bf16 tensors on a CPU with AVX-512 BF16: GEMMs by gemm_bf16
  int64_t hp = 0, wp = 0;  // the padded input plane
  int64_t ps = 0;          // stride between padded planes: hp * wp and the slack read past it
  int64_t grid = 0;        // shifted GEMM columns: ho * wp (wp - wo of each row are unused)
  ConvGeometry geo;
};

inline Shape make_shape(const TensorView& x, const TensorView& w, const TensorView& out,
                        const Conv2dParams& p) {
  Shape s;
  s.n = x.sizes[0];
  s.cin = x.sizes[1];
  s.cout = w.sizes[0];
  s.groups = p.groups;
  s.og = s.cout / p.groups;
  s.geo = {x.sizes[1] / p.groups, x.sizes[2], x.sizes[3], w.sizes[2], w.sizes[3], out.sizes[2],
           out.sizes[3],          p.stride_h, p.stride_w, p.pad_h,    p.pad_w,    p.dilation_h,
           p.dilation_w};
  s.kg = s.geo.rows();
  s.hwi = s.geo.h * s.geo.w;
  s.hwo = s.geo.cols();
  s.chunk = std::max<int64_t>(1, (kMinGemmColumns + s.hwo - 1) / std::max<int64_t>(s.hwo, 1));
  s.direct = s.geo.kh == 1 && s.geo.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
             p.pad_w == 0;
  // gemm_bf16 is faster on one GEMM with K = 9 C than the shifted plan's nine with K = C (the
  // cnn's bf16 conv2 on the Zen 5: 12.6 -> 11.6 ms forward + backward)
  s.bf16_gemm = x.dtype == DType::BFloat16 && bf16_gemm_enabled();
  s.shifted = p.stride_h == 1 && p.stride_w == 1 && !s.direct && s.hwo >= kMinShiftedColumns &&
              s.geo.channels >= kMinShiftedChannels && s.geo.channels <= kMaxShiftedChannels &&
              !s.bf16_gemm;
  if (s.shifted) s.chunk = 1;
  s.hp = s.geo.h + 2 * p.pad_h;
  s.wp = s.geo.w + 2 * p.pad_w;
  s.ps = s.hp * s.wp + (s.geo.kw - 1) * p.dilation_w;
  s.grid = s.geo.ho * s.wp;
  return s;
}

// The GEMM in the compute type C, row-major with transposes as blas.h's (alpha 1). With
// s.bf16_gemm, kernels/cpu/gemm_bf16.h multiplies the operands, which are bf16 or widened bf16
// values (the only case where A or B may differ from C).
template <typename C, typename A, typename B>
void gemm(const Shape& s, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const A* a,
          int64_t lda, const B* b, int64_t ldb, C beta, C* c, int64_t ldc) {
  if constexpr (std::is_same_v<C, double>) {
    dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  } else {
    if constexpr (std::is_same_v<A, C> && std::is_same_v<B, C>) {
      if (!s.bf16_gemm) return sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    }
    gemm_bf16(m, n, k, MatrixRef<A>{a, ta ? 1 : lda, ta ? lda : 1},
              MatrixRef<B>{b, tb ? 1 : ldb, tb ? ldb : 1}, beta, c, ldc);
  }
}

template <typename T, typename C>
void narrow_store(const C* src, int64_t count, T* dst) {
  narrow_n(src, dst, count);
}

// How many OpenMP threads share a convolution over the samples: all of them when there are at
// least as many `units` (samples, or chunks of them) as threads and the whole job has at least
// kParallelMacs multiply-adds, else 1 (this thread, whose BLAS calls may use the threads
// themselves). Why the floor: a parallel region costs microseconds on an idle machine, but on a
// busy one a thread that waits for a descheduled partner spins; the many tiny convolutions of a
// gradient check took 100 s instead of 1.
inline constexpr int64_t kParallelMacs = int64_t{1} << 18;
inline int sample_threads(const Shape& s, int64_t units) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t macs = s.n * s.cout * s.kg * s.hwo;
  return threads <= 1 || units < threads || macs < kParallelMacs ? 1 : threads;
}

// Runs body(begin, end, thread) over the samples [0, n), split evenly across sample_threads(s, n)
// threads (each then calls a single-threaded BLAS). Returns the threads used. The backward pass
// uses it: each thread sums its own partial weight gradient, so the split must not depend on
// timing.
template <typename F>
int for_samples(const Shape& s, F&& body) {
  const int threads = sample_threads(s, s.n);
  if (threads == 1) {
    body(int64_t{0}, s.n, 0);
    return 1;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t id = omp_get_thread_num(), count = omp_get_num_threads();
    body(s.n * id / count, s.n * (id + 1) / count, static_cast<int>(id));
  }
  return threads;
}

// A thread's buffers, in the compute type: the column matrix of a chunk, the zero-bordered
// plane of im2col (its border is never written), col2im's padded accumulator, staging for
// outputs or gradients that cannot be used in place; for the shifted plan the zero-bordered
// planes of a sample-group and their gradient, and grad_out on the GEMM grid (whose unused
// columns are never written, so stay zero). With s.bf16_gemm, the column matrix, im2col's plane
// and a chunk's grad_out in bf16 (cols16, padded16, stage16).
template <typename C>
struct Scratch {
  ScratchVector<C> cols, padded, accum, stage, stage2, planes, dplanes, grid;
  ScratchVector<BFloat16> cols16, padded16, stage16;
  explicit Scratch(const Shape& s)
      : padded(static_cast<size_t>(padded_size(s.geo)), C(0)), accum(padded.size()) {
    if (s.bf16_gemm) padded16.assign(padded.size(), BFloat16(0.0f));
    if (!s.shifted) return;
    planes.assign(static_cast<size_t>(s.geo.channels * s.ps), C(0));
    dplanes.resize(planes.size());
    grid.assign(static_cast<size_t>(s.og * s.grid), C(0));
  }
};

// The column matrix [kg, nb * hwo] of group g of samples [n0, n0 + nb) of x (type T), in type K.
template <typename K, typename T>
const K* chunk_columns(const Shape& s, const T* x, int64_t n0, int64_t nb, int64_t g,
                       ScratchVector<K>& cols, ScratchVector<K>& padded) {
  const T* x_g = x + (n0 * s.cin + g * s.geo.channels) * s.hwi;
  if constexpr (std::is_same_v<T, K>) {
    if (s.direct && nb == 1) return x_g;
  }
  cols.resize(static_cast<size_t>(s.kg * nb * s.hwo));
  for (int64_t b = 0; b < nb; ++b)
    im2col(x_g + b * s.cin * s.hwi, s.geo, cols.data() + b * s.hwo, nb * s.hwo, padded.data());
  return cols.data();
}

// Runs body(n0, nb, scratch) for each chunk of s.chunk samples [n0, n0 + nb), the chunks aligned
// at multiples of s.chunk (so which samples share a GEMM does not depend on the thread count),
// handed out to the threads one at a time as they finish, each thread with its own Scratch. For
// work whose results are independent per chunk (the forward pass, grad_x): unlike an even split, a
// thread on a slower core (a busy SMT sibling, an efficiency core, a noisy VM neighbour: on this
// project's 2-vCPU VM one vCPU ran the bf16 cnn step 35% slower than the other) takes fewer
// chunks instead of holding up the rest.
template <typename C, typename F>
void for_chunks(const Shape& s, F&& body) {
  const int64_t chunks = (s.n + s.chunk - 1) / s.chunk;
  const auto run = [&](int64_t i, Scratch<C>& scratch) {
    body(i * s.chunk, std::min(s.chunk, s.n - i * s.chunk), scratch);
  };
  const int threads = sample_threads(s, chunks);
  if (threads == 1) {
    Scratch<C> scratch(s);
    for (int64_t i = 0; i < chunks; ++i) run(i, scratch);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    Scratch<C> scratch(s);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < chunks; ++i) run(i, scratch);
  }
}

// use(columns) with chunk_columns' matrix: bf16 itself when gemm_bf16 multiplies bf16 tensors
// (half the bytes of widened columns, and the packing copies pairs instead of truncating
// floats: ~8% of a bf16 ResNet-9 step went to the widened columns), else in the compute type C.
template <typename C, typename T, typename F>
void with_chunk_columns(const Shape& s, const T* x, int64_t n0, int64_t nb, int64_t g,
                        Scratch<C>& scratch, F&& use) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    if (s.bf16_gemm) return use(chunk_columns(s, x, n0, nb, g, scratch.cols16, scratch.padded16));
  }
  use(chunk_columns(s, x, n0, nb, g, scratch.cols, scratch.padded));
}

}  // namespace hg::kernels::cpu::conv
