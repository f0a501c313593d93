// conv2d and its backward on the CPU: im2col (kernels/cpu/im2col.h) + BLAS GEMM, per sample and
// per group, with the samples split across OpenMP threads (each thread calls a single-threaded
// BLAS on its own samples, with its own column buffer: nothing of the batch's size is ever
// allocated). With fewer samples than threads the loop runs on the calling thread and BLAS
// uses the threads itself.
//
// Numerics: fp16/bf16 operands are widened to float (the weight once per call, x one column
// matrix at a time), multiplied with fp32 accumulation and rounded once on store; fp64 runs in
// double. grad_weight and grad_bias are summed per thread in the compute type and reduced in
// thread order, so a result depends only on the inputs and the thread count.
#include <omp.h>

#include <type_traits>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_nn_kernels.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {

template <typename C>
void gemm_c(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const C* a, int64_t lda,
            const C* b, int64_t ldb, C beta, C* c, int64_t ldc) {
  if constexpr (std::is_same_v<C, double>) {
    dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  } else {
    sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  }
}

struct ConvShape {
  int64_t n = 0, cin = 0, cout = 0, groups = 1;
  int64_t og = 0;   // output channels per group
  int64_t kg = 0;   // rows of a group's column matrix: C / groups * KH * KW
  int64_t hwi = 0;  // input plane size
  int64_t hwo = 0;  // output plane size
  bool direct = false;  // 1x1, stride 1, no padding: the column matrix is x itself
  ConvGeometry geo;
};

ConvShape conv_shape(const TensorView& x, const TensorView& w, const TensorView& out,
                     const Conv2dParams& p) {
  ConvShape s;
  s.n = x.sizes[0];
  s.cin = x.sizes[1];
  s.cout = w.sizes[0];
  s.groups = p.groups;
  s.og = s.cout / p.groups;
  s.geo = {x.sizes[1] / p.groups, x.sizes[2], x.sizes[3], w.sizes[2], w.sizes[3], out.sizes[2],
           out.sizes[3], p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w};
  s.kg = s.geo.rows();
  s.hwi = s.geo.h * s.geo.w;
  s.hwo = s.geo.cols();
  s.direct = s.geo.kh == 1 && s.geo.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
             p.pad_h == 0 && p.pad_w == 0;
  return s;
}

// p in the compute type C: p itself when T is C, else a widened copy kept in buf.
template <typename C, typename T>
const C* widened(const T* p, int64_t count, std::vector<C>& buf) {
  if constexpr (std::is_same_v<T, C>) {
    (void)count, (void)buf;
    return p;
  } else {
    buf.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) buf[i] = convert<C>(p[i]);
    return buf.data();
  }
}

template <typename T, typename C>
void narrow_store(const C* src, int64_t count, T* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = convert<T>(src[i]);
}

// Runs body(begin, end, thread) over the samples [0, n), split across the OpenMP threads when
// there are at least as many samples as threads, else on this thread (thread 0).
template <typename F>
int for_samples(int64_t n, F&& body) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || n < threads) {
    body(int64_t{0}, n, 0);
    return 1;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t id = omp_get_thread_num(), count = omp_get_num_threads();
    body(n * id / count, n * (id + 1) / count, static_cast<int>(id));
  }
  return threads;
}

// A thread's buffers: the column matrix, the zero-bordered plane of im2col (its border is
// never written) and the padded accumulator of col2im.
template <typename C>
struct Scratch {
  std::vector<C> cols, padded, accum;
  explicit Scratch(const ConvShape& s)
      : padded(static_cast<size_t>(padded_size(s.geo)), C(0)), accum(padded.size()) {}
};

// The column matrix of sample-group x_g ([C / groups, H, W] of type T) in the compute type.
template <typename C, typename T>
const C* columns(const ConvShape& s, const T* x_g, Scratch<C>& scratch) {
  if constexpr (std::is_same_v<T, C>) {
    if (s.direct) return x_g;
  }
  scratch.cols.resize(static_cast<size_t>(s.kg * s.hwo));
  im2col(x_g, s.geo, scratch.cols.data(), s.hwo, scratch.padded.data());
  return scratch.cols.data();
}

