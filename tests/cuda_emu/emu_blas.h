#pragma once
// Element access by cuBLAS data type and the dot products of the emulated cuBLAS and cuBLASLt
// (emu_cublas.cpp, emu_cublaslt.cpp): values widen exactly to double, a store rounds once.
#include <cublas_v2.h>

#include <cstdint>

namespace hg_emu {

// A dot product of k terms (product(p) gives term p) as a GPU GEMM with fp32 accumulation sums
// it: a running fp32 sum over steps of 16 terms (a tensor-core MMA's depth), each step summed in
// double. So it rounds differently from the CPU's BLAS, as the device does, and the parity
// tolerances are tried against a difference of the GPU's kind. fp32 false: all in double.
template <typename Term>
double dot(int64_t k, bool fp32, Term product) {
  if (!fp32) {
    double sum = 0.0;
    for (int64_t p = 0; p < k; ++p) sum += product(p);
    return sum;
  }
  float sum = 0.0f;
  for (int64_t p0 = 0; p0 < k; p0 += 16) {
    double step = 0.0;
    for (int64_t p = p0; p < k && p < p0 + 16; ++p) step += product(p);
    sum += static_cast<float>(step);
  }
  return sum;
}

inline std::size_t element_bytes(cudaDataType_t type) {
  return type == CUDA_R_64F ? 8 : type == CUDA_R_32F ? 4 : 2;
}

// Throws unless a column-major rows x cols matrix with leading dimension ld (batch of them,
// `stride` elements apart) lies in device memory (emu_runtime_api.h): what a GPU would fault on,
// or read from a neighbouring block.
inline void require_matrix(const void* p, cudaDataType_t type, int64_t rows, int64_t cols,
                           int64_t ld, int64_t stride, int64_t batch, const char* what) {
  if (rows <= 0 || cols <= 0 || batch <= 0) return;
  const int64_t elements = (batch - 1) * stride + (cols - 1) * ld + rows;
  require_device_memory(p, static_cast<std::size_t>(elements) * element_bytes(type), false, what);
}

inline double load(const void* p, cudaDataType_t type, long long i) {
  switch (type) {
    case CUDA_R_32F:
      return static_cast<const float*>(p)[i];
    case CUDA_R_64F:
      return static_cast<const double*>(p)[i];
    case CUDA_R_16F:
      return __half2float(static_cast<const __half*>(p)[i]);
    default:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  }
}

inline void store(void* p, cudaDataType_t type, long long i, double v) {
  switch (type) {
    case CUDA_R_32F:
      static_cast<float*>(p)[i] = static_cast<float>(v);
      break;
    case CUDA_R_64F:
      static_cast<double*>(p)[i] = v;
      break;
    case CUDA_R_16F:
      static_cast<__half*>(p)[i] = __float2half_rn(static_cast<float>(v));
      break;
    default:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(v));
      break;
  }
}

}  // namespace hg_emu
