// conv2d on CUDA: im2col + cuBLAS (kernels/cuda/conv_shape.cuh, kernels/cuda/nn_gemm.cuh).
//
// Forward, per chunk of samples and group: im2col into a per-sample column matrix (nothing for
// 1x1 / stride 1 / no padding, where the columns are x itself) and one strided-batched GEMM
// over the samples of the chunk, written straight into the output (pre-filled with the bias,
// so bias + product round once); for small output planes, one GEMM over columns shared by the
// chunk's samples, scattered back into the output. Backward: grad_bias by per-channel sums over
// slices of the batch (channel_sums.cuh); grad_weight by one GEMM per group and chunk over shared
// columns (K = samples x positions), accumulated in fp32 (fp64) and rounded once at the end;
// grad_x, for stride 1, as the forward convolution of grad_out with the flipped, transposed
// weights, else by batched GEMMs W^T @ grad_out into fp32 columns and a gathering col2im that
// rounds once. fp16/bf16 GEMMs run on the tensor cores with fp32 accumulation. With
// cuda::set_implicit_gemm_conv(true), 16-bit 3x3 convolutions (forward, weight gradient, and so
// stride-1 grad_x) go to kernels/cuda/conv_igemm*.cu.
#include <cstdint>
#include <optional>

#include "halfgrad/core/cuda.h"
#include "halfgrad/kernels/cuda/channel_sums.cuh"
#include "halfgrad/kernels/cuda/conv_igemm.h"
#include "halfgrad/kernels/cuda/conv_shape.cuh"
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/nn_gemm.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers
using ::hg::cuda::conv::Shape;

namespace {

template <typename T>
using Acc = typename Scalar<T>::Compute;  // float, or double for fp64

template <typename T>
constexpr bool kSixteenBit = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// The convolution's sizes in the implicit-GEMM kernels' form when they are switched on for a
// 16-bit dtype, else nothing.
template <typename T>
std::optional<igemm::ConvDims> implicit_gemm_dims(const Shape& s) {
  if (!kSixteenBit<T> || !implicit_gemm_conv()) return std::nullopt;
  return igemm::ConvDims{s.n,  s.cin, s.h,  s.w,  s.cout, s.groups, s.kh, s.kw,
                         s.ho, s.wo,  s.sh, s.sw, s.ph,   s.pw,     s.dh, s.dw};
}

// Output planes smaller than this (ResNet-9's 4x4 layers) take the shared columns: a
// per-sample GEMM would be hwo columns wide, narrower than the tensor cores' tiles, while the
// shared GEMM is nb * hwo wide. So do planes whose rows are no whole number of 16 bytes (the
// MNIST cnn's 14x14 in 16 bits): cuBLAS's fast kernels need 16-byte aligned leading dimensions,
// and nb * hwo usually is. (Not measured yet: the GPU benchmarks decide the threshold.)
constexpr int64_t kSharedColumnsMaxPlane = 64;
template <typename T>
bool takes_shared_columns(const Shape& s) {
  const bool narrow = s.hwo < kSharedColumnsMaxPlane;
  const bool unaligned_rows = s.hwo * static_cast<int64_t>(sizeof(T)) % 16 != 0;
  return !s.direct && s.groups == 1 && (narrow || unaligned_rows);
}

// The forward by one GEMM per chunk over shared columns [kg][nb * hwo], into a product
// [cout][nb * hwo] (pre-filled with the bias) scattered back into the samples' layout.
template <typename T>
void forward_shared(const Shape& s, const T* x, const T* w, const T* bias, T* out) {
  const int64_t chunk = conv::chunk_samples(s, sizeof(T), true);
  DeviceBuffer cols(static_cast<size_t>(chunk * s.kg * s.hwo) * sizeof(T));
  DeviceBuffer product(static_cast<size_t>(chunk * s.cout * s.hwo) * sizeof(T));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0), ld = nb * s.hwo;
    if (bias != nullptr) conv::fill_bias(bias, s, nb, ld, product.as<T>(), current_stream());
    conv::im2col(x, s, n0, nb, 0, conv::shared_layout(s, nb), cols.as<T>(), "conv2d im2col_kernel");
    gemm_rm<T>(s.cout, ld, s.kg, GemmOperand{w, s.kg, false, 0},
               GemmOperand{cols.as<T>(), ld, false, 0}, bias != nullptr ? 1.0 : 0.0,
               product.as<T>(), ld);
    conv::scatter_to_samples(product.as<T>(), s, n0, nb, out);
  }
}

