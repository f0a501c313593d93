// Max, average and adaptive pooling on CUDA over contiguous NCHW planes, one thread per output
// (forward) or per input element (average backward, a gather in the CPU's summation order).
// A window is described per spatial dim by Span (regular: kernel/stride/padding; adaptive:
// PyTorch's floor/ceil rule), the same ranges as kernels/cpu/pool.cpp computes. 16-bit values
// are pooled in float and rounded once on store. The argmax of a regular window may be kept as
// a uint8 position within it (what autograd's max_pool2d asks of CUDA: an eighth of int64's
// memory, ResNet-9's largest saved tensors but the activations). Max backward: a gather in T
// when the windows cannot overlap (kernel <= stride, as in 2x2/2), else a scatter through the
// argmax indices into the compute type, rounded once.
#include <algorithm>

#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/index_div.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

// The windows of one spatial dim: output o reads input [lo(o), hi(o)); span(o) counts the
// padding too (the count_include_pad divisor).
struct Span {
  int64_t len, out, kernel, stride, pad;
  bool adaptive;

  __device__ int64_t start(int64_t o) const { return adaptive ? o * len / out : o * stride - pad; }
  __device__ int64_t end(int64_t o) const {
    if (adaptive) return ((o + 1) * len + out - 1) / out;
    const int64_t e = o * stride - pad + kernel;
    return e < len + pad ? e : len + pad;
  }
  __device__ int64_t lo(int64_t o) const {
    const int64_t s = start(o);
    return s > 0 ? s : 0;
  }
  __device__ int64_t hi(int64_t o) const {
    const int64_t e = end(o);
    return e < len ? e : len;
  }
  __device__ int64_t span(int64_t o) const { return end(o) - start(o); }
  // Outputs whose windows may contain input i: a superset, each checked with lo/hi.
  __device__ void candidates(int64_t i, int64_t& first, int64_t& last) const {
    if (adaptive) {
      first = i * out / len - 1;
      last = ((i + 1) * out + len - 1) / len + 1;
    } else {
      first = i + pad < kernel ? 0 : (i + pad - kernel) / stride;
      last = (i + pad) / stride + 1;
    }
    first = first < 0 ? 0 : first;
    last = last > out ? out : last;
  }
};

Span regular_span(int64_t len, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  return {len, out, kernel, stride, pad, false};
}
Span adaptive_span(int64_t len, int64_t out) { return {len, out, 0, 1, 0, true}; }

struct Planes {
  int64_t count;  // N * C
  Span h, w;

  // An argmax kept as a uint8 position in output (oh, ow)'s regular window: i * kernel_w + j
  // for input (ih, iw) = (start(oh) + i, start(ow) + j); and back to h * W + w in the plane.
  __device__ uint8_t window_code(int64_t oh, int64_t ow, int64_t ih, int64_t iw) const {
    return static_cast<uint8_t>((ih - h.start(oh)) * w.kernel + (iw - w.start(ow)));
  }
  __device__ int64_t plane_position(int64_t oh, int64_t ow, int64_t code) const {
    return (h.start(oh) + code / w.kernel) * w.len + w.start(ow) + code % w.kernel;
  }
};

// One thread per output; its (plane, oh, ow) from two divisions by divisors fixed for the launch
// (D: 32-bit FastDivmod where the output allows, kernels/cuda/index_div.h): with 64-bit
// divisions per output, ResNet-9's four max pools took 0.45 ms of a 12.1 ms step (session 10).
// Idx: where the argmax is kept (kernels/nn_kernels.h): int64_t, h * W + w in x's plane, or
// uint8_t, i * kernel_w + j within a regular window.
template <typename T, typename D, typename Idx>
__global__ void max_pool_kernel(const T* x, Planes s, D out_w, D out_h, T* out, Idx* indices) {
  using I = typename D::Index;
  const I total = static_cast<I>(s.count * s.h.out * s.w.out);
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const I rows = out_w.div(i), plane_index = out_h.div(rows);
    const int64_t idx = i, ow = i - rows * out_w.divisor, oh = rows - plane_index * out_h.divisor;
    const int64_t plane = plane_index;
    const T* xp = x + plane * s.h.len * s.w.len;
    using C = typename Scalar<T>::Compute;
    C best = -INFINITY;
    const int64_t h0 = s.h.lo(oh), h1 = s.h.hi(oh), w0 = s.w.lo(ow), w1 = s.w.hi(ow);
    int64_t best_h = h0, best_w = w0;
    for (int64_t ih = h0; ih < h1; ++ih) {
      for (int64_t iw = w0; iw < w1; ++iw) {
        const C v = Scalar<T>::load(xp[ih * s.w.len + iw]);
        if (v > best || isnan(v)) best = v, best_h = ih, best_w = iw;  // PyTorch's rule
      }
    }
    out[idx] = Scalar<T>::store(best);
    if constexpr (std::is_same_v<Idx, uint8_t>)
      indices[idx] = s.window_code(oh, ow, best_h, best_w);
    else
      indices[idx] = best_h * s.w.len + best_w;
  }
}

