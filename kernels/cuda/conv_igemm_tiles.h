#pragma once
// The index arithmetic of the implicit-GEMM convolution (kernels/cuda/conv_igemm.cu, and
// conv_igemm_wgrad.cu for the weight gradient): which weight, gradient and input element each
// thread of a block brings into the tiles, and where each result goes. Kept apart from the kernel
// and free of CUDA headers so that the CPU tests can run a whole convolution through exactly these
// functions (tests/kernels/test_conv_igemm_tiles.cpp): the tensor-core part of the kernel is
// standard, the indexing is where a convolution goes wrong.
//
// Per group g, the convolution is the GEMM  out[m][q] = sum_k W[m][k] * X[k][q]  with
//   m: the output channel within the group (og rows),
//   k = (c * KH + i) * KW + j: input channel c of the group, kernel tap (i, j) (kg = cg KH KW),
//   q = (b * ho + oh) * wo + ow: the output pixel over the whole batch (npix = n ho wo),
//   X[k][q] = x[b][g cg + c][oh sh - ph + i dh][ow sw - pw + j dw], 0 outside the image:
// the column matrix of im2col, read straight from x instead of being written out. A block
// computes a kTileM x kTileN tile of out, kTileK columns of W and rows of X at a time.
#include <cstdint>

#include "halfgrad/kernels/cuda/index_div.h"

