// Max, average and adaptive pooling on the CPU, over contiguous NCHW planes. Every pooling
// window is described by per-row and per-column ranges computed once per call (no div/mod in
// the loops), so regular and adaptive pooling share the same plane loops; the planes (N * C)
// are split across OpenMP threads. Max pooling 2x2 / stride 2 without padding (the common
// case) has its own loop (kernels/cpu/max_pool_2x2.h). 16-bit planes are widened to float,
// pooled (or their gradients accumulated) in float, and rounded once per element on store.
#include <omp.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cpu/convert_bulk.h"
#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/cpu/max_pool_2x2.h"

namespace hg::kernels::cpu {

namespace {

// The windows of one spatial dim: output o reads input [lo[o], hi[o]); span[o] is the window's
// size with padding included (the count_include_pad divisor).
struct Windows {
  std::vector<int64_t> lo, hi, span;
  explicit Windows(int64_t n) : lo(n), hi(n), span(n) {}
};

Windows regular_windows(int64_t len, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  Windows win(out);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad;
    const int64_t end = std::min(start + kernel, len + pad);
    win.span[o] = end - start;
    win.lo[o] = std::max<int64_t>(start, 0);
    win.hi[o] = std::min(end, len);
  }
  return win;
}

// PyTorch's adaptive windows: [floor(o * len / out), ceil((o + 1) * len / out)).
Windows adaptive_windows(int64_t len, int64_t out) {
  Windows win(out);
  for (int64_t o = 0; o < out; ++o) {
    win.lo[o] = o * len / out;
    win.hi[o] = ((o + 1) * len + out - 1) / out;
    win.span[o] = win.hi[o] - win.lo[o];
  }
  return win;
}

struct PlaneShape {
  int64_t planes, h, w, ho, wo;
};

PlaneShape plane_shape(const TensorView& in, const TensorView& out) {
  return {in.sizes[0] * in.sizes[1], in.sizes[2], in.sizes[3], out.sizes[2], out.sizes[3]};
}

// body(p) for every plane p, in parallel when the whole job is large enough.
template <typename F>
void for_planes(int64_t planes, int64_t work_per_plane, F&& body) {
  if (planes * work_per_plane < kParallelGrain || omp_in_parallel() || omp_get_max_threads() == 1) {
    for (int64_t p = 0; p < planes; ++p) body(p);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) body(p);
}

// PyTorch's rule: a larger value or a NaN takes the place of the current maximum.
template <typename C>
inline bool takes_max(C v, C best) {
  return v > best || std::isnan(v);
}

// The plane kernels below work in the compute type C (float or double) only; 16-bit planes
// are widened into per-thread buffers and the results rounded back (for_planes_as).
template <typename C>
void max_plane(const C* x, const Windows& wh, const Windows& ww, const PlaneShape& s, C* out,
               int64_t* idx) {
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      C best = -std::numeric_limits<C>::infinity();
      int64_t at = wh.lo[oh] * s.w + ww.lo[ow];
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih) {
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) {
          const C v = x[ih * s.w + iw];
          if (takes_max(v, best)) best = v, at = ih * s.w + iw;
        }
      }
      out[oh * s.wo + ow] = best;
      idx[oh * s.wo + ow] = at;
    }
  }
}

inline int64_t window_count(const Windows& wh, const Windows& ww, int64_t oh, int64_t ow,
                            bool include_pad) {
  return include_pad ? wh.span[oh] * ww.span[ow]
                     : (wh.hi[oh] - wh.lo[oh]) * (ww.hi[ow] - ww.lo[ow]);
}

template <typename C>
void avg_plane(const C* x, const Windows& wh, const Windows& ww, const PlaneShape& s,
               bool include_pad, C* out) {
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      C sum = 0;
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih)
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) sum += x[ih * s.w + iw];
      out[oh * s.wo + ow] = sum / static_cast<C>(window_count(wh, ww, oh, ow, include_pad));
    }
  }
}

