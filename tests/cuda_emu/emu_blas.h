#pragma once
// Element access by cuBLAS data type, for the emulated cuBLAS and cuBLASLt (emu_cublas.cpp,
// emu_cublaslt.cpp): values widen exactly to double, and a store rounds once to the type.
#include <cublas_v2.h>

namespace hg_emu {

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
