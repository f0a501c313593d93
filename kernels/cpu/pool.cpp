// Max, average and adaptive pooling on the CPU, over contiguous NCHW planes. Every pooling
// window is described by per-row and per-column ranges computed once per call (no div/mod in
// the loops), so regular and adaptive pooling share the same plane loops; the planes (N * C)
// are split across OpenMP threads. Max pooling 2x2 / stride 2 without padding (the common
// case) has its own loop. 16-bit dtypes compare and sum in float; backward passes accumulate in
// the compute type and round once per element on store.
#include <omp.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_nn_kernels.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/max_pool_2x2.h"

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

template <typename T>
void max_plane(const T* x, const Windows& wh, const Windows& ww, const PlaneShape& s, T* out,
               int64_t* idx) {
  using C = compute_t<T>;
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      C best = -std::numeric_limits<C>::infinity();
      int64_t at = wh.lo[oh] * s.w + ww.lo[ow];
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih) {
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) {
          const C v = convert<C>(x[ih * s.w + iw]);
          if (takes_max(v, best)) best = v, at = ih * s.w + iw;
        }
      }
      out[oh * s.wo + ow] = convert<T>(best);
      idx[oh * s.wo + ow] = at;
    }
  }
}

template <typename T>
void avg_plane(const T* x, const Windows& wh, const Windows& ww, const PlaneShape& s,
               bool include_pad, T* out) {
  using C = compute_t<T>;
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      C sum = 0;
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih)
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) sum += convert<C>(x[ih * s.w + iw]);
      const int64_t count = include_pad ? wh.span[oh] * ww.span[ow]
                                        : (wh.hi[oh] - wh.lo[oh]) * (ww.hi[ow] - ww.lo[ow]);
      out[oh * s.wo + ow] = convert<T>(sum / static_cast<C>(count));
    }
  }
}

// gx (an accumulator over one input plane, zeroed here) += grad_out spread over each window.
template <typename T, typename C>
void avg_plane_backward(const T* go, const Windows& wh, const Windows& ww, const PlaneShape& s,
                        bool include_pad, C* gx) {
  std::fill(gx, gx + s.h * s.w, C(0));
  for (int64_t oh = 0; oh < s.ho; ++oh) {
    for (int64_t ow = 0; ow < s.wo; ++ow) {
      const int64_t count = include_pad ? wh.span[oh] * ww.span[ow]
                                        : (wh.hi[oh] - wh.lo[oh]) * (ww.hi[ow] - ww.lo[ow]);
      const C g = convert<C>(go[oh * s.wo + ow]) / static_cast<C>(count);
      for (int64_t ih = wh.lo[oh]; ih < wh.hi[oh]; ++ih)
        for (int64_t iw = ww.lo[ow]; iw < ww.hi[ow]; ++iw) gx[ih * s.w + iw] += g;
    }
  }
}

// Runs body(p, acc) per plane, where acc is the plane of grad_x itself (T == compute type) or a
// per-thread float plane that is rounded into grad_x afterwards.
template <typename T, typename F>
void for_grad_planes(const TensorView& grad_x, const PlaneShape& s, F&& body) {
  using C = compute_t<T>;
  const int64_t plane = s.h * s.w;
  T* gx = grad_x.ptr<T>();
  if constexpr (std::is_same_v<T, C>) {
    for_planes(s.planes, plane, [&](int64_t p) { body(p, gx + p * plane); });
  } else {
    for_planes(s.planes, plane, [&](int64_t p) {
      thread_local std::vector<C> acc;
      acc.resize(static_cast<size_t>(plane));
      body(p, acc.data());
      for (int64_t i = 0; i < plane; ++i) gx[p * plane + i] = convert<T>(acc[i]);
    });
  }
}

template <typename T>
void max_pool_forward(const TensorView& x, const TensorView& out, const TensorView& indices,
                      const Windows* wh, const Windows* ww) {
  const PlaneShape s = plane_shape(x, out);
  const T* xp = x.ptr<T>();
  T* op = out.ptr<T>();
  int64_t* ip = indices.ptr<int64_t>();
  const int64_t in_plane = s.h * s.w, out_plane = s.ho * s.wo;
  for_planes(s.planes, in_plane, [&](int64_t p) {
    if (wh == nullptr)
      max_pool_2x2_plane(xp + p * in_plane, s.w, s.ho, s.wo, op + p * out_plane, ip + p * out_plane);
    else
      max_plane(xp + p * in_plane, *wh, *ww, s, op + p * out_plane, ip + p * out_plane);
  });
}

