#pragma once
// What every halfgrad kernel file shares: loading any floating dtype as float (or double) and
// storing it back rounded to nearest even, launch geometry, and element offsets from a
// TensorView. Kernels compute in float and store in the tensor's dtype (fp64 stays double).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/tensor_view.h"

namespace hg::cuda {

inline constexpr int kBlockSize = 256;

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never more than needed.
inline unsigned grid_for(int64_t n, int block = kBlockSize) {
  const int64_t blocks = (n + block - 1) / block;
  const int64_t cap = 65535LL * 8;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// A TensorView's geometry, by value in kernel arguments (no pointers to host memory).
struct Geometry {
  int ndim;
  int64_t sizes[kernels::kMaxDims];
  int64_t strides[kernels::kMaxDims];
};

inline Geometry geometry_of(const kernels::TensorView& v) {
  Geometry g{};
  g.ndim = v.ndim;
  for (int i = 0; i < v.ndim; ++i) {
    g.sizes[i] = v.sizes[i];
    g.strides[i] = v.strides[i];
  }
  return g;
}

// Element offset of the linear (row-major) index `linear` in a strided view.
__device__ inline int64_t offset_of(const Geometry& g, int64_t linear) {
  int64_t offset = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t size = g.sizes[d];
    offset += (linear % size) * g.strides[d];
    linear /= size;
  }
  return offset;
}

template <typename T>
struct Scalar;  // load/store between a storage type and its compute type
template <>
struct Scalar<float> {
  using Compute = float;
  __device__ static float load(float v) { return v; }
  __device__ static float store(float v) { return v; }
};
template <>
struct Scalar<double> {
  using Compute = double;
  __device__ static double load(double v) { return v; }
  __device__ static double store(double v) { return v; }
};
template <>
struct Scalar<__half> {
  using Compute = float;
  __device__ static float load(__half v) { return __half2float(v); }
  __device__ static __half store(float v) { return __float2half_rn(v); }
};
template <>
struct Scalar<__nv_bfloat16> {
  using Compute = float;
  __device__ static float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ static __nv_bfloat16 store(float v) { return __float2bfloat16_rn(v); }
};

// Calls f.template operator()<T>() with T the CUDA storage type of a floating dtype.
template <typename F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Float16: f.template operator()<__half>(); return;
    case DType::BFloat16: f.template operator()<__nv_bfloat16>(); return;
    default: break;
  }
  fail(__FILE__, __LINE__, op, "not a floating dtype");
}

}  // namespace hg::cuda