template <typename T>
void conv_forward(const TensorView& xv, const TensorView& wv, const TensorView* bv,
                  const TensorView& ov, const Conv2dParams& p) {
  const Shape s = conv::make_shape(xv, wv, ov, p);
  const T* bias = bv != nullptr ? bv->ptr<T>() : nullptr;
  if constexpr (kSixteenBit<T>) {
    const auto d = implicit_gemm_dims<T>(s);
    if (d && igemm::supported(*d))
      return igemm::conv_forward<T>(*d, xv.ptr<T>(), wv.ptr<T>(), bias, ov.ptr<T>());
  }
  if (takes_shared_columns<T>(s))
    return forward_shared<T>(s, xv.ptr<T>(), wv.ptr<T>(), bias, ov.ptr<T>());
  const T* x = xv.ptr<T>();
  const T* w = wv.ptr<T>();
  T* out = ov.ptr<T>();
  const int64_t chunk = s.direct ? s.n : conv::chunk_samples(s, sizeof(T));
  DeviceBuffer cols(s.direct ? 0 : static_cast<size_t>(chunk * s.kg * s.hwo) * sizeof(T));
  const conv::Layout layout = conv::per_sample_layout(s);
  cudaStream_t stream = current_stream();
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    T* out_chunk = out + n0 * s.cout * s.hwo;
    if (bv != nullptr) conv::fill_bias(bv->ptr<T>(), s, nb, s.hwo, out_chunk, stream);
    for (int64_t g = 0; g < s.groups; ++g) {
      GemmOperand columns{x + (n0 * s.cin + g * s.cg) * s.hwi, s.hwo, false, s.cin * s.hwi};
      if (!s.direct) {
        conv::im2col(x, s, n0, nb, g, layout, cols.as<T>(), "conv2d im2col_kernel");
        columns = {cols.as<T>(), s.hwo, false, s.kg * s.hwo};
      }
      const GemmOperand weight{w + g * s.og * s.kg, s.kg, false, 0};
      gemm_rm<T>(s.og, s.hwo, s.kg, weight, columns, bv != nullptr ? 1.0 : 0.0,
                 out_chunk + g * s.og * s.hwo, s.hwo, nb, s.cout * s.hwo);
    }
  }
}

// grad_out of samples [n0, n0 + nb) as [cout][nb * hwo]: as it is for one sample, else
// gathered into `buffer` (room for nb samples).
template <typename T>
const T* shared_grad_out(const Shape& s, const T* go, int64_t n0, int64_t nb,
                         DeviceBuffer& buffer) {
  if (nb == 1) return go + n0 * s.cout * s.hwo;
  conv::gather_grad_out(go, s, n0, nb, buffer.as<T>());
  return buffer.as<T>();
}

// grad_weight (+)= grad_out @ columns^T over all samples, into acc [cout, kg] (type Acc<T>,
// zeroed by the caller).
template <typename T>
void weight_grad(const Shape& s, const T* x, const T* go, Acc<T>* acc) {
  const int64_t chunk = conv::chunk_samples(s, sizeof(T), true);
  DeviceBuffer cols(static_cast<size_t>(chunk * s.kg * s.hwo) * sizeof(T));
  DeviceBuffer go_cols(chunk > 1 ? static_cast<size_t>(chunk * s.cout * s.hwo) * sizeof(T) : 0);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0), ld = nb * s.hwo;
    const T* go_chunk = shared_grad_out(s, go, n0, nb, go_cols);
    for (int64_t g = 0; g < s.groups; ++g) {
      conv::im2col(x, s, n0, nb, g, conv::shared_layout(s, nb), cols.as<T>(),
                   "conv2d_backward im2col_kernel");
      const GemmOperand grad{go_chunk + g * s.og * ld, ld, false, 0};
      const GemmOperand columns{cols.as<T>(), ld, true, 0};
      gemm_rm<T>(s.og, s.kg, ld, grad, columns, 1.0, acc + g * s.og * s.kg, s.kg);
    }
  }
}

