#pragma once
// The shape of one conv2d call and its im2col / col2im kernels (kernels/cuda/conv.cu).
//
// A column matrix holds, for samples [n0, n0 + nb) and one group, the entry (b, r, p) with
// r = (c * KH + i) * KW + j and p = oh * WO + ow at b * sb + r * sr + p. Two layouts are used:
//  - per sample, [nb][kg][hwo] (sb = kg * hwo, sr = hwo): batched GEMMs, one per sample;
//  - shared columns, [kg][nb * hwo] (sb = hwo, sr = nb * hwo): one GEMM whose K runs over all
//    samples of the chunk (grad_weight sums over the batch inside cuBLAS).
#include <cstdint>
#include <type_traits>

#include "halfgrad/kernels/cuda/index_div.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/nn_kernels.h"

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

// Samples per chunk so that one column matrix of element_bytes-sized entries stays under
// kMaxColumnBytes (one sample's, when that alone is larger), and so does an output-sized
// buffer beside it (the weight gradient's gathered grad_out, the shared forward's product) with
// with_outputs, when cout > kg. The buffer is live at the start of
// the backward pass, when nearly every activation still is: at 2^25 entries, ResNet-9's last
// layers took 128 MiB of fp32 grad_x columns there, most of halfgrad's excess over PyTorch's
// peak memory on the H200 (1323 against 1241 MB, docs/performance.md).
inline constexpr int64_t kMaxColumnBytes = int64_t{32} << 20;
inline int64_t chunk_samples(const Shape& s, int64_t element_bytes, bool with_outputs = false) {
  const int64_t rows = with_outputs && s.cout > s.kg ? s.cout : s.kg;
  const int64_t per_sample = (rows * s.hwo > 0 ? rows * s.hwo : 1) * element_bytes;
  const int64_t nb = kMaxColumnBytes / per_sample;
  return nb < 1 ? 1 : (nb > s.n ? s.n : nb);
}

struct Layout {
  int64_t sb, sr;
};
inline Layout per_sample_layout(const Shape& s) { return {s.kg * s.hwo, s.hwo}; }
inline Layout shared_layout(const Shape& s, int64_t nb) { return {s.hwo, nb * s.hwo}; }

// The divisors the index kernels below use, as FastDivmod or WideDivmod (kernels/cuda/index_div.h).
template <typename D>
struct Divisors {
  D wo, hwo, cg, w, hwi, sh, sw, cout;
};
template <typename D>
Divisors<D> divisors_of(const Shape& s) {
  return {D(s.wo), D(s.hwo), D(s.cg), D(s.w), D(s.hwi), D(s.sh), D(s.sw), D(s.cout)};
}
// The largest index or divisor those kernels divide, for with_index_width: flat indices of
// nb samples' columns, inputs and output gradients, and the padded input extents.
inline int64_t index_bound(const Shape& s, int64_t nb) {
  int64_t bound = nb * s.kg * s.hwo;
  for (const int64_t v :
       {nb * s.cg * s.hwi, nb * s.cout * s.hwo, s.h + s.ph + 1, s.w + s.pw + 1, s.cout, s.sh, s.sw})
    bound = v > bound ? v : bound;
  return bound;
}

// Signed arithmetic as wide as D's indices: coordinates may be negative (padding).
template <typename D>
using SignedIndex =
    std::conditional_t<std::is_same_v<typename D::Index, uint32_t>, int32_t, int64_t>;

// cols (type T, same as x) of group g of samples [n0, n0 + nb); zero outside the image. One
// thread per (sample, channel, V consecutive output positions) writes the kh x kw rows of those
// positions, V at a time (a 16-byte store when V = 16 / sizeof(T)): the index is divided once,
// not once per entry. KH, KW > 0 fix the window's size at compile time (3x3: the loops unroll
// and the loads are issued together); 0 reads it from s. plane_packs = hwo / V.
template <typename T, typename D, int KH, int KW, int V>
__global__ void im2col_kernel(const T* __restrict__ x, Shape s, int64_t n0, int64_t nb, int64_t g,
                              Layout layout, Divisors<D> d, D plane_packs, T* __restrict__ cols) {
  using I = typename D::Index;
  using S = SignedIndex<D>;
  const int kh = KH > 0 ? KH : static_cast<int>(s.kh), kw = KW > 0 ? KW : static_cast<int>(s.kw);
  const S h = static_cast<S>(s.h), w = static_cast<S>(s.w), sr = static_cast<S>(layout.sr);
  const I total = static_cast<I>(nb * s.cg * (s.hwo / V));
  for (I idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const I q = plane_packs.div(idx), p0 = (idx - q * plane_packs.divisor) * V;  // q = b cg + c
    const I b = d.cg.div(q), c = q - b * d.cg.divisor;
    S ih0[V], iw0[V];  // each position's window corner in the input
    I oh = d.wo.div(p0), ow = p0 - oh * d.wo.divisor;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      ih0[k] = static_cast<S>(oh) * static_cast<S>(s.sh) - static_cast<S>(s.ph);
      iw0[k] = static_cast<S>(ow) * static_cast<S>(s.sw) - static_cast<S>(s.pw);
      if (++ow == d.wo.divisor) ow = 0, ++oh;
    }
    const T* plane = x + ((n0 + static_cast<int64_t>(b)) * s.cin + g * s.cg + c) * s.hwi;
    T* out = cols + static_cast<int64_t>(b) * layout.sb + int64_t{c} * kh * kw * layout.sr + p0;
#pragma unroll
    for (int i = 0; i < kh; ++i) {
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        Vec<T, V> entries;
#pragma unroll
        for (int k = 0; k < V; ++k) {
          const S ih = ih0[k] + i * static_cast<S>(s.dh), iw = iw0[k] + j * static_cast<S>(s.dw);
          entries.v[k] =
              ih >= 0 && ih < h && iw >= 0 && iw < w ? plane[ih * w + iw] : Scalar<T>::store(0.0f);
        }
        store_pack<V>(out, (i * kw + j) * sr, entries);
      }
    }
  }
}