// gx (one input plane, written) = grad_out spread evenly over each window.
template <typename C>
void avg_plane_backward(const C* go, const Windows& wh, const Windows& ww, const PlaneShape& s,
                        bool include_pad, C* gx) {
  std::fill(gx, gx + s.h * s.w, C(0));
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      const C g = go[oh * s.wo + ow] / static_cast<C>(window_count(wh, ww, oh, ow, include_pad));
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih)
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) gx[ih * s.w + iw] += g;
    }
  }
}

// gx (one input plane, written) = g scattered through the indices, summed.
template <typename C>
void scatter_plane(const C* g, const int64_t* at, int64_t out_plane, int64_t in_plane, C* gx) {
  std::fill(gx, gx + in_plane, C(0));
  for (int64_t j = 0; j < out_plane; ++j) gx[at[j]] += g[j];
}

// body(p, in_p, out_p) for every plane p, where in_p points at in_len values of in and out_p at
// out_len values of out, in the compute type: the tensors themselves when T is the compute
// type, else per-thread buffers (in widened before, out rounded to T after).
template <typename T, typename F>
void for_planes_as(const T* in, int64_t in_len, T* out, int64_t out_len, int64_t planes, F&& body) {
  using C = compute_t<T>;
  const int64_t work = std::max(in_len, out_len);
  if constexpr (std::is_same_v<T, C>) {
    for_planes(planes, work, [&](int64_t p) { body(p, in + p * in_len, out + p * out_len); });
  } else {
    for_planes(planes, work, [&](int64_t p) {
      thread_local std::vector<C> in_buf, out_buf;
      in_buf.resize(static_cast<size_t>(in_len));
      out_buf.resize(static_cast<size_t>(out_len));
      widen_n(in + p * in_len, in_buf.data(), in_len);
      body(p, static_cast<const C*>(in_buf.data()), out_buf.data());
      narrow_n(out_buf.data(), out + p * out_len, out_len);
    });
  }
}

template <typename T>
void max_pool_forward(const TensorView& x, const TensorView& out, const TensorView& indices,
                      const Windows* wh, const Windows* ww) {
  const PlaneShape s = plane_shape(x, out);
  int64_t* ip = indices.ptr<int64_t>();
  const int64_t out_plane = s.ho * s.wo;
  for_planes_as(x.ptr<T>(), s.h * s.w, out.ptr<T>(), out_plane, s.planes,
                [&](int64_t p, const auto* in, auto* o) {
                  if (wh == nullptr)
                    max_pool_2x2_plane(in, s.w, s.ho, s.wo, o, ip + p * out_plane);
                  else
                    max_plane(in, *wh, *ww, s, o, ip + p * out_plane);
                });
}

template <typename T>
void max_pool_backward(const TensorView& grad_out, const TensorView& indices,
                       const TensorView& grad_x) {
  const PlaneShape s = plane_shape(grad_x, grad_out);
  const int64_t in_plane = s.h * s.w, out_plane = s.ho * s.wo;
  const int64_t* idx = indices.ptr<int64_t>();
  for_planes_as(grad_out.ptr<T>(), out_plane, grad_x.ptr<T>(), in_plane, s.planes,
                [&](int64_t p, const auto* g, auto* gx) {
                  const int64_t* at = idx + p * out_plane;
                  if (!max_unpool_2x2_plane(g, at, s.h, s.w, s.ho, s.wo, gx))
                    scatter_plane(g, at, out_plane, in_plane, gx);
                });
}

bool is_2x2_stride_2(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0;
}

template <typename T>
void avg_pool_forward(const TensorView& x, const TensorView& out, const Windows& wh,
                      const Windows& ww, bool include_pad) {
  const PlaneShape s = plane_shape(x, out);
  for_planes_as(
      x.ptr<T>(), s.h * s.w, out.ptr<T>(), s.ho * s.wo, s.planes,
      [&](int64_t, const auto* in, auto* o) { avg_plane(in, wh, ww, s, include_pad, o); });
}

template <typename T>
void avg_pool_backward(const TensorView& grad_out, const TensorView& grad_x, const Windows& wh,
                       const Windows& ww, bool include_pad) {
  const PlaneShape s = plane_shape(grad_x, grad_out);
  for_planes_as(
      grad_out.ptr<T>(), s.ho * s.wo, grad_x.ptr<T>(), s.h * s.w, s.planes,
      [&](int64_t, const auto* g, auto* gx) { avg_plane_backward(g, wh, ww, s, include_pad, gx); });
}

