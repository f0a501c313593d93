// The fused attention on CUDA (kernels/attention_kernels.h): per batch of problems, strided
// batched cuBLAS products around two row kernels, with the CPU column's arithmetic
// (kernels/cpu/attention.cpp) in the compute type C (float; double for fp64):
//   forward:  S = q k^T (into the weights), P = softmax(scale S + mask) in place, out = P v;
//   backward: dP = dO v^T, dS = scale P (dP - sum(P dP)), dv = P^T dO, dq = dS k, dk = dS^T q.
// Products whose operands are both tensors (q k^T, dO v^T) take them as they are (16-bit ones on
// the tensor cores, accumulated in float: the products of 16-bit values are exact in float);
// a product with the float P or dS takes the other operand widened to C. Results come out in C
// and are rounded once into the 16-bit tensors. fp32 products are strict fp32 (no TF32), as the
// CPU's. The scale is applied in the row kernels, not as cuBLAS's alpha: the backward folds it
// into dS once instead of into two products, so its gradients may differ from the CPU's by a
// rounding (nothing when the scale is a power of two, as it is for widths 4, 16, 64, 256).
// One warp per score row: rows are many (batch x heads x queries) and rarely longer than a few
// hundred keys; a longer row is walked by the same 32 lanes.
#include <algorithm>
#include <cuda/std/limits>
#include <memory>
#include <vector>

#include "halfgrad/kernels/cuda/cuda_attention_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/cuda/nn_gemm.cuh"
#include "halfgrad/kernels/cuda/scratch.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = kBlockSize / kWarp;

// The mask's problem b, row i is data + b * batch + i * row, its key j at j * key (0 strides
// where it broadcasts); data null for none.
template <typename C>
struct MaskView {
  const C* data;
  int64_t batch, row, key;
};

template <typename C>
__device__ C warp_max(C value) {  // NaN ignored, as std::max(max, x) on the CPU
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const C other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = value < other ? other : value;
  }
  return value;
}

template <typename C>
__device__ C warp_sum(C value) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// Each warp takes rows r = its index, + the number of warps, ...; r is the same for all 32
// lanes, so all of them reach the shuffles.
__device__ inline int64_t first_row() {
  return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
}
__device__ inline int64_t row_step() { return static_cast<int64_t>(gridDim.x) * kRowsPerBlock; }

// p [rows = problems * queries, keys] holds q k^T; it becomes the softmax of scale * it + mask,
// with -inf where the causal mask hides key j > query i.
template <typename C>
__global__ void attention_softmax_kernel(C* p, MaskView<C> mask, int64_t rows, int64_t queries,
                                         int64_t keys, C scale, bool causal) {
  const int64_t lane = threadIdx.x % kWarp;
  for (int64_t r = first_row(); r < rows; r += row_step()) {
    const int64_t b = r / queries, i = r % queries;
    C* row = p + r * keys;
    const C* m = mask.data == nullptr ? nullptr : mask.data + b * mask.batch + i * mask.row;
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t j = lane; j < keys; j += kWarp) {
      C s = mul_rn(row[j], scale);  // rounded before the mask is added, as the CPU's
      if (m != nullptr) s += m[j * mask.key];
      if (causal && j > i) s = -::cuda::std::numeric_limits<C>::infinity();
      row[j] = s;
      max = max < s ? s : max;
    }
    max = warp_max(max);
    C sum = 0;
    for (int64_t j = lane; j < keys; j += kWarp) {
      const C e = exp_(row[j] - max);
      row[j] = e;
      sum += e;
    }
    const C inv = C(1) / warp_sum(sum);
    for (int64_t j = lane; j < keys; j += kWarp) row[j] *= inv;
  }
}