// Sum of n values with 8 partial sums (a single running sum cannot vectorize).
template <typename C>
C row_sum(const C* p, int64_t n) {
  C part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += p[i + k];
  for (; i < n; ++i) part[0] += p[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

template <typename T>
void conv_forward(const TensorView& xv, const TensorView& wv, const TensorView* bv,
                  const TensorView& ov, const Conv2dParams& p) {
  using C = compute_t<T>;
  const ConvShape s = conv_shape(xv, wv, ov, p);
  std::vector<C> wbuf, bbuf;
  const C* w = widened<C>(wv.ptr<T>(), wv.numel(), wbuf);
  const C* bias = bv != nullptr ? widened<C>(bv->ptr<T>(), s.cout, bbuf) : nullptr;
  const T* x = xv.ptr<T>();
  T* out = ov.ptr<T>();
  for_samples(s.n, [&](int64_t begin, int64_t end, int) {
    Scratch<C> scratch(s);
    std::vector<C> acc;
    if constexpr (!std::is_same_v<T, C>) acc.resize(static_cast<size_t>(s.og * s.hwo));
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const C* colp = columns<C>(s, x + (n * s.cin + g * s.geo.channels) * s.hwi, scratch);
        T* out_g = out + (n * s.cout + g * s.og) * s.hwo;
        C* dst = nullptr;
        if constexpr (std::is_same_v<T, C>) dst = out_g; else dst = acc.data();
        if (bias != nullptr)
          for (int64_t o = 0; o < s.og; ++o)
            std::fill(dst + o * s.hwo, dst + (o + 1) * s.hwo, bias[g * s.og + o]);
        gemm_c<C>(false, false, s.og, s.hwo, s.kg, w + g * s.og * s.kg, s.kg, colp, s.hwo,
                  bias != nullptr ? C(1) : C(0), dst, s.hwo);
        if constexpr (!std::is_same_v<T, C>) narrow_store(dst, s.og * s.hwo, out_g);
      }
    }
  });
}

// Per-thread accumulators of the backward pass, all in the compute type.
template <typename C>
struct ConvGrads {
  std::vector<C> weight;  // [O, C / groups * KH * KW], summed over this thread's samples
  std::vector<C> bias;    // [O]
};

struct BackwardOutputs {
  const TensorView* x;
  const TensorView* weight;
  const TensorView* bias;
};

// grad_x of one sample: per group, cols = W_g^T @ grad_out_g, then col2im into gx ([C, H, W]).
template <typename C>
void sample_grad_x(const ConvShape& s, const C* w, const C* go, Scratch<C>& scratch, C* gx) {
  scratch.cols.resize(static_cast<size_t>(s.kg * s.hwo));
  C* gcols = scratch.cols.data();
  const int64_t plane = s.geo.channels * s.hwi;
  for (int64_t g = 0; g < s.groups; ++g) {
    const C* w_g = w + g * s.og * s.kg;
    const C* go_g = go + g * s.og * s.hwo;
    if (s.direct) {  // col2im is the identity: write the product in place
      gemm_c<C>(true, false, s.kg, s.hwo, s.og, w_g, s.kg, go_g, s.hwo, C(0), gx + g * plane,
                s.hwo);
      continue;
    }
    gemm_c<C>(true, false, s.kg, s.hwo, s.og, w_g, s.kg, go_g, s.hwo, C(0), gcols, s.hwo);
    col2im(gcols, s.hwo, s.geo, gx + g * plane, scratch.accum.data());
  }
}

