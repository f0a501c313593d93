#pragma once
// The only place halfgrad talks to BLAS (kernels/cpu/blas.cpp; docs/blas.md says which BLAS and
// why). Row-major, like cblas_?gemm with CblasRowMajor:
//   C (m x n, leading dimension ldc) = alpha * op(A) * op(B) + beta * C
// op(A) is m x k: A itself (m x k, lda >= k) or, with trans_a, the transpose of a k x m matrix
// (lda >= m); likewise op(B) is k x n: B (k x n, ldb >= n) or, with trans_b, the transpose of an
// n x k matrix (ldb >= k). A leading dimension of a matrix with at most one row may be anything.
// beta == 0 means C is only written, never read (NaNs in C do not survive). C must not overlap A
// or B. Misuse (negative sizes, too-small leading dimensions) throws hg::Error.
//
// The BLAS is loaded on the first call of any function here, not when the program starts.
#include <cstdint>
#include <string>

namespace hg::kernels::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
           const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
           int64_t ldc);

// One line for logs and benchmarks, e.g. "OpenBLAS 0.3.21 (SkylakeX kernels, OpenMP build,
// 2 threads) from /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0; halfgrad asked for
// SkylakeX". Loads the library if no call has yet.
std::string blas_info();

// Sets the number of threads BLAS calls use (n >= 1). With the OpenMP build of OpenBLAS this is
// also the calling thread's OpenMP default (OpenBLAS calls omp_set_num_threads). A call made from
// inside an OpenMP parallel region runs on one thread whatever this says.
void set_num_threads(int n);

// The number of threads BLAS calls use now.
int num_threads();

}  // namespace hg::kernels::cpu
