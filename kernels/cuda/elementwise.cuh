#pragma once
// The elementwise engine shared by copy, unary, unary_backward, binary and where:
//   out[i] = f(in_0[i], ..., in_k[i])   over storage values (f does its own load/compute/store).
// Two paths:
//  - contiguous: every operand is contiguous or a broadcast scalar (all strides 0), and the
//    contiguous ones are 16-byte aligned: each thread moves VEC elements with vector loads and
//    stores (16 bytes of the narrowest type), scalars are loaded once;
//  - strided: any layout. Dims are coalesced on the host (merged where every operand is
//    contiguous across them), and each element's offsets come from its linear index, in 32-bit
//    arithmetic when the sizes allow.
// f is a functor struct with a __device__ operator() (no extended lambdas: they may not be
// defined inside the templated dispatch lambdas the launchers use).
#include <cuda/std/tuple>

#include <algorithm>
#include <array>
#include <utility>

#include "halfgrad/kernels/cuda/common.cuh"

namespace hg::cuda {

// Dims and per-operand element strides after coalescing (operand 0 is the output).
template <int N>
struct OffsetCalc {
  int ndim;
  int64_t sizes[kernels::kMaxDims];
  int64_t strides[N][kernels::kMaxDims];

  template <typename Index>
  __device__ void offsets(Index linear, Index (&out)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const Index size = static_cast<Index>(sizes[d]);
      const Index i = linear % size;
      linear /= size;
#pragma unroll
      for (int k = 0; k < N; ++k) out[k] += i * static_cast<Index>(strides[k][d]);
    }
  }
};

template <int N>
OffsetCalc<N> make_offset_calc(const std::array<const kernels::TensorView*, N>& views) {
  OffsetCalc<N> calc{};
  const kernels::TensorView& ref = *views[0];
  for (int d = 0; d < ref.ndim; ++d) {
    if (ref.sizes[d] == 1) continue;  // never moves a pointer
    const int at = calc.ndim;
    bool merge = at > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = calc.strides[k][at - 1] == views[k]->strides[d] * ref.sizes[d];
    if (merge) {
      calc.sizes[at - 1] *= ref.sizes[d];
      for (int k = 0; k < N; ++k) calc.strides[k][at - 1] = views[k]->strides[d];
      continue;
    }
    calc.sizes[at] = ref.sizes[d];
    for (int k = 0; k < N; ++k) calc.strides[k][at] = views[k]->strides[d];
    ++calc.ndim;
  }
  return calc;
}

// Whether every offset of every operand fits 32-bit index arithmetic.
template <int N>
bool fits_int32(const OffsetCalc<N>& calc, int64_t numel) {
  constexpr int64_t kLimit = (int64_t{1} << 31) - 1;
  if (numel > kLimit) return false;
  for (int k = 0; k < N; ++k) {
    int64_t reach = 0;
    for (int d = 0; d < calc.ndim; ++d) {
      if (calc.strides[k][d] < 0) return false;
      reach += (calc.sizes[d] - 1) * calc.strides[k][d];
    }
    if (reach > kLimit) return false;
  }
  return true;
}

// ---- kernels ---------------------------------------------------------------------------------

template <typename Index, int N, typename Out, typename F, typename... In>
__global__ void strided_map_kernel(OffsetCalc<N> calc, Index n, Out* out, F f,
                                   ::cuda::std::tuple<const In*...> ins) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    Index off[N];
    calc.offsets(i, off);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      out[off[0]] = f(::cuda::std::get<I>(ins)[off[I + 1]]...);
    }
    (std::index_sequence_for<In...>{});
  }
}

// One input in vector form: the VEC values at vector index v, or the scalar repeated.
template <int VEC, typename T>
__device__ inline Vec<T, VEC> load_vec(const T* p, bool is_scalar, int64_t v) {
  if (is_scalar) {
    Vec<T, VEC> r;
#pragma unroll
    for (int k = 0; k < VEC; ++k) r.v[k] = p[0];
    return r;
  }
  return reinterpret_cast<const Vec<T, VEC>*>(p)[v];
}