// The output position t / stride along one axis that reads input coordinate t + (the kernel
// offset), or -1 when none does (t negative, not on the stride, or past the output).
template <typename D, typename S>
__device__ inline S strided_source(S t, const D& stride, S out_extent) {
  using I = typename D::Index;
  if (t < 0) return -1;
  if (stride.divisor == 1) return t < out_extent ? t : -1;
  const I o = stride.div(static_cast<I>(t));
  return o * stride.divisor != static_cast<I>(t) || static_cast<S>(o) >= out_extent
             ? -1
             : static_cast<S>(o);
}

// grad_x of group g of samples [n0, n0 + nb) from cols (compute type A, per-sample layout):
// each input element gathers the column entries im2col read from it, in (i, j) order (the
// order the CPU's col2im adds them), and is rounded once. KH, KW as for im2col_kernel.
template <typename T, typename A, typename D, int KH, int KW>
__global__ void col2im_kernel(const A* __restrict__ cols, Shape s, int64_t n0, int64_t nb,
                              int64_t g, Divisors<D> d, T* __restrict__ gx) {
  using I = typename D::Index;
  using S = SignedIndex<D>;
  const int kh = KH > 0 ? KH : static_cast<int>(s.kh), kw = KW > 0 ? KW : static_cast<int>(s.kw);
  const S ho = static_cast<S>(s.ho), wo = static_cast<S>(s.wo), hwo = static_cast<S>(s.hwo);
  const I total = static_cast<I>(nb * s.cg * s.hwi);
  for (I idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const I q = d.hwi.div(idx), pos = idx - q * d.hwi.divisor;  // q = b * cg + c
    const I b = d.cg.div(q), c = q - b * d.cg.divisor;
    const I ih = d.w.div(pos), iw = pos - ih * d.w.divisor;
    const A* col_c = cols + static_cast<int64_t>(b) * s.kg * s.hwo + int64_t{c} * kh * kw * s.hwo;
    const S th0 = static_cast<S>(ih) + static_cast<S>(s.ph);
    const S tw0 = static_cast<S>(iw) + static_cast<S>(s.pw);
    A sum = 0;
#pragma unroll
    for (int i = 0; i < kh; ++i) {
      const S oh = strided_source(th0 - i * static_cast<S>(s.dh), d.sh, ho);
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        const S ow = strided_source(tw0 - j * static_cast<S>(s.dw), d.sw, wo);
        if (oh >= 0 && ow >= 0) sum += col_c[(i * kw + j) * hwo + oh * wo + ow];
      }
    }
    gx[((n0 + static_cast<int64_t>(b)) * s.cin + g * s.cg + c) * s.hwi + pos] =
        Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(sum));
  }
}

// Exact copies between an output-shaped tensor's samples [n0, n0 + nb) ([nb][cout][hwo]) and
// the shared layout [cout][nb * hwo], V positions at a time (plane_packs = hwo / V). ToShared:
// grad_out gathered for the weight gradient's GEMM; otherwise the forward's product over shared
// columns scattered back into the output.
template <typename T, typename D, int V, bool ToShared>
__global__ void regroup_kernel(const T* __restrict__ src, Shape s, int64_t n0, int64_t nb,
                               Divisors<D> d, D plane_packs, T* __restrict__ dst) {
  using I = typename D::Index;
  const I total = static_cast<I>(nb * s.cout * (s.hwo / V));
  for (I idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const I q = plane_packs.div(idx), p0 = (idx - q * plane_packs.divisor) * V;  // q = b cout + o
    const I b = d.cout.div(q), o = q - b * d.cout.divisor;
    const int64_t in_samples = n0 * s.cout * s.hwo + int64_t{idx} * V;
    const int64_t in_shared = (static_cast<int64_t>(o) * nb + b) * s.hwo + p0;
    if constexpr (ToShared)
      store_pack<V>(dst, in_shared, load_pack<V>(src, in_samples));
    else
      store_pack<V>(dst, in_samples, load_pack<V>(src, in_shared));
  }
}