// The CPU kernels keep argmax positions in the plane, as int64 (kernels/nn_kernels.h).
void check_plane_positions(const TensorView& indices, const char* op) {
  HG_CHECK(indices.dtype == DType::Int64, op, ": the CPU kernels keep int64 plane positions, got ",
           dtype_name(indices.dtype), " indices");
}

}  // namespace

void max_pool2d(const TensorView& x, const TensorView& out, const TensorView& indices,
                const Pool2dParams& params) {
  check_plane_positions(indices, "max_pool2d");
  dispatch_floating(x.dtype, "max_pool2d", [&]<typename T>() {
    if (is_2x2_stride_2(params)) return max_pool_forward<T>(x, out, indices, nullptr, nullptr);
    const Windows wh =
        regular_windows(x.sizes[2], out.sizes[2], params.kernel_h, params.stride_h, params.pad_h);
    const Windows ww =
        regular_windows(x.sizes[3], out.sizes[3], params.kernel_w, params.stride_w, params.pad_w);
    max_pool_forward<T>(x, out, indices, &wh, &ww);
  });
}

// (params unused: max_pool_backward finds the disjoint 2x2 case from the indices themselves.)
void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices,
                         const TensorView& grad_x, const Pool2dParams* /*params*/) {
  check_plane_positions(indices, "max_pool2d_backward");
  dispatch_floating(grad_x.dtype, "max_pool2d_backward",
                    [&]<typename T>() { max_pool_backward<T>(grad_out, indices, grad_x); });
}

void avg_pool2d(const TensorView& x, const TensorView& out, const Pool2dParams& params) {
  dispatch_floating(x.dtype, "avg_pool2d", [&]<typename T>() {
    const Windows wh =
        regular_windows(x.sizes[2], out.sizes[2], params.kernel_h, params.stride_h, params.pad_h);
    const Windows ww =
        regular_windows(x.sizes[3], out.sizes[3], params.kernel_w, params.stride_w, params.pad_w);
    avg_pool_forward<T>(x, out, wh, ww, params.count_include_pad);
  });
}

void avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x,
                         const Pool2dParams& params) {
  dispatch_floating(grad_x.dtype, "avg_pool2d_backward", [&]<typename T>() {
    const Windows wh = regular_windows(grad_x.sizes[2], grad_out.sizes[2], params.kernel_h,
                                       params.stride_h, params.pad_h);
    const Windows ww = regular_windows(grad_x.sizes[3], grad_out.sizes[3], params.kernel_w,
                                       params.stride_w, params.pad_w);
    avg_pool_backward<T>(grad_out, grad_x, wh, ww, params.count_include_pad);
  });
}

void adaptive_pool2d(bool is_max, const TensorView& x, const TensorView& out,
                     const TensorView* indices) {
  dispatch_floating(x.dtype, "adaptive_pool2d", [&]<typename T>() {
    const Windows wh = adaptive_windows(x.sizes[2], out.sizes[2]);
    const Windows ww = adaptive_windows(x.sizes[3], out.sizes[3]);
    if (is_max) {
      HG_CHECK(indices != nullptr, "adaptive_pool2d: max pooling needs an indices tensor");
      check_plane_positions(*indices, "adaptive_pool2d");
      max_pool_forward<T>(x, out, *indices, &wh, &ww);
    } else {
      avg_pool_forward<T>(x, out, wh, ww, true);
    }
  });
}

void adaptive_avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x) {
  dispatch_floating(grad_x.dtype, "adaptive_avg_pool2d_backward", [&]<typename T>() {
    const Windows wh = adaptive_windows(grad_x.sizes[2], grad_out.sizes[2]);
    const Windows ww = adaptive_windows(grad_x.sizes[3], grad_out.sizes[3]);
    avg_pool_backward<T>(grad_out, grad_x, wh, ww, true);
  });
}

}  // namespace hg::kernels::cpu
