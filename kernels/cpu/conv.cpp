// conv2d on the CPU: BLAS GEMMs per sample (or chunk of samples) and group, over shifted padded
// planes or an im2col matrix (the plan: kernels/cpu/conv_util.h), the chunks handed to the
// OpenMP threads as they finish, each thread with its own buffers of a chunk's size (nothing of
// the batch's size is allocated). The backward pass is in kernels/cpu/conv_backward.cpp.
//
// Numerics: fp16/bf16 operands are widened to float (the weight once per call, x one column
// matrix at a time), multiplied with fp32 accumulation and rounded once on store; fp64 runs in
// double. bf16 on a CPU with AVX-512 BF16 is multiplied by kernels/cpu/gemm_bf16.h, the same
// fp32 sums of exact products (docs/numerics.md), whose operands (weight, columns, grad_out) stay
// bf16: nothing is widened.
#include "halfgrad/kernels/cpu/conv_shifted.h"
#include "halfgrad/kernels/cpu/conv_util.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"

namespace hg::kernels::cpu {

namespace {

using conv::Scratch;

// Output rows of group g for samples [n0, n0 + nb) from the GEMM result res [og, nb * hwo]
// (a scratch buffer, changed here), plus the bias, rounded to T.
template <typename T, typename C>
void store_chunk(const conv::Shape& s, C* res, const C* bias, int64_t n0, int64_t nb, int64_t g,
                 T* out) {
  const int64_t ld = nb * s.hwo;
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t o = 0; o < s.og; ++o) {
      C* src = res + o * ld + b * s.hwo;
      if (bias != nullptr)
        for (int64_t i = 0; i < s.hwo; ++i) src[i] += bias[g * s.og + o];
      narrow_n(src, out + ((n0 + b) * s.cout + g * s.og + o) * s.hwo, s.hwo);
    }
  }
}

// w is of the compute type C, or bf16 for gemm_bf16.
template <typename T, typename C, typename W>
void forward_chunk(const conv::Shape& s, const T* x, const W* w, const C* bias, T* out, int64_t n0,
                   int64_t nb, Scratch<C>& scratch) {
  const int64_t cols = nb * s.hwo;
  for (int64_t g = 0; g < s.groups; ++g) {
    const W* w_g = w + g * s.og * s.kg;
    conv::with_chunk_columns(s, x, n0, nb, g, scratch, [&](const auto* colp) {
      if constexpr (std::is_same_v<T, C>) {
        if (nb == 1) {  // straight into the output, the bias preloaded
          T* out_g = out + (n0 * s.cout + g * s.og) * s.hwo;
          for (int64_t o = 0; bias != nullptr && o < s.og; ++o)
            std::fill(out_g + o * s.hwo, out_g + (o + 1) * s.hwo, bias[g * s.og + o]);
          conv::gemm<C>(s, false, false, s.og, s.hwo, s.kg, w_g, s.kg, colp, s.hwo,
                        bias != nullptr ? C(1) : C(0), out_g, s.hwo);
          return;
        }
      }
      scratch.stage.resize(static_cast<size_t>(s.og * cols));
      conv::gemm<C>(s, false, false, s.og, cols, s.kg, w_g, s.kg, colp, cols, C(0),
                    scratch.stage.data(), cols);
      store_chunk(s, scratch.stage.data(), bias, n0, nb, g, out);
    });
  }
}

// The shifted plan (kernels/cpu/conv_shifted.h) for sample n: wk is the packed weight.
template <typename T, typename C>
void forward_shifted(const conv::Shape& s, const T* x, const C* wk, const C* bias, T* out,
                     int64_t n, Scratch<C>& scratch) {
  scratch.stage.resize(static_cast<size_t>(s.og * s.grid));
  for (int64_t g = 0; g < s.groups; ++g) {
    const C* planes =
        conv::shifted_planes(s, x + (n * s.cin + g * s.geo.channels) * s.hwi, scratch);
    conv::shifted_forward(s, wk + g * s.og * s.kg, planes, scratch.stage.data());
    for (int64_t o = 0; o < s.og; ++o) {  // the first wo columns of each grid row, plus bias
      T* out_o = out + (n * s.cout + g * s.og + o) * s.hwo;
      for (int64_t oh = 0; oh < s.geo.ho; ++oh) {
        C* src = scratch.stage.data() + o * s.grid + oh * s.wp;
        if (bias != nullptr)
          for (int64_t i = 0; i < s.geo.wo; ++i) src[i] += bias[g * s.og + o];
        narrow_n(src, out_o + oh * s.geo.wo, s.geo.wo);
      }
    }
  }
}

// Samples [n0, n0 + nb): the shifted plan's (whose weight is packed, of the compute type C) or
// forward_chunk's.
template <typename T, typename C, typename W>
void forward_samples(const conv::Shape& s, const T* x, const W* w, const C* bias, T* out,
                     int64_t n0, int64_t nb, Scratch<C>& scratch) {
  if constexpr (std::is_same_v<W, C>) {
    if (s.shifted) return forward_shifted(s, x, w, bias, out, n0, scratch);
  }
  forward_chunk(s, x, w, bias, out, n0, nb, scratch);
}

template <typename T>
void conv_forward(const TensorView& xv, const TensorView& wv, const TensorView* bv,
                  const TensorView& ov, const Conv2dParams& p) {
  using C = compute_t<T>;
  const conv::Shape s = conv::make_shape(xv, wv, ov, p);
  ScratchVector<C> wbuf, bbuf;
  const C* bias = bv != nullptr ? as_compute(bv->ptr<T>(), s.cout, bbuf) : nullptr;
  const auto run = [&](const auto* w) {
    conv::for_chunks<C>(s, [&](int64_t n0, int64_t nb, Scratch<C>& scratch) {
      forward_samples(s, xv.ptr<T>(), w, bias, ov.ptr<T>(), n0, nb, scratch);
    });
  };
  if constexpr (std::is_same_v<T, BFloat16>) {
    if (s.bf16_gemm) return run(wv.ptr<T>());  // gemm_bf16 packs the bf16 weight as it is
  }
  if (s.shifted) conv::pack_shifted_weight(wv.ptr<T>(), s, wbuf);
  run(s.shifted ? wbuf.data() : as_compute(wv.ptr<T>(), wv.numel(), wbuf));
}

}  // namespace

void conv2d(const TensorView& x, const TensorView& weight, const TensorView* bias,
            const TensorView& out, const Conv2dParams& params) {
  dispatch_floating(x.dtype, "conv2d",
                    [&]<typename T>() { conv_forward<T>(x, weight, bias, out, params); });
}

}  // namespace hg::kernels::cpu
