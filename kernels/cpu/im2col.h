#pragma once
// im2col / col2im for one sample and one group of a contiguous NCHW tensor, the building blocks
// of the CPU convolution (kernels/cpu/conv.cpp). The column matrix has one row per
// (channel, kh, kw) and one column per output position (oh, ow), row-major with leading
// dimension `ld` (>= HO * WO). Input elements of type T are converted to the compute type C on
// the way in (fp16/bf16 -> float); col2im accumulates in the type of its destination.
//
// No div/mod in the inner loops: for each kernel offset the range of output positions whose
// input lies inside the image is computed once, the rest of the row is padding (zero).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/loops.h"

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

// Output positions o in [lo, hi) read input position o * stride + offset inside [0, len).
struct ValidRange {
  int64_t lo, hi;
};

inline ValidRange valid_range(int64_t len, int64_t out, int64_t stride, int64_t offset) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = len - offset <= 0 ? 0 : (len - offset - 1) / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

template <typename T>
inline void zero_fill(T* dst, int64_t count) {
  std::fill(dst, dst + count, T(0));
}

// One output row (fixed oh) of one column-matrix row: dst[ow] = src[base + ow * sw].
template <typename T, typename C>
inline void gather_row(const T* src, int64_t base, int64_t sw, ValidRange r, int64_t wo, C* dst) {
  zero_fill(dst, r.lo);
  if (sw == 1) {
    for (int64_t o = r.lo; o < r.hi; ++o) dst[o] = convert<C>(src[base + o]);
  } else {
    for (int64_t o = r.lo; o < r.hi; ++o) dst[o] = convert<C>(src[base + o * sw]);
  }
  zero_fill(dst + r.hi, wo - r.hi);
}

// cols[(c * KH + i) * KW + j][oh * WO + ow] = x[c][oh * sh - ph + i * dh][ow * sw - pw + j * dw]
template <typename T, typename C>
void im2col(const T* x, const ConvGeometry& g, C* cols, int64_t ld) {
  C* row = cols;
  for (int64_t c = 0; c < g.channels; ++c) {
    const T* plane = x + c * g.h * g.w;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t off_h = i * g.dh - g.ph;
      const ValidRange rh = valid_range(g.h, g.ho, g.sh, off_h);
      for (int64_t j = 0; j < g.kw; ++j, row += ld) {
        const int64_t off_w = j * g.dw - g.pw;
        const ValidRange rw = valid_range(g.w, g.wo, g.sw, off_w);
        zero_fill(row, rh.lo * g.wo);
        for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
          const int64_t base = (oh * g.sh + off_h) * g.w + off_w;
          gather_row(plane, base, g.sw, rw, g.wo, row + oh * g.wo);
        }
        zero_fill(row + rh.hi * g.wo, (g.ho - rh.hi) * g.wo);
      }
    }
  }
}

// The adjoint of im2col: x[c][ih][iw] += every column entry that im2col read from there.
// x is an accumulator in the compute type (float for fp16/bf16 tensors).
template <typename C>
void col2im(const C* cols, int64_t ld, const ConvGeometry& g, C* x) {
  const C* row = cols;
  for (int64_t c = 0; c < g.channels; ++c) {
    C* plane = x + c * g.h * g.w;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t off_h = i * g.dh - g.ph;
      const ValidRange rh = valid_range(g.h, g.ho, g.sh, off_h);
      for (int64_t j = 0; j < g.kw; ++j, row += ld) {
        const int64_t off_w = j * g.dw - g.pw;
        const ValidRange rw = valid_range(g.w, g.wo, g.sw, off_w);
        for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
          const int64_t base = (oh * g.sh + off_h) * g.w + off_w;  // >= 0 inside rw
          const C* src = row + oh * g.wo;
          if (g.sw == 1) {
            for (int64_t o = rw.lo; o < rw.hi; ++o) plane[base + o] += src[o];
          } else {
            for (int64_t o = rw.lo; o < rw.hi; ++o) plane[base + o * g.sw] += src[o];
          }
        }
      }
    }
  }
}

}  // namespace hg::kernels::cpu
