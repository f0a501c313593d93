#pragma once
// Row-major GEMMs through cublasGemmEx / cublasGemmStridedBatchedEx for the convolution and the
// fused attention.
// fp16/bf16 operands multiply on the tensor cores with fp32 accumulation (CUBLAS_COMPUTE_32F);
// fp32 is strict fp32 (no TF32); fp64 is fp64. The output may be wider than the operands
// (16-bit A/B into an fp32 C), which is how gradients are accumulated across samples before the
// single rounding to 16 bits.
#include <climits>
#include <cstdint>

#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/common.cuh"

namespace hg::cuda {

template <typename T>
constexpr cudaDataType_t cuda_type() {
  if constexpr (std::is_same_v<T, float>)
    return CUDA_R_32F;
  else if constexpr (std::is_same_v<T, double>)
    return CUDA_R_64F;
  else if constexpr (std::is_same_v<T, __half>)
    return CUDA_R_16F;
  else
    return CUDA_R_16BF;
}

// One row-major operand: data, leading dimension, whether it is used transposed, and the
// element stride between batch entries.
struct GemmOperand {
  const void* data;
  int64_t ld;
  bool trans;
  int64_t batch_stride = 0;
};

// A GEMM size or leading dimension as cuBLAS's int: an error past INT_MAX, and a leading
// dimension of at least 1 (an empty K gives ld 0, which cuBLAS refuses even with nothing to read).
inline int gemm_int(int64_t value, const char* what, int64_t at_least = 0) {
  HG_CHECK(value <= INT_MAX, "cuBLAS gemm: ", what, " = ", value, " exceeds cuBLAS's int range");
  return static_cast<int>(value < at_least ? at_least : value);
}

// C[b] (M x N, row-major, ldc) = A[b] (M x K) @ B[b] (K x N) + beta * C[b] for b < batch.
// T is the operand type, A the output/accumulation type (float or double; or T itself).
// Row-major C = A B is column-major C^T = B^T A^T, so cuBLAS gets B first.
template <typename T, typename Out>
void gemm_rm(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, double beta, Out* c,
             int64_t ldc, int64_t batch = 1, int64_t c_stride = 0) {
  if (m == 0 || n == 0 || batch == 0) return;
  constexpr bool f64 = std::is_same_v<T, double>;
  const cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const double alpha_d = 1.0, beta_d = beta;
  const float alpha_f = 1.0f, beta_f = static_cast<float>(beta);
  const void* alpha = f64 ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta_p = f64 ? static_cast<const void*>(&beta_d) : &beta_f;
  const cublasOperation_t op_b = b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = a.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t handle = cublas_handle();
  if (batch == 1) {
    HG_CUBLAS_CHECK(cublasGemmEx(
        handle, op_b, op_a, gemm_int(n, "N"), gemm_int(m, "M"), gemm_int(k, "K"), alpha, b.data,
        cuda_type<T>(), gemm_int(b.ld, "ldb", 1), a.data, cuda_type<T>(), gemm_int(a.ld, "lda", 1),
        beta_p, c, cuda_type<Out>(), gemm_int(ldc, "ldc", 1), compute, CUBLAS_GEMM_DEFAULT));
    return;
  }
  HG_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle, op_b, op_a, gemm_int(n, "N"), gemm_int(m, "M"), gemm_int(k, "K"), alpha, b.data,
      cuda_type<T>(), gemm_int(b.ld, "ldb", 1), b.batch_stride, a.data, cuda_type<T>(),
      gemm_int(a.ld, "lda", 1), a.batch_stride, beta_p, c, cuda_type<Out>(),
      gemm_int(ldc, "ldc", 1), c_stride, gemm_int(batch, "batch"), compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace hg::cuda