// grad_x plane (zeroed first) += g scattered through the indices, summed in the compute type.
template <typename T>
void scatter_plane(const T* g, const int64_t* at, int64_t out_plane, int64_t in_plane, T* gx) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<T, C>) {
    std::fill(gx, gx + in_plane, C(0));
    for (int64_t j = 0; j < out_plane; ++j) gx[at[j]] += g[j];
  } else {
    thread_local std::vector<C> acc;
    acc.assign(static_cast<size_t>(in_plane), C(0));
    for (int64_t j = 0; j < out_plane; ++j) acc[at[j]] += convert<C>(g[j]);
    for (int64_t i = 0; i < in_plane; ++i) gx[i] = convert<T>(acc[i]);
  }
}

template <typename T>
void max_pool_backward(const TensorView& grad_out, const TensorView& indices,
                       const TensorView& grad_x) {
  const PlaneShape s = plane_shape(grad_x, grad_out);
  const int64_t in_plane = s.h * s.w, out_plane = s.ho * s.wo;
  const T* go = grad_out.ptr<T>();
  const int64_t* idx = indices.ptr<int64_t>();
  T* gx = grad_x.ptr<T>();
  for_planes(s.planes, in_plane, [&](int64_t p) {
    const T* g = go + p * out_plane;
    const int64_t* at = idx + p * out_plane;
    if (!max_unpool_2x2_plane(g, at, s.h, s.w, s.ho, s.wo, gx + p * in_plane))
      scatter_plane(g, at, out_plane, in_plane, gx + p * in_plane);
  });
}

bool is_2x2_stride_2(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 &&
         p.pad_h == 0 && p.pad_w == 0;
}

template <typename T>
void avg_pool_forward(const TensorView& x, const TensorView& out, const Windows& wh,
                      const Windows& ww, bool include_pad) {
  const PlaneShape s = plane_shape(x, out);
  const T* xp = x.ptr<T>();
  T* op = out.ptr<T>();
  for_planes(s.planes, s.h * s.w, [&](int64_t p) {
    avg_plane(xp + p * s.h * s.w, wh, ww, s, include_pad, op + p * s.ho * s.wo);
  });
}

template <typename T>
void avg_pool_backward(const TensorView& grad_out, const TensorView& grad_x, const Windows& wh,
                       const Windows& ww, bool include_pad) {
  const PlaneShape s = plane_shape(grad_x, grad_out);
  const T* go = grad_out.ptr<T>();
  for_grad_planes<T>(grad_x, s, [&](int64_t p, auto* acc) {
    avg_plane_backward(go + p * s.ho * s.wo, wh, ww, s, include_pad, acc);
  });
}

}  // namespace

void max_pool2d(const TensorView& x, const TensorView& out, const TensorView& indices,
                const Pool2dParams& params) {
  dispatch_floating(x.dtype, "max_pool2d", [&]<typename T>() {
    if (is_2x2_stride_2(params)) return max_pool_forward<T>(x, out, indices, nullptr, nullptr);
    const Windows wh = regular_windows(x.sizes[2], out.sizes[2], params.kernel_h,
                                       params.stride_h, params.pad_h);
    const Windows ww = regular_windows(x.sizes[3], out.sizes[3], params.kernel_w,
                                       params.stride_w, params.pad_w);
    max_pool_forward<T>(x, out, indices, &wh, &ww);
  });
}

void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices,
                         const TensorView& grad_x) {
  dispatch_floating(grad_x.dtype, "max_pool2d_backward", [&]<typename T>() {
    max_pool_backward<T>(grad_out, indices, grad_x);
  });
}

void avg_pool2d(const TensorView& x, const TensorView& out, const Pool2dParams& params) {
  dispatch_floating(x.dtype, "avg_pool2d", [&]<typename T>() {
    const Windows wh = regular_windows(x.sizes[2], out.sizes[2], params.kernel_h,
                                       params.stride_h, params.pad_h);
    const Windows ww = regular_windows(x.sizes[3], out.sizes[3], params.kernel_w,
                                       params.stride_w, params.pad_w);
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