// ds [rows, keys] holds dP = dO v^T; it becomes scale * P (dP - sum(P dP)) row by row.
template <typename C>
__global__ void attention_softmax_backward_kernel(const C* p, C* ds, int64_t rows, int64_t keys,
                                                  C scale) {
  const int64_t lane = threadIdx.x % kWarp;
  for (int64_t r = first_row(); r < rows; r += row_step()) {
    const C* pr = p + r * keys;
    C* row = ds + r * keys;
    C dot = 0;
    for (int64_t j = lane; j < keys; j += kWarp) dot += mul_rn(pr[j], row[j]);
    dot = warp_sum(dot);
    for (int64_t j = lane; j < keys; j += kWarp) row[j] = mul_rn(pr[j] * (row[j] - dot), scale);
  }
}

template <typename T, typename C>
__global__ void widen_kernel(const T* src, C* dst, int64_t n) {
  HG_GRID_LOOP(i, n) dst[i] = static_cast<C>(Scalar<T>::load(src[i]));
}

struct Dims {
  int64_t problems, queries, keys, width, value_width;  // B, L, S, E, Ev
};

Dims dims_of(const TensorView& q, const TensorView& k, const TensorView& v) {
  return {q.sizes[0], q.sizes[1], k.sizes[1], q.sizes[2], v.sizes[2]};
}

unsigned blocks_for_rows(int64_t rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(blocks, 1), 65535LL * 16));
}

// Scratch blocks in the compute type for one launcher, back to the cache when it returns (the
// kernels that use them are queued before, and the next owner comes after them on the stream).
class Buffers {
 public:
  template <typename C>
  C* get(int64_t n) {
    blocks_.push_back(
        std::make_unique<Scratch>(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(C)));
    return blocks_.back()->template as<C>();
  }

  // src [0, n) in the compute type C: itself when T is C, else a widened copy.
  template <typename T, typename C>
  const C* as_compute(const T* src, int64_t n) {
    if constexpr (std::is_same_v<T, C>) {
      return src;
    } else {
      C* dst = get<C>(n);
      if (n > 0) {
        widen_kernel<T, C><<<grid_for(n), kBlockSize, 0, current_stream()>>>(src, dst, n);
        HG_CUDA_LAUNCH_CHECK("attention widen_kernel");
      }
      return dst;
    }
  }

  // Where a result of n values for `to` is computed: `to` itself when T is C, else a buffer
  // that round_into() rounds into it.
  template <typename T, typename C>
  C* result_for(T* to, int64_t n) {
    if constexpr (std::is_same_v<T, C>)
      return to;
    else
      return get<C>(n);
  }

 private:
  std::vector<std::unique_ptr<Scratch>> blocks_;
};

template <typename T, typename C>
void round_into(const C* result, T* to, int64_t n) {
  if constexpr (!std::is_same_v<T, C>) narrow(result, to, n, "attention narrow_kernel");
}

// A row-major [rows, cols] matrix of each problem, used as it is or transposed.
GemmOperand stored(const void* data, int64_t rows, int64_t cols, bool trans) {
  return {data, cols, trans, rows * cols};
}

// c[b] (m x n, contiguous) = a[b] b[b] for every problem; In is the operands' type. An empty
// inner dimension gives zeros, as the CPU's BLAS.
template <typename In, typename C>
void product(const Dims& d, int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, C* c) {
  if (k == 0) {
    const size_t bytes = static_cast<size_t>(d.problems * m * n) * sizeof(C);
    if (bytes > 0) HG_CUDA_CHECK(cudaMemsetAsync(c, 0, bytes, current_stream()));
    return;
  }
  gemm_rm<In, C>(m, n, k, a, b, 0.0, c, n, d.problems, m * n);
}

