#pragma once
// How a TensorView becomes a cuBLAS operand (kernels/cuda/gemm.cpp, gemm_bias.cpp): row-major
// C[M,N] = A[M,K] B[K,N] is column-major C^T = B^T A^T, so B goes first; an operand whose rows
// or columns are unit-stride is passed in place, transposed or not. Host code only.
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::cuda {

struct Operand {
  const void* ptr;
  cublasOperation_t op;
  int64_t ld;
  int64_t batch_stride;
};

// The single stride that walks every batch entry of v in row-major order, if there is one.
inline bool uniform_batch_stride(const kernels::TensorView& v, int batch_dims, int64_t& stride) {
  stride = 0;
  int64_t expected = -1;  // stride the next outer dim must have; -1 = none seen yet
  for (int d = batch_dims - 1; d >= 0; --d) {
    if (v.sizes[d] == 1) continue;
    if (expected < 0) {
      stride = v.strides[d];
    } else if (v.strides[d] != expected) {
      return false;
    }
    expected = v.strides[d] * v.sizes[d];
  }
  return true;
}

// Operand in place when possible (see above); otherwise false.
inline bool as_operand(const kernels::TensorView& v, int r, Operand& out) {
  const int64_t rows = v.sizes[r], cols = v.sizes[r + 1];
  const int64_t rs = v.strides[r], cs = v.strides[r + 1];
  if (!uniform_batch_stride(v, r, out.batch_stride)) return false;
  out.ptr = v.data;
  if ((cols == 1 || cs == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1))) {
    out.op = CUBLAS_OP_N;
    out.ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    return true;
  }
  if ((rows == 1 || rs == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1))) {
    out.op = CUBLAS_OP_T;
    out.ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    return true;
  }
  return false;
}

struct Types {
  cudaDataType_t data;
  cublasComputeType_t compute;
};

inline Types types_for(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return {CUDA_R_32F, allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
    case DType::Float64:
      return {CUDA_R_64F, CUBLAS_COMPUTE_64F};
    case DType::Float16:
      return {CUDA_R_16F, CUBLAS_COMPUTE_32F};
    case DType::BFloat16:
      return {CUDA_R_16BF, CUBLAS_COMPUTE_32F};
    default:
      break;
  }
  HG_FAIL("gemm: expected a floating dtype, got ", dtype_name(dtype));
}

inline int checked_int(int64_t value, const char* what) {
  HG_CHECK(value <= INT_MAX, "gemm: ", what, " = ", value, " exceeds cuBLAS's int range");
  return static_cast<int>(value);
}

}  // namespace hg::cuda
