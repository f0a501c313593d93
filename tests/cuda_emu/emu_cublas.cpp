// The CUDA emulator's cuBLAS GEMMs (include/cublas_v2.h), which the emulated convolution calls
// (kernels/cuda/nn_gemm.cuh). Not cuBLAS's algorithms: straightforward loops with its arithmetic
// contract (products summed in the compute type, one rounding into C) and its argument checks, so
// the emulated launchers' matrix shapes, leading dimensions and strides meet a CPU reference.
#include <cublas_v2.h>

#include <vector>

#include "emu_blas.h"

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"

namespace {

using hg_emu::load;
using hg_emu::store;

// cuBLAS's rules: lda >= rows of A as stored, and the same for B and C.
bool valid(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb,
           int ldc) {
  const auto at_least = [](int ld, int rows) { return ld >= (rows > 1 ? rows : 1); };
  return m >= 0 && n >= 0 && k >= 0 && at_least(lda, ta == CUBLAS_OP_N ? m : k) &&
         at_least(ldb, tb == CUBLAS_OP_N ? k : n) && at_least(ldc, m);
}

// One GEMM: op(A) and op(B) widened to double first (rows of op(A), columns of op(B), each
// contiguous), then each entry of C a sum over k in order, rounded once into C.
using Acc = double;
void gemm_one(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, Acc alpha,
              const void* a, cudaDataType_t at, int lda, const void* b, cudaDataType_t bt, int ldb,
              Acc beta, void* c, cudaDataType_t ct, int ldc, bool fp32) {
  std::vector<Acc> rows(static_cast<size_t>(m) * k), cols(static_cast<size_t>(n) * k);
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < m; ++i)
      rows[static_cast<size_t>(i) * k + p] =
          static_cast<Acc>(load(a, at,
                                ta == CUBLAS_OP_N ? i + static_cast<long long>(p) * lda
                                                  : p + static_cast<long long>(i) * lda));
    for (int j = 0; j < n; ++j)
      cols[static_cast<size_t>(j) * k + p] =
          static_cast<Acc>(load(b, bt,
                                tb == CUBLAS_OP_N ? p + static_cast<long long>(j) * ldb
                                                  : j + static_cast<long long>(p) * ldb));
  }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const Acc* row = rows.data() + static_cast<size_t>(i) * k;
      const Acc* col = cols.data() + static_cast<size_t>(j) * k;
      const Acc sum = hg_emu::dot(k, fp32, [&](int64_t p) { return row[p] * col[p]; });
      const long long ci = i + static_cast<long long>(j) * ldc;
      // beta == 0: C is not read (it may hold anything, NaN included), as in cuBLAS
      const Acc old = beta == Acc(0) ? Acc(0) : beta * static_cast<Acc>(load(c, ct, ci));
      store(c, ct, ci, static_cast<double>(alpha * sum + old));
    }
}

cublasStatus_t gemm_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* a, cudaDataType_t at, int lda,
                            long long sa, const void* b, cudaDataType_t bt, int ldb, long long sb,
                            const void* beta, void* c, cudaDataType_t ct, int ldc, long long sc,
                            int batch, cublasComputeType_t compute) {
  if (!valid(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const auto size = [](cudaDataType_t t) { return t == CUDA_R_64F ? 8 : t == CUDA_R_32F ? 4 : 2; };
  for (int z = 0; z < batch; ++z) {
    const char* az = static_cast<const char*>(a) + z * sa * size(at);
    const char* bz = static_cast<const char*>(b) + z * sb * size(bt);
    char* cz = static_cast<char*>(c) + z * sc * size(ct);
    // the scalars are doubles for a double computation, else floats (and the sums fp32 in steps
    // of 16, emu_blas.h's dot), rounded once into C
    const bool f64 = compute == CUBLAS_COMPUTE_64F;
    const double alpha_d =
        f64 ? *static_cast<const double*>(alpha) : *static_cast<const float*>(alpha);
    const double beta_d =
        f64 ? *static_cast<const double*>(beta) : *static_cast<const float*>(beta);
    gemm_one(ta, tb, m, n, k, alpha_d, az, at, lda, bz, bt, ldb, beta_d, cz, ct, ldc, !f64);
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t transa, cublasOperation_t transb,
                            int m, int n, int k, const void* alpha, const void* a,
                            cudaDataType_t a_type, int lda, const void* b, cudaDataType_t b_type,
                            int ldb, const void* beta, void* c, cudaDataType_t c_type, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  return gemm_batched(transa, transb, m, n, k, alpha, a, a_type, lda, 0, b, b_type, ldb, 0, beta, c,
                      c_type, ldc, 0, 1, compute);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* a, cudaDataType_t a_type,
                                          int lda, long long stride_a, const void* b,
                                          cudaDataType_t b_type, int ldb, long long stride_b,
                                          const void* beta, void* c, cudaDataType_t c_type, int ldc,
                                          long long stride_c, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t) {
  return gemm_batched(transa, transb, m, n, k, alpha, a, a_type, lda, stride_a, b, b_type, ldb,
                      stride_b, beta, c, c_type, ldc, stride_c, batch, compute);
}

namespace hg::cuda {

void check_cublas(cublasStatus_t status, const char* file, int line, const char* expr) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail(file, line, expr, "CUBLAS_STATUS_INVALID_VALUE (emulated cuBLAS)");
}
cublasHandle_t cublas_handle() { return nullptr; }

}  // namespace hg::cuda