// wt [cin][og][kh][kw] = w [cout][cg][kh][kw] transposed within each group and flipped:
// wt[g cg + c][o][i][j] = w[g og + o][c][kh - 1 - i][kw - 1 - j]. I: the index type.
template <typename T, typename I>
__global__ void flip_weight_kernel(const T* __restrict__ w, Shape s, T* __restrict__ wt) {
  const I total = static_cast<I>(s.cout * s.kg), kh = static_cast<I>(s.kh);
  const I kw = static_cast<I>(s.kw), og = static_cast<I>(s.og), cg = static_cast<I>(s.cg);
  for (I idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const I j = idx % kw, i = (idx / kw) % kh, rest = idx / (kw * kh);
    const I o = rest % og, ci = rest / og, g = ci / cg, c = ci % cg;
    wt[idx] = w[(((g * og + o) * cg + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
  }
}

// With stride 1, grad_x is the convolution of grad_out with the flipped, transposed weights,
// padded by d (k - 1) - p (which must not be negative): its output has x's size.
bool transposed_conv_fits(const Shape& s) {
  return !s.direct && s.sh == 1 && s.sw == 1 && s.dh * (s.kh - 1) >= s.ph &&
         s.dw * (s.kw - 1) >= s.pw;
}

// grad_x = conv(grad_out, flipped weights): im2col of grad_out and one batched GEMM per chunk
// and group, written in x's dtype with fp32 accumulation, like the forward. Against
// col2im(W^T @ grad_out) it writes no fp32 column matrix (9x grad_x's size for 3x3) and gathers
// nothing afterwards.
template <typename T>
void input_grad_transposed(const Shape& s, const TensorView& wv, const TensorView& gov,
                           const TensorView& gxv) {
  DeviceBuffer flipped(static_cast<size_t>(s.cout * s.kg) * sizeof(T));
  const int64_t total = s.cout * s.kg;
  with_index_width(total, [&]<typename D>() {  // 32-bit indices where the weights allow
    flip_weight_kernel<T, typename D::Index>
        <<<grid_for(total), kBlockSize, 0, current_stream()>>>(wv.ptr<T>(), s, flipped.as<T>());
  });
  HG_CUDA_LAUNCH_CHECK("conv2d_backward flip_weight_kernel");
  TensorView wt = wv;  // [cin][og][kh][kw], contiguous
  wt.data = flipped.as<T>();
  wt.sizes[0] = s.cin, wt.sizes[1] = s.og;
  wt.strides[1] = s.kh * s.kw, wt.strides[0] = s.og * s.kh * s.kw;
  Conv2dParams p;
  p.pad_h = s.dh * (s.kh - 1) - s.ph, p.pad_w = s.dw * (s.kw - 1) - s.pw;
  p.dilation_h = s.dh, p.dilation_w = s.dw, p.groups = s.groups;
  conv_forward<T>(gov, wt, nullptr, gxv, p);
}

// grad_x: the transposed convolution above for stride 1; otherwise col2im(W^T @ grad_out), per
// chunk and group. 1x1 / stride 1 / no padding writes the product straight into grad_x.
template <typename T>
void input_grad(const Shape& s, const TensorView& wv, const TensorView& gov,
                const TensorView& gxv) {
  if (transposed_conv_fits(s)) return input_grad_transposed<T>(s, wv, gov, gxv);
  const T* w = wv.ptr<T>();
  const T* go = gov.ptr<T>();
  T* gx = gxv.ptr<T>();
  if (s.direct) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const GemmOperand weight{w + g * s.og * s.kg, s.kg, true, 0};
      const GemmOperand grad{go + g * s.og * s.hwo, s.hwo, false, s.cout * s.hwo};
      gemm_rm<T>(s.kg, s.hwo, s.og, weight, grad, 0.0, gx + g * s.cg * s.hwi, s.hwo, s.n,
                 s.cin * s.hwi);
    }
    return;
  }
  const int64_t chunk = conv::chunk_samples(s, sizeof(Acc<T>));
  DeviceBuffer cols(static_cast<size_t>(chunk * s.kg * s.hwo) * sizeof(Acc<T>));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    for (int64_t g = 0; g < s.groups; ++g) {
      const GemmOperand weight{w + g * s.og * s.kg, s.kg, true, 0};
      const GemmOperand grad{go + (n0 * s.cout + g * s.og) * s.hwo, s.hwo, false, s.cout * s.hwo};
      gemm_rm<T>(s.kg, s.hwo, s.og, weight, grad, 0.0, cols.as<Acc<T>>(), s.hwo, nb, s.kg * s.hwo);
      conv::col2im(cols.as<Acc<T>>(), s, n0, nb, g, gx);
    }
  }
}