template <int VEC, typename Out, typename F, typename... In>
__global__ void contiguous_map_kernel(int64_t n, Out* out, F f,
                                      ::cuda::std::tuple<const In*...> ins, unsigned scalar_mask) {
  const int64_t vectors = n / VEC;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = first; v < vectors; v += stride) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      const ::cuda::std::tuple<Vec<In, VEC>...> loaded{
          load_vec<VEC>(::cuda::std::get<I>(ins), (scalar_mask >> I) & 1u, v)...};
      Vec<Out, VEC> result;
#pragma unroll
      for (int k = 0; k < VEC; ++k) result.v[k] = f(::cuda::std::get<I>(loaded).v[k]...);
      reinterpret_cast<Vec<Out, VEC>*>(out)[v] = result;
    }
    (std::index_sequence_for<In...>{});
  }
  // The n % VEC tail, one element per thread.
  const int64_t i = vectors * VEC + first;
  if (i < n) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      out[i] = f(::cuda::std::get<I>(ins)[((scalar_mask >> I) & 1u) ? 0 : i]...);
    }
    (std::index_sequence_for<In...>{});
  }
}

// ---- launcher --------------------------------------------------------------------------------

template <typename... T>
constexpr int vector_width() {
  constexpr std::size_t smallest = std::min({sizeof(T)...});
  return static_cast<int>(16 / smallest > 8 ? 8 : 16 / smallest);
}

inline bool is_broadcast_scalar(const kernels::TensorView& v) {
  for (int d = 0; d < v.ndim; ++d)
    if (v.sizes[d] != 1 && v.strides[d] != 0) return false;
  return true;
}

// out = f(ins...) elementwise; every input view has out's sizes (broadcast dims stride 0).
template <typename Out, typename... In, typename F>
void map(const char* name, F f, const kernels::TensorView& out,
         const std::array<const kernels::TensorView*, sizeof...(In)>& ins) {
  const int64_t n = out.numel();
  if (n == 0) return;
  constexpr int VEC = vector_width<Out, In...>();
  constexpr std::size_t kAlign = 16;
  bool contiguous = out.is_contiguous() && aligned_to(out.data, kAlign);
  unsigned scalar_mask = 0;
  for (const kernels::TensorView* const& in : ins) {  // (a range-for: fill has no inputs)
    const unsigned k = static_cast<unsigned>(&in - ins.data());
    if (is_broadcast_scalar(*in)) {
      scalar_mask |= 1u << k;
    } else if (!in->is_contiguous() || !aligned_to(in->data, kAlign)) {
      contiguous = false;
    }
  }
  const auto pointers = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return ::cuda::std::tuple<const In*...>{static_cast<const In*>(ins[I]->data)...};
  }
  (std::index_sequence_for<In...>{});
  Out* out_ptr = static_cast<Out*>(out.data);
  cudaStream_t stream = current_stream();
  if (contiguous) {
    contiguous_map_kernel<VEC, Out, F, In...>
        <<<grid_for((n + VEC - 1) / VEC), kBlockSize, 0, stream>>>(n, out_ptr, f, pointers,
                                                                   scalar_mask);
    HG_CUDA_LAUNCH_CHECK(name);
    return;
  }
  constexpr int N = 1 + static_cast<int>(sizeof...(In));
  std::array<const kernels::TensorView*, N> all{};
  all[0] = &out;
  std::copy(ins.begin(), ins.end(), all.begin() + 1);
  const OffsetCalc<N> calc = make_offset_calc<N>(all);
  if (fits_int32(calc, n)) {
    strided_map_kernel<uint32_t, N, Out, F, In...><<<grid_for(n), kBlockSize, 0, stream>>>(
        calc, static_cast<uint32_t>(n), out_ptr, f, pointers);
  } else {
    strided_map_kernel<int64_t, N, Out, F, In...>
        <<<grid_for(n), kBlockSize, 0, stream>>>(calc, n, out_ptr, f, pointers);
  }
  HG_CUDA_LAUNCH_CHECK(name);
}

}  // namespace hg::cuda
