// The backward of conv2d on the CPU, chunk by chunk like the forward (kernels/cpu/conv_util.h):
// grad_bias = row sums of grad_out, grad_weight += grad_out @ cols^T, grad_x = col2im of
// W^T @ grad_out (or, in the shifted plan, W_ij^T @ grad_out accumulated at shifts), in two
// passes over the batch. grad_weight and grad_bias are summed per thread in the compute type over
// an even split of the samples and reduced in thread order, so a result depends only on the
// inputs and the thread count; grad_x's chunks are independent, and go to the threads as they
// finish. All are rounded to the tensor's dtype once, at the end.
#include "halfgrad/kernels/cpu/conv_shifted.h"
#include "halfgrad/kernels/cpu/conv_util.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"

namespace hg::kernels::cpu {

namespace {

using conv::Scratch;

struct Wanted {
  const TensorView* x;
  const TensorView* weight;
  const TensorView* bias;
};

// A thread's partial grad_weight [O, kg] and grad_bias [O].
template <typename C>
struct Partial {
  ScratchVector<C> weight, bias;
};

// Sum in C of n values of K with 8 partial sums (a single running sum cannot vectorize).
template <typename C, typename K>
C row_sum(const K* p, int64_t n) {
  C part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += static_cast<C>(p[i + k]);
  for (; i < n; ++i) part[0] += static_cast<C>(p[i]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// grad_out of samples [n0, n0 + nb) as one [O, nb * hwo] matrix of K: grad_out itself for one
// sample when K is T, else a copy in `stage` (widened when K is the compute type).
template <typename K, typename T>
const K* chunk_grad_out(const conv::Shape& s, const T* grad_out, int64_t n0, int64_t nb,
                        ScratchVector<K>& stage) {
  const T* first = grad_out + n0 * s.cout * s.hwo;
  if (nb == 1) return as_compute(first, s.cout * s.hwo, stage);
  const int64_t ld = nb * s.hwo;
  stage.resize(static_cast<size_t>(s.cout * ld));
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t o = 0; o < s.cout; ++o)
      widen_n(first + (b * s.cout + o) * s.hwo, stage.data() + o * ld + b * s.hwo, s.hwo);
  return stage.data();
}

// use(go) with chunk_grad_out's matrix: bf16 itself where gemm_bf16 multiplies bf16 tensors (no
// copy at all for one sample, and its packing copies pairs instead of truncating floats), else in
// the compute type C.
template <typename C, typename T, typename F>
void with_chunk_grad_out(const conv::Shape& s, const T* grad_out, int64_t n0, int64_t nb,
                         Scratch<C>& scratch, F&& use) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    if (s.bf16_gemm) return use(chunk_grad_out(s, grad_out, n0, nb, scratch.stage16));
  }
  use(chunk_grad_out(s, grad_out, n0, nb, scratch.stage));
}

// grad_x of samples [n0, n0 + nb): per group, cols = W_g^T @ grad_out_g, then col2im per sample.
// w and go are of the compute type C, or bf16 values (bf16 or float) for gemm_bf16.
template <typename T, typename C, typename W, typename G>
void chunk_grad_x(const conv::Shape& s, const W* w, const G* go, int64_t n0, int64_t nb, T* gx,
                  Scratch<C>& scratch) {
  const int64_t ld = nb * s.hwo, plane = s.geo.channels * s.hwi;
  for (int64_t g = 0; g < s.groups; ++g) {
    const W* w_g = w + g * s.og * s.kg;
    const G* go_g = go + g * s.og * ld;
    T* gx_g = gx + (n0 * s.cin + g * s.geo.channels) * s.hwi;
    if constexpr (std::is_same_v<T, C>) {
      if (s.direct && nb == 1) {  // col2im is the identity: write the product in place
        conv::gemm<C>(s, true, false, s.kg, s.hwo, s.og, w_g, s.kg, go_g, s.hwo, C(0), gx_g, s.hwo);
        continue;
      }
    }
    scratch.cols.resize(static_cast<size_t>(s.kg * ld));
    conv::gemm<C>(s, true, false, s.kg, ld, s.og, w_g, s.kg, go_g, ld, C(0), scratch.cols.data(),
                  ld);
    for (int64_t b = 0; b < nb; ++b) {
      T* dst = gx_g + b * s.cin * s.hwi;
      if constexpr (std::is_same_v<T, C>) {
        col2im(scratch.cols.data() + b * s.hwo, ld, s.geo, dst, scratch.accum.data());
      } else {
        scratch.stage2.resize(static_cast<size_t>(plane));
        col2im(scratch.cols.data() + b * s.hwo, ld, s.geo, scratch.stage2.data(),
               scratch.accum.data());
        conv::narrow_store(scratch.stage2.data(), plane, dst);
      }
    }
  }
}

// grad_weight and grad_bias of samples [n0, n0 + nb), added to this thread's partial sums.
template <typename T, typename C>
void weight_grad_chunk(const conv::Shape& s, const T* x, const T* grad_out, const Wanted& want,
                       Partial<C>& acc, int64_t n0, int64_t nb, Scratch<C>& scratch) {
  const int64_t ld = nb * s.hwo;
  with_chunk_grad_out(s, grad_out, n0, nb, scratch, [&](const auto* go) {
    if (want.bias != nullptr)
      for (int64_t o = 0; o < s.cout; ++o) acc.bias[o] += row_sum<C>(go + o * ld, ld);
    if (want.weight == nullptr) return;
    for (int64_t g = 0; g < s.groups; ++g) {
      conv::with_chunk_columns(s, x, n0, nb, g, scratch, [&](const auto* colp) {
        conv::gemm<C>(s, false, true, s.og, s.kg, ld, go + g * s.og * ld, ld, colp, ld, C(1),
                      acc.weight.data() + g * s.og * s.kg, s.kg);
      });
    }
  });
}

// grad_weight and grad_bias: each thread sums its samples' terms into its own partial sums, an
// even split of the samples (so the sums do not depend on timing), then the partials are added
// in thread order.
template <typename T>
void weight_grads(const conv::Shape& s, const TensorView& xv, const TensorView& wv,
                  const TensorView& gov, const Wanted& want) {
  using C = compute_t<T>;
  std::vector<Partial<C>> partial(static_cast<size_t>(omp_get_max_threads()));
  const int used = conv::for_samples(s, [&](int64_t begin, int64_t end, int id) {
    Partial<C>& acc = partial[static_cast<size_t>(id)];
    if (want.weight != nullptr) acc.weight.assign(static_cast<size_t>(wv.numel()), C(0));
    if (want.bias != nullptr) acc.bias.assign(static_cast<size_t>(s.cout), C(0));
    Scratch<C> scratch(s);
    for (int64_t n = begin; n < end; n += s.chunk)
      weight_grad_chunk(s, xv.ptr<T>(), gov.ptr<T>(), want, acc, n, std::min(s.chunk, end - n),
                        scratch);
  });
  Partial<C>& total = partial[0];
  for (int t = 1; t < used; ++t) {  // in thread order
    const Partial<C>& part = partial[static_cast<size_t>(t)];
    for (size_t i = 0; i < total.weight.size(); ++i) total.weight[i] += part.weight[i];
    for (size_t i = 0; i < total.bias.size(); ++i) total.bias[i] += part.bias[i];
  }
  if (want.weight != nullptr)
    conv::narrow_store(total.weight.data(), wv.numel(), want.weight->ptr<T>());
  if (want.bias != nullptr) conv::narrow_store(total.bias.data(), s.cout, want.bias->ptr<T>());
}

// grad_x of samples [n0, n0 + nb): the shifted plan's (whose operands are of the compute type C;
// w is its packed weight), or chunk_grad_x's.
template <typename T, typename C, typename W, typename G>
void input_grad_chunk(const conv::Shape& s, const W* w, const G* go, int64_t n0, int64_t nb, T* gx,
                      Scratch<C>& scratch) {
  if constexpr (std::is_same_v<W, C> && std::is_same_v<G, C>) {
    if (s.shifted) {
      for (int64_t g = 0; g < s.groups; ++g)
        conv::shifted_grad_x(s, w + g * s.og * s.kg, go + g * s.og * s.hwo,
                             gx + (n0 * s.cin + g * s.geo.channels) * s.hwi, scratch);
      return;
    }
  }
  chunk_grad_x(s, w, go, n0, nb, gx, scratch);
}

// grad_x: each chunk's samples are independent of the others', so the chunks go to the threads
// as they finish (conv::for_chunks) instead of in even shares. Where gemm_bf16 multiplies bf16
// tensors, it packs the bf16 weight as it is; else the weight is widened (or packed for the
// shifted plan) once per call.
template <typename T>
void input_grad(const conv::Shape& s, const TensorView& wv, const TensorView& gov, T* gx) {
  using C = compute_t<T>;
  const auto run = [&](const auto* w) {
    conv::for_chunks<C>(s, [&](int64_t n0, int64_t nb, Scratch<C>& scratch) {
      with_chunk_grad_out(s, gov.ptr<T>(), n0, nb, scratch,
                          [&](const auto* go) { input_grad_chunk(s, w, go, n0, nb, gx, scratch); });
    });
  };
  if constexpr (std::is_same_v<T, BFloat16>) {
    if (s.bf16_gemm) return run(wv.ptr<T>());
  }
  ScratchVector<C> wbuf;
  if (s.shifted) conv::pack_shifted_weight(wv.ptr<T>(), s, wbuf);
  run(s.shifted ? wbuf.data() : as_compute(wv.ptr<T>(), wv.numel(), wbuf));
}

template <typename T>
void conv_backward(const TensorView& xv, const TensorView& wv, const TensorView& gov,
                   const Wanted& want, const Conv2dParams& p) {
  const conv::Shape s = conv::make_shape(xv, wv, gov, p);
  if (want.weight != nullptr || want.bias != nullptr) weight_grads<T>(s, xv, wv, gov, want);
  if (want.x != nullptr) input_grad(s, wv, gov, want.x->ptr<T>());
}

}  // namespace

void conv2d_backward(const TensorView& x, const TensorView& weight, const TensorView& grad_out,
                     const TensorView* grad_x, const TensorView* grad_weight,
                     const TensorView* grad_bias, const Conv2dParams& params) {
  const Wanted want{grad_x, grad_weight, grad_bias};
  dispatch_floating(x.dtype, "conv2d_backward",
                    [&]<typename T>() { conv_backward<T>(x, weight, grad_out, want, params); });
}

}  // namespace hg::kernels::cpu