// The backward pass over samples [begin, end) on one thread.
template <typename T>
void backward_samples(const ConvShape& s, const T* x, const compute_t<T>* w, const T* grad_out,
                      const BackwardOutputs& want, ConvGrads<compute_t<T>>& acc, int64_t begin,
                      int64_t end) {
  using C = compute_t<T>;
  Scratch<C> scratch(s);
  std::vector<C> go_buf, gx_buf;
  for (int64_t n = begin; n < end; ++n) {
    const C* go = widened<C>(grad_out + n * s.cout * s.hwo, s.cout * s.hwo, go_buf);
    if (want.bias != nullptr) {
      for (int64_t o = 0; o < s.cout; ++o) acc.bias[o] += row_sum(go + o * s.hwo, s.hwo);
    }
    if (want.weight != nullptr) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const C* colp = columns<C>(s, x + (n * s.cin + g * s.geo.channels) * s.hwi, scratch);
        gemm_c<C>(false, true, s.og, s.kg, s.hwo, go + g * s.og * s.hwo, s.hwo, colp, s.hwo,
                  C(1), acc.weight.data() + g * s.og * s.kg, s.kg);
      }
    }
    if (want.x == nullptr) continue;
    T* gx = want.x->ptr<T>() + n * s.cin * s.hwi;
    if constexpr (std::is_same_v<T, C>) {
      sample_grad_x<C>(s, w, go, scratch, gx);
    } else {
      gx_buf.resize(static_cast<size_t>(s.cin * s.hwi));
      sample_grad_x<C>(s, w, go, scratch, gx_buf.data());
      narrow_store(gx_buf.data(), s.cin * s.hwi, gx);
    }
  }
}

template <typename T>
void conv_backward(const TensorView& xv, const TensorView& wv, const TensorView& gov,
                   const BackwardOutputs& want, const Conv2dParams& p) {
  using C = compute_t<T>;
  const ConvShape s = conv_shape(xv, wv, gov, p);
  std::vector<C> wbuf;
  const C* w = want.x != nullptr ? widened<C>(wv.ptr<T>(), wv.numel(), wbuf) : nullptr;
  std::vector<ConvGrads<C>> per_thread(static_cast<size_t>(omp_get_max_threads()));
  const int used = for_samples(s.n, [&](int64_t begin, int64_t end, int id) {
    ConvGrads<C>& acc = per_thread[static_cast<size_t>(id)];
    if (want.weight != nullptr) acc.weight.assign(static_cast<size_t>(wv.numel()), C(0));
    if (want.bias != nullptr) acc.bias.assign(static_cast<size_t>(s.cout), C(0));
    backward_samples<T>(s, xv.ptr<T>(), w, gov.ptr<T>(), want, acc, begin, end);
  });
  for (int t = 1; t < used; ++t) {  // reduce in thread order
    ConvGrads<C>& into = per_thread[0];
    const ConvGrads<C>& from = per_thread[static_cast<size_t>(t)];
    for (size_t i = 0; i < into.weight.size(); ++i) into.weight[i] += from.weight[i];
    for (size_t i = 0; i < into.bias.size(); ++i) into.bias[i] += from.bias[i];
  }
  if (want.weight != nullptr)
    narrow_store(per_thread[0].weight.data(), wv.numel(), want.weight->ptr<T>());
  if (want.bias != nullptr) narrow_store(per_thread[0].bias.data(), s.cout, want.bias->ptr<T>());
}

}  // namespace

void conv2d(const TensorView& x, const TensorView& weight, const TensorView* bias,
            const TensorView& out, const Conv2dParams& params) {
  dispatch_floating(x.dtype, "conv2d", [&]<typename T>() {
    conv_forward<T>(x, weight, bias, out, params);
  });
}

void conv2d_backward(const TensorView& x, const TensorView& weight, const TensorView& grad_out,
                     const TensorView* grad_x, const TensorView* grad_weight,
                     const TensorView* grad_bias, const Conv2dParams& params) {
  const BackwardOutputs want{grad_x, grad_weight, grad_bias};
  dispatch_floating(x.dtype, "conv2d_backward", [&]<typename T>() {
    conv_backward<T>(x, weight, grad_out, want, params);
  });
}

}  // namespace hg::kernels::cpu