// The launchers: 32-bit index arithmetic when the launch's indices allow it, and the loops
// over the kernel's window unrolled for 3x3 (body.template operator()<KH, KW>()).
template <typename Body>
void with_kernel_size(const Shape& s, Body&& body) {
  if (s.kh == 3 && s.kw == 3)
    body.template operator()<3, 3>();
  else
    body.template operator()<0, 0>();
}
template <typename T>
void im2col(const T* x, const Shape& s, int64_t n0, int64_t nb, int64_t g, Layout layout, T* cols,
            const char* what) {
  with_index_width(index_bound(s, nb), [&]<typename D>() {
    with_kernel_size(s, [&]<int KH, int KW>() {
      with_pack_width<T>(s.hwo, {cols}, [&]<int V>() {
        im2col_kernel<T, D, KH, KW, V>
            <<<grid_for(nb * s.cg * (s.hwo / V)), kBlockSize, 0, current_stream()>>>(
                x, s, n0, nb, g, layout, divisors_of<D>(s), D(s.hwo / V), cols);
      });
    });
  });
  HG_CUDA_LAUNCH_CHECK(what);
}
template <typename T, typename A>
void col2im(const A* cols, const Shape& s, int64_t n0, int64_t nb, int64_t g, T* gx) {
  with_index_width(index_bound(s, nb), [&]<typename D>() {
    with_kernel_size(s, [&]<int KH, int KW>() {
      col2im_kernel<T, A, D, KH, KW>
          <<<grid_for(nb * s.cg * s.hwi), kBlockSize, 0, current_stream()>>>(cols, s, n0, nb, g,
                                                                             divisors_of<D>(s), gx);
    });
  });
  HG_CUDA_LAUNCH_CHECK("conv2d_backward col2im_kernel");
}
template <bool ToShared, typename T>
void regroup(const T* src, const Shape& s, int64_t n0, int64_t nb, T* dst, const char* what) {
  with_index_width(index_bound(s, nb), [&]<typename D>() {
    with_pack_width<T>(s.hwo, {src, dst}, [&]<int V>() {
      regroup_kernel<T, D, V, ToShared>
          <<<grid_for(nb * s.cout * (s.hwo / V)), kBlockSize, 0, current_stream()>>>(
              src, s, n0, nb, divisors_of<D>(s), D(s.hwo / V), dst);
    });
  });
  HG_CUDA_LAUNCH_CHECK(what);
}
// dst [cout][nb * hwo] = grad_out of samples [n0, n0 + nb)
template <typename T>
void gather_grad_out(const T* go, const Shape& s, int64_t n0, int64_t nb, T* dst) {
  regroup<true>(go, s, n0, nb, dst, "conv2d_backward gather_grad_out_kernel");
}
// out of samples [n0, n0 + nb) = product [cout][nb * hwo]
template <typename T>
void scatter_to_samples(const T* product, const Shape& s, int64_t n0, int64_t nb, T* out) {
  regroup<false>(product, s, n0, nb, out, "conv2d scatter_to_samples_kernel");
}

// out = bias[o] over `total` entries in runs of `run` per channel, channels cycling: the
// samples' layout [nb][cout][hwo] (run = hwo) or the shared one [cout][nb * hwo] (run = nb hwo).
// The GEMM then adds the product with beta = 1, so the bias and the product are summed in fp32
// and rounded once, as on the CPU.
// D: the index width (kernels/cuda/index_div.h), fixed by the launcher for the chunk's size.
template <typename T, typename D>
__global__ void fill_bias_kernel(const T* bias, D positions, D channels, typename D::Index total,
                                 T* out) {
  using I = typename D::Index;
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x)
    out[i] = bias[channels.mod(positions.div(i))];
}

template <typename T>
void fill_bias(const T* bias, const Shape& s, int64_t nb, int64_t run, T* out,
               cudaStream_t stream) {
  const int64_t total = nb * s.cout * s.hwo;
  with_index_width(total, [&]<typename D>() {
    fill_bias_kernel<T, D><<<grid_for(total), kBlockSize, 0, stream>>>(
        bias, D(run), D(s.cout), static_cast<typename D::Index>(total), out);
  });
  HG_CUDA_LAUNCH_CHECK("conv2d fill_bias_kernel");
}

}  // namespace hg::cuda::conv