template <typename T>
__global__ void avg_pool_kernel(const T* x, Planes s, bool include_pad, T* out) {
  const int64_t total = s.count * s.h.out * s.w.out;
  HG_GRID_LOOP(idx, total) {
    const int64_t ow = idx % s.w.out, oh = (idx / s.w.out) % s.h.out,
                  plane = idx / (s.w.out * s.h.out);
    const T* xp = x + plane * s.h.len * s.w.len;
    using C = typename Scalar<T>::Compute;
    const int64_t h0 = s.h.lo(oh), h1 = s.h.hi(oh), w0 = s.w.lo(ow), w1 = s.w.hi(ow);
    C sum = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += Scalar<T>::load(xp[ih * s.w.len + iw]);
    const int64_t count = include_pad ? s.h.span(oh) * s.w.span(ow) : (h1 - h0) * (w1 - w0);
    out[idx] = Scalar<T>::store(sum / static_cast<C>(count));
  }
}

// grad_x[i] = sum over the windows containing i of grad_out / window size, summed in (oh, ow)
// order as the CPU's scatter does.
template <typename T>
__global__ void avg_pool_backward_kernel(const T* go, Planes s, bool include_pad, T* gx) {
  const int64_t total = s.count * s.h.len * s.w.len;
  HG_GRID_LOOP(idx, total) {
    const int64_t iw = idx % s.w.len, ih = (idx / s.w.len) % s.h.len,
                  plane = idx / (s.w.len * s.h.len);
    const T* gp = go + plane * s.h.out * s.w.out;
    using C = typename Scalar<T>::Compute;
    int64_t oh0, oh1, ow0, ow1;
    s.h.candidates(ih, oh0, oh1);
    s.w.candidates(iw, ow0, ow1);
    C sum = 0;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t h0 = s.h.lo(oh), h1 = s.h.hi(oh);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t w0 = s.w.lo(ow), w1 = s.w.hi(ow);
        if (iw < w0 || iw >= w1) continue;
        const int64_t count = include_pad ? s.h.span(oh) * s.w.span(ow) : (h1 - h0) * (w1 - w0);
        sum += Scalar<T>::load(gp[oh * s.w.out + ow]) / static_cast<C>(count);
      }
    }
    gx[idx] = Scalar<T>::store(sum);
  }
}

// acc (zeroed) += grad_out scattered through the argmax indices of each plane.
template <typename T, typename A, typename Idx>
__global__ void max_unpool_kernel(const T* go, const Idx* indices, Planes s, int64_t total,
                                  A* acc) {
  const int64_t out_plane = s.h.out * s.w.out, in_plane = s.h.len * s.w.len;
  HG_GRID_LOOP(idx, total) {
    const int64_t plane = idx / out_plane;
    int64_t at = indices[idx];
    if constexpr (std::is_same_v<Idx, uint8_t>)  // a position in a regular window
      at = s.plane_position((idx / s.w.out) % s.h.out, idx % s.w.out, at);
    atomicAdd(acc + plane * in_plane + at, static_cast<A>(Scalar<T>::load(go[idx])));
  }
}

// Windows that cannot overlap (kernel <= stride on both axes): input i lies in at most one
// window, and its gradient is that window's gradient when i was the window's argmax, else zero.
// One pass in T over grad_x: no zeroing, no accumulator (one term rounds exactly), no atomics.
template <typename T, typename D, typename Idx>
__global__ void max_unpool_disjoint_kernel(const T* go, const Idx* indices, Planes s, int64_t total,
                                           D width, D plane_size, D stride_h, D stride_w, T* gx) {
  using I = typename D::Index;
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const I plane = plane_size.div(i), pos = i - plane * plane_size.divisor;
    const I ih = width.div(pos), iw = pos - ih * width.divisor;
    const I th = ih + static_cast<I>(s.h.pad), tw = iw + static_cast<I>(s.w.pad);
    const I oh = stride_h.div(th), ow = stride_w.div(tw);
    T v = Scalar<T>::store(0.0f);
    if (oh < s.h.out && ow < s.w.out && th - oh * stride_h.divisor < s.h.kernel &&
        tw - ow * stride_w.divisor < s.w.kernel) {
      const int64_t o = (static_cast<int64_t>(plane) * s.h.out + oh) * s.w.out + ow;
      const int64_t at =
          std::is_same_v<Idx, uint8_t> ? s.window_code(oh, ow, ih, iw) : static_cast<int64_t>(pos);
      if (indices[o] == at) v = go[o];
    }
    gx[i] = v;
  }
}

