#pragma once
// im2col / col2im for one sample and one group of a contiguous NCHW tensor, the building blocks
// of the CPU convolution (kernels/cpu/conv.cpp). The column matrix has one row per
// (channel, kh, kw) and one column per output position (oh, ow), row-major with leading
// dimension `ld` (>= HO * WO). Input elements of type T are converted to the compute type C on
// the way in (fp16/bf16 -> float); col2im accumulates in the type of its destination.
//
// No bounds checks or div/mod in the inner loops: the loops read a zero-bordered copy of each
// input plane (or the plane itself when there is no padding), and col2im accumulates into one.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "halfgrad/kernels/cpu/convert_bulk.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

struct ConvGeometry {
  int64_t channels = 0;  // input channels of one group
  int64_t h = 0, w = 0;  // input plane
  int64_t kh = 0, kw = 0;
  int64_t ho = 0, wo = 0;  // output plane
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;

  int64_t rows() const { return channels * kh * kw; }
  int64_t cols() const { return ho * wo; }
};

// The input plane seen by the column loops: with padding (or a type change) a zero-bordered
// copy of size (h + 2 ph) x (w + 2 pw) in `padded`, whose border the caller zeroed once and
// no call writes; else the plane itself. The column loops then need no bounds checks.
template <typename T, typename C>
const C* padded_plane(const T* plane, const ConvGeometry& g, C* padded) {
  if constexpr (std::is_same_v<T, C>) {
    if (g.ph == 0 && g.pw == 0) return plane;
  }
  const int64_t wp = g.w + 2 * g.pw;
  for (int64_t ih = 0; ih < g.h; ++ih) {
    widen_n(plane + ih * g.w, padded + (ih + g.ph) * wp + g.pw, g.w);
  }
  return padded;
}

inline int64_t padded_size(const ConvGeometry& g) { return (g.h + 2 * g.ph) * (g.w + 2 * g.pw); }

// cols[(c * KH + i) * KW + j][oh * WO + ow] = x[c][oh * sh - ph + i * dh][ow * sw - pw + j * dw]
// (zero outside the image). `padded` holds padded_size(g) elements, zero when first passed in.
template <typename T, typename C>
void im2col(const T* x, const ConvGeometry& g, C* cols, int64_t ld, C* padded) {
  const int64_t wp = g.w + 2 * g.pw;
  C* row = cols;
  for (int64_t c = 0; c < g.channels; ++c) {
    const C* plane = padded_plane(x + c * g.h * g.w, g, padded);
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j, row += ld) {
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const C* src = plane + (oh * g.sh + i * g.dh) * wp + j * g.dw;
          C* dst = row + oh * g.wo;
          if (g.sw == 1) {
            copy_row(src, dst, g.wo);
          } else {
            for (int64_t o = 0; o < g.wo; ++o) dst[o] = src[o * g.sw];
          }
        }
      }
    }
  }
}

// The adjoint of im2col: x[c][ih][iw] = the sum of the column entries im2col read from there.
// x is written (not accumulated into), in the compute type; `padded` as for im2col (scratch).
template <typename C>
void col2im(const C* cols, int64_t ld, const ConvGeometry& g, C* x, C* padded) {
  const int64_t wp = g.w + 2 * g.pw, hp = g.h + 2 * g.ph;
  const bool in_place = g.ph == 0 && g.pw == 0;
  const C* row = cols;
  for (int64_t c = 0; c < g.channels; ++c) {
    C* plane = in_place ? x + c * g.h * g.w : padded;
    std::fill(plane, plane + hp * wp, C(0));
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j, row += ld) {
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          C* dst = plane + (oh * g.sh + i * g.dh) * wp + j * g.dw;
          const C* src = row + oh * g.wo;
          if (g.sw == 1) {
            for (int64_t o = 0; o < g.wo; ++o) dst[o] += src[o];
          } else {
            for (int64_t o = 0; o < g.wo; ++o) dst[o * g.sw] += src[o];
          }
        }
      }
    }
    if (in_place) continue;
    for (int64_t ih = 0; ih < g.h; ++ih)  // the interior; the border is dropped
      std::copy(plane + (ih + g.ph) * wp + g.pw, plane + (ih + g.ph) * wp + g.pw + g.w,
                x + c * g.h * g.w + ih * g.w);
  }
}

}  // namespace hg::kernels::cpu
