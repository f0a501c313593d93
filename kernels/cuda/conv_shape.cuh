#pragma once
// The shape of one conv2d call and its im2col / col2im kernels (kernels/cuda/conv.cu).
//
// A column matrix holds, for samples [n0, n0 + nb) and one group, the entry (b, r, p) with
// r = (c * KH + i) * KW + j and p = oh * WO + ow at b * sb + r * sr + p. Two layouts are used:
//  - per sample, [nb][kg][hwo] (sb = kg * hwo, sr = hwo): batched GEMMs, one per sample;
//  - shared columns, [kg][nb * hwo] (sb = hwo, sr = nb * hwo): one GEMM whose K runs over all
//    samples of the chunk (grad_weight sums over the batch inside cuBLAS).
#include <cstdint>

#include "kernels/cuda/nn_common.cuh"
#include "kernels/nn_kernels.h"

namespace hg::cuda::conv {

struct Shape {
  int64_t n, cin, cout, groups, og, cg;
  int64_t h, w, kh, kw, ho, wo;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t kg, hwi, hwo;
  bool direct;  // 1x1, stride 1, no padding: a sample's column matrix is x itself
};

inline Shape make_shape(const kernels::TensorView& x, const kernels::TensorView& w,
                        const kernels::TensorView& out, const kernels::Conv2dParams& p) {
  Shape s{};
  s.n = x.sizes[0];
  s.cin = x.sizes[1];
  s.cout = w.sizes[0];
  s.groups = p.groups;
  s.og = s.cout / p.groups;
  s.cg = s.cin / p.groups;
  s.h = x.sizes[2], s.w = x.sizes[3], s.kh = w.sizes[2], s.kw = w.sizes[3];
  s.ho = out.sizes[2], s.wo = out.sizes[3];
  s.sh = p.stride_h, s.sw = p.stride_w, s.ph = p.pad_h, s.pw = p.pad_w;
  s.dh = p.dilation_h, s.dw = p.dilation_w;
  s.kg = s.cg * s.kh * s.kw;
  s.hwi = s.h * s.w;
  s.hwo = s.ho * s.wo;
  s.direct = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
  return s;
}

// Samples per chunk so that one column matrix stays under kMaxColumnElements elements.
inline constexpr int64_t kMaxColumnElements = int64_t{1} << 25;
inline int64_t chunk_samples(const Shape& s) {
  const int64_t per_sample = s.kg * s.hwo > 0 ? s.kg * s.hwo : 1;
  const int64_t nb = kMaxColumnElements / per_sample;
  return nb < 1 ? 1 : (nb > s.n ? s.n : nb);
}

struct Layout {
  int64_t sb, sr;
};
inline Layout per_sample_layout(const Shape& s) { return {s.kg * s.hwo, s.hwo}; }
inline Layout shared_layout(const Shape& s, int64_t nb) { return {s.hwo, nb * s.hwo}; }

// cols (type T, same as x) of group g of samples [n0, n0 + nb); zero outside the image.
template <typename T>
__global__ void im2col_kernel(const T* x, Shape s, int64_t n0, int64_t nb, int64_t g, Layout layout,
                              T* cols) {
  const int64_t total = nb * s.kg * s.hwo;
  HG_GRID_LOOP(idx, total) {
    const int64_t p = idx % s.hwo, r = (idx / s.hwo) % s.kg, b = idx / (s.hwo * s.kg);
    const int64_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
    const int64_t ih = (p / s.wo) * s.sh - s.ph + i * s.dh;
    const int64_t iw = (p % s.wo) * s.sw - s.pw + j * s.dw;
    T v = Scalar<T>::store(0.0f);
    if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
      v = x[((n0 + b) * s.cin + g * s.cg + c) * s.hwi + ih * s.w + iw];
    cols[b * layout.sb + r * layout.sr + p] = v;
  }
}

// grad_x of group g of samples [n0, n0 + nb) from cols (compute type A, per-sample layout):
// each input element gathers the column entries im2col read from it, in (i, j) order (the
// order the CPU's col2im adds them), and is rounded once.
template <typename T, typename A>
__global__ void col2im_kernel(const A* cols, Shape s, int64_t n0, int64_t nb, int64_t g, T* gx) {
  const int64_t total = nb * s.cg * s.hwi;
  HG_GRID_LOOP(idx, total) {
    const int64_t iw = idx % s.w, ih = (idx / s.w) % s.h;
    const int64_t c = (idx / s.hwi) % s.cg, b = idx / (s.hwi * s.cg);
    const A* col_b = cols + b * s.kg * s.hwo;
    A sum = 0;
    for (int64_t i = 0; i < s.kh; ++i) {
      const int64_t th = ih + s.ph - i * s.dh;
      if (th < 0 || th % s.sh != 0 || th / s.sh >= s.ho) continue;
      for (int64_t j = 0; j < s.kw; ++j) {
        const int64_t tw = iw + s.pw - j * s.dw;
        if (tw < 0 || tw % s.sw != 0 || tw / s.sw >= s.wo) continue;
        sum += col_b[((c * s.kh + i) * s.kw + j) * s.hwo + (th / s.sh) * s.wo + tw / s.sw];
      }
    }
    gx[((n0 + b) * s.cin + g * s.cg + c) * s.hwi + ih * s.w + iw] =
        Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(sum));
  }
}

// dst [cout][nb * hwo] = grad_out of samples [n0, n0 + nb) ([nb][cout][hwo]), exact copies.
template <typename T>
__global__ void gather_grad_out_kernel(const T* go, Shape s, int64_t n0, int64_t nb, T* dst) {
  const int64_t total = nb * s.cout * s.hwo;
  HG_GRID_LOOP(idx, total) {
    const int64_t p = idx % s.hwo, o = (idx / s.hwo) % s.cout, b = idx / (s.hwo * s.cout);
    dst[o * nb * s.hwo + b * s.hwo + p] = go[((n0 + b) * s.cout + o) * s.hwo + p];
  }
}

// out [nb][cout][hwo] = bias[o]: the GEMM then adds the product with beta = 1, so the bias
// and the product are summed in fp32 and rounded once, as on the CPU.
template <typename T>
__global__ void fill_bias_kernel(const T* bias, Shape s, int64_t nb, T* out) {
  const int64_t total = nb * s.cout * s.hwo;
  HG_GRID_LOOP(idx, total) out[idx] = bias[(idx / s.hwo) % s.cout];
}

// grad_bias[o] = sum over samples and positions of grad_out[n, o, :], one block per channel.
template <typename T, typename A>
__global__ void bias_grad_kernel(const T* go, Shape s, T* grad_bias) {
  const int64_t o = blockIdx.x, per = s.n * s.hwo;
  A sum = 0;
  for (int64_t k = threadIdx.x; k < per; k += blockDim.x)
    sum += static_cast<A>(Scalar<T>::load(go[((k / s.hwo) * s.cout + o) * s.hwo + k % s.hwo]));
  sum = block_sum(sum);
  if (threadIdx.x == 0)
    grad_bias[o] = Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(sum));
}

}  // namespace hg::cuda::conv