// Calls body.template operator()<Idx>() with the argmax type of `indices` (kernels/nn_kernels.h).
template <typename Body>
void with_argmax_type(const TensorView& indices, const char* op, Body&& body) {
  if (indices.dtype == DType::UInt8) return body.template operator()<uint8_t>();
  HG_CHECK(indices.dtype == DType::Int64, op, ": expected int64 or uint8 argmax indices, got ",
           dtype_name(indices.dtype));
  body.template operator()<int64_t>();
}

Planes planes_of(const TensorView& in, const TensorView& out, Span h, Span w) {
  (void)out;
  return {in.sizes[0] * in.sizes[1], h, w};
}

template <typename T>
void launch_max(const TensorView& x, const TensorView& out, const TensorView& indices, Span h,
                Span w) {
  const Planes s = planes_of(x, out, h, w);
  const int64_t total = out.numel();
  if (total == 0) return;
  with_argmax_type(indices, "max_pool2d", [&]<typename Idx>() {
    with_index_width(total, [&]<typename D>() {
      max_pool_kernel<T, D, Idx><<<grid_for(total), kBlockSize, 0, current_stream()>>>(
          x.ptr<T>(), s, D(s.w.out), D(s.h.out), out.ptr<T>(), indices.ptr<Idx>());
    });
  });
  HG_CUDA_LAUNCH_CHECK("max_pool_kernel");
}

template <typename T>
void launch_avg(const TensorView& x, const TensorView& out, Span h, Span w, bool include_pad) {
  const Planes s = planes_of(x, out, h, w);
  const int64_t total = out.numel();
  if (total == 0) return;
  avg_pool_kernel<T><<<grid_for(total), kBlockSize, 0, current_stream()>>>(
      x.ptr<T>(), s, include_pad, out.ptr<T>());
  HG_CUDA_LAUNCH_CHECK("avg_pool_kernel");
}

template <typename T>
void launch_avg_backward(const TensorView& go, const TensorView& gx, Span h, Span w,
                         bool include_pad) {
  const Planes s = planes_of(gx, go, h, w);
  const int64_t total = gx.numel();
  if (total == 0) return;
  avg_pool_backward_kernel<T><<<grid_for(total), kBlockSize, 0, current_stream()>>>(
      go.ptr<T>(), s, include_pad, gx.ptr<T>());
  HG_CUDA_LAUNCH_CHECK("avg_pool_backward_kernel");
}

void max_pool2d_backward_disjoint(const TensorView& grad_out, const TensorView& indices,
                                  const TensorView& grad_x, const Pool2dParams& p) {
  const int64_t total = grad_x.numel();
  if (total == 0) return;
  const Planes s{grad_x.sizes[0] * grad_x.sizes[1],
                 regular_span(grad_x.sizes[2], grad_out.sizes[2], p.kernel_h, p.stride_h, p.pad_h),
                 regular_span(grad_x.sizes[3], grad_out.sizes[3], p.kernel_w, p.stride_w, p.pad_w)};
  const int64_t plane = s.h.len * s.w.len;
  // (th = ih + pad stays below the plane's padded extent: bound it too)
  const int64_t bound = std::max({total, s.h.len + s.h.pad + 1, s.w.len + s.w.pad + 1});
  dispatch_floating(grad_x.dtype, "max_pool2d_backward", [&]<typename T>() {
    with_argmax_type(indices, "max_pool2d_backward", [&]<typename Idx>() {
      with_index_width(bound, [&]<typename D>() {
        max_unpool_disjoint_kernel<T, D, Idx><<<grid_for(total), kBlockSize, 0, current_stream()>>>(
            grad_out.ptr<T>(), indices.ptr<Idx>(), s, total, D(s.w.len), D(plane), D(p.stride_h),
            D(p.stride_w), grad_x.ptr<T>());
      });
    });
    HG_CUDA_LAUNCH_CHECK("max_unpool_disjoint_kernel");
  });
}

}  // namespace

void max_pool2d(const TensorView& x, const TensorView& out, const TensorView& indices,
                const Pool2dParams& p) {
  dispatch_floating(x.dtype, "max_pool2d", [&]<typename T>() {
    launch_max<T>(x, out, indices,
                  regular_span(x.sizes[2], out.sizes[2], p.kernel_h, p.stride_h, p.pad_h),
                  regular_span(x.sizes[3], out.sizes[3], p.kernel_w, p.stride_w, p.pad_w));
  });
}