template <typename T, typename C>
void forward(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView* mask,
             bool causal, C scale, const TensorView& out, const TensorView& weights) {
  const Dims d = dims_of(q, k, v);
  const int64_t L = d.queries, S = d.keys, E = d.width, Ev = d.value_width;
  Buffers buffers;
  C* p = weights.ptr<C>();
  product<T, C>(d, L, S, E, stored(q.data, L, E, false), stored(k.data, S, E, true), p);
  const MaskView<C> m = mask == nullptr ? MaskView<C>{nullptr, 0, 0, 0}
                                        : MaskView<C>{mask->ptr<C>(), mask->strides[0],
                                                      mask->strides[1], mask->strides[2]};
  const int64_t rows = d.problems * L;
  attention_softmax_kernel<C>
      <<<blocks_for_rows(rows), kBlockSize, 0, current_stream()>>>(p, m, rows, L, S, scale, causal);
  HG_CUDA_LAUNCH_CHECK("attention_softmax_kernel");
  const C* v_c = buffers.as_compute<T, C>(v.ptr<T>(), d.problems * S * Ev);
  const int64_t n = d.problems * L * Ev;
  C* o = buffers.result_for<T, C>(out.ptr<T>(), n);
  product<C, C>(d, L, Ev, S, stored(p, L, S, false), stored(v_c, S, Ev, false), o);
  round_into(o, out.ptr<T>(), n);
}

// grad [rows, cols] of each problem = op(a) b in C, rounded into `to`.
template <typename T, typename C>
void gradient(const Dims& d, Buffers& buffers, const TensorView& to, int64_t rows, int64_t cols,
              int64_t inner, GemmOperand a, GemmOperand b) {
  const int64_t n = d.problems * rows * cols;
  C* g = buffers.result_for<T, C>(to.ptr<T>(), n);
  product<C, C>(d, rows, cols, inner, a, b, g);
  round_into(g, to.ptr<T>(), n);
}

template <typename T, typename C>
void backward(const TensorView& q, const TensorView& k, const TensorView& v,
              const TensorView& weights, C scale, const TensorView& grad_out,
              const TensorView& grad_q, const TensorView& grad_k, const TensorView& grad_v) {
  const Dims d = dims_of(q, k, v);
  const int64_t B = d.problems, L = d.queries, S = d.keys, E = d.width, Ev = d.value_width;
  Buffers buffers;
  const C* p = weights.ptr<C>();
  C* ds = buffers.get<C>(B * L * S);  // dP = dO v^T, then dS in place
  product<T, C>(d, L, S, Ev, stored(grad_out.data, L, Ev, false), stored(v.data, S, Ev, true), ds);
  attention_softmax_backward_kernel<C>
      <<<blocks_for_rows(B * L), kBlockSize, 0, current_stream()>>>(p, ds, B * L, S, scale);
  HG_CUDA_LAUNCH_CHECK("attention_softmax_backward_kernel");
  const C* go = buffers.as_compute<T, C>(grad_out.ptr<T>(), B * L * Ev);
  const C* q_c = buffers.as_compute<T, C>(q.ptr<T>(), B * L * E);
  const C* k_c = buffers.as_compute<T, C>(k.ptr<T>(), B * S * E);
  gradient<T, C>(d, buffers, grad_v, S, Ev, L, stored(p, L, S, true), stored(go, L, Ev, false));
  gradient<T, C>(d, buffers, grad_q, L, E, S, stored(ds, L, S, false), stored(k_c, S, E, false));
  gradient<T, C>(d, buffers, grad_k, S, E, L, stored(ds, L, S, true), stored(q_c, L, E, false));
}

}  // namespace

void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView* mask, bool causal, double scale, const TensorView& out,
               const TensorView& weights) {
  if (q.sizes[0] * q.sizes[1] == 0) return;
  dispatch_floating(q.dtype, "attention", [&]<typename T>() {
    using C = compute_t<T>;
    forward<T, C>(q, k, v, mask, causal, static_cast<C>(scale), out, weights);
  });
}

void attention_backward(const TensorView& q, const TensorView& k, const TensorView& v,
                        const TensorView& weights, double scale, const TensorView& grad_out,
                        const TensorView& grad_q, const TensorView& grad_k,
                        const TensorView& grad_v) {
  dispatch_floating(q.dtype, "attention_backward", [&]<typename T>() {
    using C = compute_t<T>;
    backward<T, C>(q, k, v, weights, static_cast<C>(scale), grad_out, grad_q, grad_k, grad_v);
  });
}

}  // namespace hg::kernels::cuda