// grad_bias: each channel's sum of grad_out over samples and positions, in double by slices of
// the batch (kernels/cuda/channel_sums.cuh), rounded once.
template <typename T>
void bias_grad(const TensorView& gov, const TensorView& gb) {
  const Channels L = channels_of(gov);
  DeviceBuffer partial(static_cast<size_t>(L.channels * L.slices) * sizeof(double));
  cudaStream_t stream = current_stream();
  with_pack_width<T>(L.inner, {gov.data}, [&]<int V>() {
    channel_partial_kernel<T, V, false>
        <<<reduction_blocks(L, "conv2d_backward"), kReduceBlock, 0, stream>>>(
            gov.ptr<T>(), L, nullptr, partial.as<double>());
  });
  HG_CUDA_LAUNCH_CHECK("conv2d_backward channel_partial_kernel");
  channel_totals_kernel<T>
      <<<grid_for(L.channels), kBlockSize, 0, stream>>>(partial.as<double>(), L, gb.ptr<T>());
  HG_CUDA_LAUNCH_CHECK("conv2d_backward channel_totals_kernel");
}

// grad_weight: the implicit-GEMM kernels where they apply, else weight_grad above into an
// Acc<T> accumulator rounded once.
template <typename T>
void weight_grad_of(const Shape& s, const TensorView& xv, const T* go, const TensorView& gw) {
  if constexpr (kSixteenBit<T>) {
    const auto d = implicit_gemm_dims<T>(s);
    if (d && igemm::supported(*d)) return igemm::weight_grad<T>(*d, xv.ptr<T>(), go, gw.ptr<T>());
  }
  const int64_t count = s.cout * s.kg;
  if constexpr (std::is_same_v<T, Acc<T>>) {
    zero_async(gw.ptr<T>(), count);
    weight_grad<T>(s, xv.ptr<T>(), go, gw.ptr<T>());
  } else {
    DeviceBuffer acc(static_cast<size_t>(count) * sizeof(Acc<T>));
    zero_async(acc.as<Acc<T>>(), count);
    weight_grad<T>(s, xv.ptr<T>(), go, acc.as<Acc<T>>());
    narrow(acc.as<Acc<T>>(), gw.ptr<T>(), count, "conv2d_backward narrow_kernel");
  }
}

// A [rows, cols] matrix view of T data with the given strides.
TensorView matrix_view(void* data, DType dtype, int64_t rows, int64_t cols, int64_t row_stride,
                       int64_t col_stride) {
  TensorView v;
  v.data = data, v.dtype = dtype, v.ndim = 2;
  v.sizes[0] = rows, v.sizes[1] = cols, v.strides[0] = row_stride, v.strides[1] = col_stride;
  return v;
}