namespace hg::cuda::igemm {

inline constexpr int kTileM = 128;  // output channels per block
inline constexpr int kTileN = 128;  // output pixels per block
inline constexpr int kTileK = 32;   // reduction steps per stage
inline constexpr int kThreads = 256;
inline constexpr int kVector = 8;  // 16-bit weights per 16-byte load
// Each thread loads kVectorsA 16-byte runs of the W tile (or kScalarsA single weights, when the
// rows are no whole number of runs) and kRowsB entries of the X tile.
inline constexpr int kVectorsA = kTileM * kTileK / kVector / kThreads;  // 2
inline constexpr int kScalarsA = kTileM * kTileK / kThreads;            // 16
inline constexpr int kRowsB = kTileK * kTileN / kThreads;               // 16

// One launch's shape, in 32-bit indices (the launcher checks that every offset fits).
struct Geometry {
  int32_t cin, h, w, hwi;  // input channels (all groups), height, width, h * w
  int32_t cout, og, cg;    // output channels (all groups), per group: out, in
  int32_t kg;              // cg * KH * KW: the reduction length
  int32_t ho, wo, hwo;     // output height, width, ho * wo
  int32_t npix;            // n * hwo: the GEMM's columns
  int32_t sh, sw, ph, pw, dh, dw;
  FastDivmod by_hwo, by_wo;
};

// The output pixel whose column of X a thread loads: fixed for the whole launch, so its
// coordinates are worked out once. base: x's offset of (b, g cg, 0, 0).
struct PixelSource {
  int32_t base = 0, ih0 = 0, iw0 = 0;
  bool valid = false;
};

HG_INDEX_FN PixelSource pixel_source(const Geometry& s, int32_t pixel, int32_t group) {
  PixelSource px;
  if (pixel >= s.npix) return px;
  const uint32_t b = s.by_hwo.div(static_cast<uint32_t>(pixel));
  const uint32_t p = static_cast<uint32_t>(pixel) - b * static_cast<uint32_t>(s.hwo);
  const uint32_t oh = s.by_wo.div(p), ow = p - oh * static_cast<uint32_t>(s.wo);
  px.base = (static_cast<int32_t>(b) * s.cin + group * s.cg) * s.hwi;
  px.ih0 = static_cast<int32_t>(oh) * s.sh - s.ph;
  px.iw0 = static_cast<int32_t>(ow) * s.sw - s.pw;
  px.valid = true;
  return px;
}

// Row k of X as an offset into a sample's channels and a shift of the window: (c, i, j).
struct Tap {
  int32_t channel, di, dj;  // c * h * w, i * dh, j * dw
};

// KH and KW are compile-time, so dividing k by them is a multiply and a shift.
template <int KH, int KW>
HG_INDEX_FN Tap tap_of(const Geometry& s, int32_t k) {
  const int32_t c = k / (KH * KW), tap = k - c * (KH * KW);
  const int32_t i = tap / KW, j = tap - i * KW;
  return {c * s.hwi, i * s.dh, j * s.dw};
}

// x's offset of X[row of tap][pixel], or -1 where the entry is a zero (padding).
HG_INDEX_FN int32_t tap_offset(const Geometry& s, const PixelSource& px, const Tap& tap) {
  const int32_t ih = px.ih0 + tap.di, iw = px.iw0 + tap.dj;
  if (static_cast<uint32_t>(ih) >= static_cast<uint32_t>(s.h) ||
      static_cast<uint32_t>(iw) >= static_cast<uint32_t>(s.w))
    return -1;
  return px.base + tap.channel + ih * s.w + iw;
}

// x's offset of X[k][pixel], or -1 where the entry is a zero (padding, or past the matrix).
template <int KH, int KW>
HG_INDEX_FN int32_t column_offset(const Geometry& s, const PixelSource& px, int32_t k) {
  if (!px.valid || k >= s.kg) return -1;
  return tap_offset(s, px, tap_of<KH, KW>(s, k));
}

// Thread `tid`'s entries of the X tile: column tid % kTileN, rows tid / kTileN + r * 2, so a
// warp reads 32 neighbouring pixels of one row k (consecutive addresses for stride 1).
HG_INDEX_FN int b_column(int tid) { return tid % kTileN; }
HG_INDEX_FN int b_row(int tid, int r) { return tid / kTileN + r * (kThreads / kTileN); }

// Thread `tid`'s runs of the W tile: row tid / 4 + r * 64, columns (tid % 4) * 8 ... + 7.
HG_INDEX_FN int a_row(int tid, int r) {
  return tid / (kTileK / kVector) + r * (kThreads * kVector / kTileK);
}
HG_INDEX_FN int a_column(int tid) { return (tid % (kTileK / kVector)) * kVector; }

// Single weights: thread `tid`'s entry r is row (tid + r * 256) / 32, column tid % 32, so a
// warp reads 32 neighbouring weights of one row.
HG_INDEX_FN int a_scalar_row(int tid, int r) { return (tid + r * kThreads) / kTileK; }
HG_INDEX_FN int a_scalar_column(int tid) { return tid % kTileK; }

// W's offset of row m (within the group), column k; a weight (or a run of kVector, when kg is a
// multiple of kVector, so that a run is all in or all out) is loaded only inside the matrix.
HG_INDEX_FN bool weight_inside(const Geometry& s, int32_t m, int32_t k) {
  return m < s.og && k < s.kg;
}
HG_INDEX_FN int32_t weight_offset(const Geometry& s, int32_t group, int32_t m, int32_t k) {
  return (group * s.og + m) * s.kg + k;
}

// out's offset of (channel m of the group, pixel); the caller checks m < og, pixel < npix.
HG_INDEX_FN int32_t output_offset(const Geometry& s, int32_t group, int32_t m, int32_t pixel) {
  const uint32_t b = s.by_hwo.div(static_cast<uint32_t>(pixel));
  const int32_t p = pixel - static_cast<int32_t>(b) * s.hwo;
  return (static_cast<int32_t>(b) * s.cout + group * s.og + m) * s.hwo + p;
}

// ---- the weight gradient: gw[m][k] = sum_q grad_out[m][q] * X[k][q], over the pixels q ----
// A block computes a kTileM x kTileN tile of gw (channels m x rows k of X), kTileQ pixels per
// stage, over one slice of the pixels (split-K: the slices' fp32 partial sums are added in a
// fixed order afterwards, so the result does not depend on scheduling).
inline constexpr int kTileQ = 32;
inline constexpr int kRowsQ = kTileM * kTileQ / kThreads;  // 16 entries per thread and tile

// Thread `tid`'s entries of both tiles: pixel tid % 32 of the stage, rows tid / 32 + r * 8 (of
// grad_out's channels, and of X's rows k): a warp reads 32 neighbouring pixels of one row.
HG_INDEX_FN int q_column(int tid) { return tid % kTileQ; }
HG_INDEX_FN int q_row(int tid, int r) { return tid / kTileQ + r * (kThreads / kTileQ); }

// grad_out's offset of (channel 0 of the group, pixel), or -1 past the last pixel: channel m
// is m * hwo further.
HG_INDEX_FN int32_t grad_out_base(const Geometry& s, int32_t pixel, int32_t group) {
  if (pixel >= s.npix) return -1;
  const uint32_t b = s.by_hwo.div(static_cast<uint32_t>(pixel));
  const int32_t p = pixel - static_cast<int32_t>(b) * s.hwo;
  return (static_cast<int32_t>(b) * s.cout + group * s.og) * s.hwo + p;
}

// The pixel stages [first, last) of slice `split` of `splits`.
struct StageRange {
  int32_t first, last;
};
HG_INDEX_FN StageRange slice_stages(const Geometry& s, int32_t split, int32_t splits) {
  const int32_t stages = (s.npix + kTileQ - 1) / kTileQ, per = (stages + splits - 1) / splits;
  const int32_t first = split * per, last = first + per < stages ? first + per : stages;
  return {first < stages ? first : stages, last};
}

// The partial sums: [splits][cout][kg] in fp32.
HG_INDEX_FN int64_t partial_offset(const Geometry& s, int32_t split, int32_t group, int32_t m,
                                   int32_t k) {
  return (static_cast<int64_t>(split) * s.cout + group * s.og + m) * s.kg + k;
}

// The blocks of a launch: x over pixel tiles, y over channel tiles, z over groups.
HG_INDEX_FN int32_t tiles(int32_t extent, int32_t tile) { return (extent + tile - 1) / tile; }

// Pixel slices for the weight gradient: enough blocks for four per SM (a layer with few output
// tiles, like ResNet-9's first, has 5 tiles of 128 x 128 and half a million pixels), each slice
// at least 8 stages long, the fp32 partial sums at most kMaxPartialBytes.
inline constexpr int64_t kMaxPartialBytes = int64_t{32} << 20;
inline int32_t weight_grad_splits(const Geometry& s, int64_t groups, int64_t sms) {
  const int64_t tiles_mn = int64_t{tiles(s.og, kTileM)} * tiles(s.kg, kTileN) * groups;
  const int64_t stages = tiles(s.npix, kTileQ);
  const int64_t by_memory = kMaxPartialBytes / (int64_t{s.cout} * s.kg * 4);
  int64_t splits = (4 * sms + tiles_mn - 1) / tiles_mn;
  if (splits > stages / 8) splits = stages / 8;
  if (splits > by_memory) splits = by_memory;
  return static_cast<int32_t>(splits < 1 ? 1 : splits);
}

// A convolution's sizes as the launcher sees them (from conv::Shape, which needs CUDA headers).
struct ConvDims {
  int64_t n, cin, h, w, cout, groups, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw;
};

// Whether the kernels take this convolution: a 3x3 kernel (the one instantiated) and every
// offset below 2^31.
inline bool supported(const ConvDims& d) {
  const int64_t kg = d.cin / d.groups * d.kh * d.kw, limit = int64_t{1} << 31;
  return d.kh == 3 && d.kw == 3 && d.n * d.cin * d.h * d.w < limit &&
         d.n * d.cout * d.ho * d.wo < limit && d.cout * kg < limit && d.n > 0 && d.cout > 0 &&
         kg > 0 && d.ho > 0 && d.wo > 0;  // (a grid of 0 blocks is an invalid launch)
}
// Whether the forward can load its weights in 16-byte runs: the rows (the reduction length)
// whole runs long; the launcher also checks the weights' alignment.
inline bool whole_weight_runs(const ConvDims& d) {
  return (d.cin / d.groups * d.kh * d.kw) % kVector == 0;
}

inline Geometry make_geometry(const ConvDims& d) {
  auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
  Geometry s{};
  s.cin = i32(d.cin), s.h = i32(d.h), s.w = i32(d.w), s.hwi = i32(d.h * d.w);
  s.cout = i32(d.cout), s.og = i32(d.cout / d.groups), s.cg = i32(d.cin / d.groups);
  s.kg = i32(d.cin / d.groups * d.kh * d.kw);
  s.ho = i32(d.ho), s.wo = i32(d.wo), s.hwo = i32(d.ho * d.wo), s.npix = i32(d.n * d.ho * d.wo);
  s.sh = i32(d.sh), s.sw = i32(d.sw), s.ph = i32(d.ph), s.pw = i32(d.pw);
  s.dh = i32(d.dh), s.dw = i32(d.dw);
  s.by_hwo = FastDivmod(s.hwo), s.by_wo = FastDivmod(s.wo);
  return s;
}

}  // namespace hg::cuda::igemm