void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices,
                         const TensorView& grad_x, const Pool2dParams* params) {
  if (params != nullptr && params->kernel_h <= params->stride_h &&
      params->kernel_w <= params->stride_w) {
    max_pool2d_backward_disjoint(grad_out, indices, grad_x, *params);
    return;
  }
  HG_CHECK(params != nullptr || indices.dtype == DType::Int64,
           "max_pool2d_backward: window positions (uint8 indices) need the forward's windows");
  // the forward's windows, or adaptive ones (whose indices are always plane positions)
  const Planes s{grad_x.sizes[0] * grad_x.sizes[1],
                 params != nullptr ? regular_span(grad_x.sizes[2], grad_out.sizes[2],
                                                  params->kernel_h, params->stride_h, params->pad_h)
                                   : adaptive_span(grad_x.sizes[2], grad_out.sizes[2]),
                 params != nullptr ? regular_span(grad_x.sizes[3], grad_out.sizes[3],
                                                  params->kernel_w, params->stride_w, params->pad_w)
                                   : adaptive_span(grad_x.sizes[3], grad_out.sizes[3])};
  dispatch_floating(grad_x.dtype, "max_pool2d_backward", [&]<typename T>() {
    using A = typename Scalar<T>::Compute;
    const int64_t total = grad_out.numel(), count = grad_x.numel();
    // Accumulate in the compute type (the argmax of overlapping windows may repeat), then round
    // once; fp32/fp64 gradients are their own accumulator.
    DeviceBuffer buf(std::is_same_v<T, A> ? 0 : static_cast<size_t>(count) * sizeof(A));
    A* acc = std::is_same_v<T, A> ? reinterpret_cast<A*>(grad_x.ptr<T>()) : buf.as<A>();
    zero_async(acc, count);
    if (total > 0) {
      with_argmax_type(indices, "max_pool2d_backward", [&]<typename Idx>() {
        max_unpool_kernel<T, A, Idx><<<grid_for(total), kBlockSize, 0, current_stream()>>>(
            grad_out.ptr<T>(), indices.ptr<Idx>(), s, total, acc);
      });
      HG_CUDA_LAUNCH_CHECK("max_unpool_kernel");
    }
    if constexpr (!std::is_same_v<T, A>)
      narrow(acc, grad_x.ptr<T>(), count, "max_pool2d_backward narrow");
  });
}

void avg_pool2d(const TensorView& x, const TensorView& out, const Pool2dParams& p) {
  dispatch_floating(x.dtype, "avg_pool2d", [&]<typename T>() {
    launch_avg<T>(x, out, regular_span(x.sizes[2], out.sizes[2], p.kernel_h, p.stride_h, p.pad_h),
                  regular_span(x.sizes[3], out.sizes[3], p.kernel_w, p.stride_w, p.pad_w),
                  p.count_include_pad);
  });
}

void avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x,
                         const Pool2dParams& p) {
  dispatch_floating(grad_x.dtype, "avg_pool2d_backward", [&]<typename T>() {
    launch_avg_backward<T>(
        grad_out, grad_x,
        regular_span(grad_x.sizes[2], grad_out.sizes[2], p.kernel_h, p.stride_h, p.pad_h),
        regular_span(grad_x.sizes[3], grad_out.sizes[3], p.kernel_w, p.stride_w, p.pad_w),
        p.count_include_pad);
  });
}

void adaptive_pool2d(bool is_max, const TensorView& x, const TensorView& out,
                     const TensorView* indices) {
  dispatch_floating(x.dtype, "adaptive_pool2d", [&]<typename T>() {
    const Span h = adaptive_span(x.sizes[2], out.sizes[2]);
    const Span w = adaptive_span(x.sizes[3], out.sizes[3]);
    if (is_max) {
      HG_CHECK(indices != nullptr, "adaptive_pool2d: max pooling needs an indices tensor");
      HG_CHECK(indices->dtype == DType::Int64,
               "adaptive_pool2d: adaptive windows keep int64 plane positions, got ",
               dtype_name(indices->dtype), " indices");
      launch_max<T>(x, out, *indices, h, w);
    } else {
      launch_avg<T>(x, out, h, w, true);
    }
  });
}

void adaptive_avg_pool2d_backward(const TensorView& grad_out, const TensorView& grad_x) {
  dispatch_floating(grad_x.dtype, "adaptive_avg_pool2d_backward", [&]<typename T>() {
    launch_avg_backward<T>(grad_out, grad_x, adaptive_span(grad_x.sizes[2], grad_out.sizes[2]),
                           adaptive_span(grad_x.sizes[3], grad_out.sizes[3]), true);
  });
}

}  // namespace hg::kernels::cuda