// grad_weight and grad_bias together, when the batch is one chunk of shared columns (groups 1,
// not fp64, not fp32 with TF32 allowed, not the implicit GEMM): one GEMM whose epilogue sums
// grad_out's rows into the bias gradient (linear's family gemm_bias_grad: cuBLASLt's BGRADB, else a
// GEMM and a row sum), written straight in T. Three kernels fewer than weight_grad_of + bias_grad
// (the zeroed accumulator, and the bias's slice sums and their totals), four for 16 bits (the
// narrowing).
template <typename T>
bool weight_and_bias_grad(const Shape& s, const TensorView& xv, const T* go, const TensorView& gw,
                          const TensorView& gb) {
  // (fp32 with TF32 allowed declines: linear's GEMMs would take TF32, conv's are strict fp32)
  if (std::is_same_v<T, double> || (std::is_same_v<T, float> && allow_tf32()) || s.groups != 1 ||
      s.cout == 0 || s.kg * s.hwo == 0 || conv::chunk_samples(s, sizeof(T), true) < s.n)
    return false;
  if constexpr (kSixteenBit<T>) {
    const auto d = implicit_gemm_dims<T>(s);
    if (d && igemm::supported(*d)) return false;
  }
  const int64_t ld = s.n * s.hwo;
  DeviceBuffer cols(static_cast<size_t>(s.kg * ld) * sizeof(T));
  DeviceBuffer gathered(s.n > 1 ? static_cast<size_t>(s.cout * ld) * sizeof(T) : 0);
  const T* grad = shared_grad_out(s, go, 0, s.n, gathered);
  conv::im2col(xv.ptr<T>(), s, 0, s.n, 0, conv::shared_layout(s, s.n), cols.as<T>(),
               "conv2d_backward im2col_kernel");
  ::hg::cuda::gemm_bias_grad(
      matrix_view(const_cast<T*>(grad), gw.dtype, s.cout, ld, ld, 1),  // [cout, n hwo]
      matrix_view(cols.as<T>(), gw.dtype, ld, s.kg, 1, ld),            // columns^T [n hwo, kg]
      matrix_view(gw.data, gw.dtype, s.cout, s.kg, s.kg, 1), gb);
  return true;
}

template <typename T>
void conv_backward(const TensorView& xv, const TensorView& wv, const TensorView& gov,
                   const TensorView* gx, const TensorView* gw, const TensorView* gb,
                   const Conv2dParams& p) {
  const Shape s = conv::make_shape(xv, wv, gov, p);
  const T* go = gov.ptr<T>();
  const bool together =
      gb != nullptr && gw != nullptr && weight_and_bias_grad<T>(s, xv, go, *gw, *gb);
  if (!together && gb != nullptr && s.cout > 0) bias_grad<T>(gov, *gb);
  if (!together && gw != nullptr) weight_grad_of<T>(s, xv, go, *gw);
  if (gx != nullptr) input_grad<T>(s, wv, gov, *gx);
}

}  // namespace

void conv2d(const TensorView& x, const TensorView& weight, const TensorView* bias,
            const TensorView& out, const Conv2dParams& params) {
  if (out.numel() == 0) return;
  dispatch_floating(x.dtype, "conv2d",
                    [&]<typename T>() { conv_forward<T>(x, weight, bias, out, params); });
}

void conv2d_backward(const TensorView& x, const TensorView& weight, const TensorView& grad_out,
                     const TensorView* grad_x, const TensorView* grad_weight,
                     const TensorView* grad_bias, const Conv2dParams& params) {
  dispatch_floating(x.dtype, "conv2d_backward", [&]<typename T>() {
    conv_backward<T>(x, weight, grad_out, grad_x, grad_weight, grad_bias, params);
  });
}

}  // namespace hg::kernels::cuda
