#pragma once
// The "shifted" plan of the CPU convolution (stride 1; see kernels/cpu/conv_util.h): with the
// input planes of a sample-group zero-padded to hp x wp and laid out ps apart, the input seen
// by kernel offset (i, j) is the same matrix [C / groups, ho * wp] shifted by
// i * dh * wp + j * dw elements. So
//     out'[o, q] = sum over (i, j) of W_ij[o, :] @ P[:, q + shift_ij]
// is one GEMM per kernel offset with K = C / groups and no im2col, computed on a grid of ho
// rows of wp columns of which the first wo are the output (the rest is computed and dropped:
// wp / wo times the useful work, 16 / 14 for a 3x3 / pad 1 on 14x14). Its adjoint for grad_x
// accumulates W_ij^T @ grad_out' into the padded planes at the same shifts: no col2im. The
// slack ps - hp * wp = (kw - 1) * dw after each plane keeps the shifted rows of one plane (read
// in the forward, written in the backward) from reaching into the next one.
#include <vector>

#include "halfgrad/kernels/cpu/conv_util.h"

namespace hg::kernels::cpu::conv {

// The weight [O, C / groups, KH, KW] as [groups][KH * KW][O / groups][C / groups] in the
// compute type: W_ij of group g at out + (g * KH * KW + ij) * og * cg.
template <typename T, typename C>
void pack_shifted_weight(const T* w, const Shape& s, ScratchVector<C>& out) {
  const int64_t cg = s.geo.channels, taps = s.geo.kh * s.geo.kw;
  out.resize(static_cast<size_t>(s.cout * s.kg));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t ij = 0; ij < taps; ++ij)
      for (int64_t o = 0; o < s.og; ++o)
        for (int64_t c = 0; c < cg; ++c)
          out[((g * taps + ij) * s.og + o) * cg + c] =
              convert<C>(w[((g * s.og + o) * cg + c) * taps + ij]);
}

inline int64_t shift_of(const Shape& s, int64_t i, int64_t j) {
  return i * s.geo.dh * s.wp + j * s.geo.dw;
}

// The zero-padded planes of sample-group x_g ([C / groups, H, W] of type T): only the
// interiors are written, the borders and slack of scratch.planes stay zero.
template <typename T, typename C>
const C* shifted_planes(const Shape& s, const T* x_g, Scratch<C>& scratch) {
  C* planes = scratch.planes.data();
  for (int64_t c = 0; c < s.geo.channels; ++c)
    for (int64_t ih = 0; ih < s.geo.h; ++ih)
      widen_n(x_g + c * s.hwi + ih * s.geo.w, planes + c * s.ps + (ih + s.geo.ph) * s.wp + s.geo.pw,
              s.geo.w);
  return planes;
}

// out' [og, grid] = sum over kernel offsets of W_ij @ (planes shifted).
template <typename C>
void shifted_forward(const Shape& s, const C* w_g, const C* planes, C* out) {
  const int64_t cg = s.geo.channels;
  for (int64_t i = 0; i < s.geo.kh; ++i)
    for (int64_t j = 0; j < s.geo.kw; ++j) {
      const int64_t ij = i * s.geo.kw + j;
      gemm<C>(s, false, false, s.og, s.grid, cg, w_g + ij * s.og * cg, cg,
              planes + shift_of(s, i, j), s.ps, ij == 0 ? C(0) : C(1), out, s.grid);
    }
}

// grad_x of one sample-group, gx_g [C / groups, H, W] of type T, from its grad_out go_g
// [og, hwo] in the compute type.
template <typename T, typename C>
void shifted_grad_x(const Shape& s, const C* w_g, const C* go_g, T* gx_g, Scratch<C>& scratch) {
  const int64_t cg = s.geo.channels;
  C* grid = scratch.grid.data();  // the unused columns stay zero: they add nothing below
  for (int64_t o = 0; o < s.og; ++o)
    for (int64_t oh = 0; oh < s.geo.ho; ++oh)
      copy_row(go_g + o * s.hwo + oh * s.geo.wo, grid + o * s.grid + oh * s.wp, s.geo.wo);
  C* dplanes = scratch.dplanes.data();
  std::fill(scratch.dplanes.begin(), scratch.dplanes.end(), C(0));
  for (int64_t i = 0; i < s.geo.kh; ++i)
    for (int64_t j = 0; j < s.geo.kw; ++j) {
      const int64_t ij = i * s.geo.kw + j;
      gemm<C>(s, true, false, cg, s.grid, s.og, w_g + ij * s.og * cg, cg, grid, s.grid, C(1),
              dplanes + shift_of(s, i, j), s.ps);
    }
  for (int64_t c = 0; c < cg; ++c)  // the interiors; what fell on the padding is dropped
    for (int64_t ih = 0; ih < s.geo.h; ++ih)
      narrow_n(dplanes + c * s.ps + (ih + s.geo.ph) * s.wp + s.geo.pw,
               gx_g + c * s.hwi + ih * s.geo.w, s.geo.w);
}

}  // namespace hg::kernels::cpu::conv
