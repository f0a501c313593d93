#pragma once
// What the normalisation kernels share (kernels/cuda/norm.cu, kernels/cuda/batch_norm.cu): the
// float32/float64 parameter vectors, loads widened to double, and arithmetic without fused
// multiply-adds, so that a 16-bit activation is rounded as the CPU rounds it.
#include <cstdint>

#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/kernels.h"

namespace hg::kernels::cuda {

// A float32/float64 parameter vector (weight, bias, statistics), or none.
struct Param {
  void* data = nullptr;
  bool f64 = false;
  __device__ double get(int64_t i, double fallback) const {
    if (data == nullptr) return fallback;
    return f64 ? static_cast<const double*>(data)[i] : static_cast<const float*>(data)[i];
  }
  __device__ void set(int64_t i, double v) const {
    if (data == nullptr) return;
    if (f64)
      static_cast<double*>(data)[i] = v;
    else
      static_cast<float*>(data)[i] = static_cast<float>(v);
  }
};
inline Param param_of(const TensorView* v) {
  return v == nullptr ? Param{} : Param{v->data, v->dtype == DType::Float64};
}

// Un-fused arithmetic: what the CPU computes, operation by operation.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }

template <typename T>
__device__ inline double load_d(const T* p, int64_t i) {
  return static_cast<double>(::hg::cuda::Scalar<T>::load(p[i]));
}

}  // namespace hg::kernels::cuda
