#pragma once
// Row-major GEMMs through cublasGemmEx / cublasGemmStridedBatchedEx for the convolution.
// fp16/bf16 operands multiply on the tensor cores with fp32 accumulation (CUBLAS_COMPUTE_32F);
// fp32 is strict fp32 (no TF32); fp64 is fp64. The output may be wider than the operands
// (16-bit A/B into an fp32 C), which is how gradients are accumulated across samples before the
// single rounding to 16 bits.
#include <cstdint>

#include "kernels/cuda/common.cuh"

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
    HG_CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                 static_cast<int>(k), alpha, b.data, cuda_type<T>(),
                                 static_cast<int>(b.ld), a.data, cuda_type<T>(),
                                 static_cast<int>(a.ld), beta_p, c, cuda_type<Out>(),
                                 static_cast<int>(ldc), compute, CUBLAS_GEMM_DEFAULT));
    return;
  }
  HG_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle, op_b, op_a, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), alpha,
      b.data, cuda_type<T>(), static_cast<int>(b.ld), b.batch_stride, a.data, cuda_type<T>(),
      static_cast<int>(a.ld), a.batch_stride, beta_p, c, cuda_type<Out>(), static_cast<int>(ldc),
      c_stride, static_cast<int>(batch), compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace hg::cuda
