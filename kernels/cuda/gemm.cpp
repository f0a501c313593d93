// GEMM through cuBLAS: cublasGemmEx for one matrix, cublasGemmStridedBatchedEx for a batch. 16-bit
// operands are multiplied with fp32 accumulation (CUBLAS_COMPUTE_32F) and rounded once into the
// 16-bit output, like the CPU path (kernels/cpu/gemm.cpp). fp32 is strict fp32 unless
// set_allow_tf32(true); fp64 is fp64.
//
// Row-major C[M,N] = A[M,K] B[K,N] is column-major C^T = B^T A^T, so B goes first. An operand
// whose rows or columns are unit-stride is passed in place (transposed or not); one whose batch
// dims cannot be walked with one stride, or whose matrix has neither unit stride, is packed
// contiguous first (a copy kernel into scratch memory).
#include <memory>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/gemm_operands.h"
#include "halfgrad/kernels/cuda/scratch.h"

namespace hg::cuda {

namespace {

bool& tf32_flag() {
  static bool flag = false;
  return flag;
}

}  // namespace

void set_allow_tf32(bool on) { tf32_flag() = on; }
bool allow_tf32() { return tf32_flag(); }

void gemm(const kernels::TensorView& a, const kernels::TensorView& b, const kernels::TensorView& c,
          bool accumulate) {
  const int r = c.ndim - 2;
  const int64_t m = c.sizes[r], n = c.sizes[r + 1], k = a.sizes[r + 1];
  int64_t batch = 1;
  for (int d = 0; d < r; ++d) batch *= c.sizes[d];
  if (batch == 0 || m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum
    if (!accumulate) fill(c, 0.0);
    return;
  }
  const Types types = types_for(c.dtype);
  const std::size_t item = itemsize(c.dtype);
  // Operands that cuBLAS cannot read in place are packed contiguous, batch dims expanded.
  Operand oa{}, ob{};
  std::unique_ptr<Scratch> packed_a, packed_b;
  auto prepare = [&](const kernels::TensorView& v, Operand& o, std::unique_ptr<Scratch>& keep) {
    if (as_operand(v, r, o)) return;
    keep = std::make_unique<Scratch>(static_cast<std::size_t>(v.numel()) * item);
    kernels::TensorView dense = v;
    dense.data = keep->get();
    int64_t stride = 1;
    for (int d = v.ndim - 1; d >= 0; --d) {
      dense.strides[d] = stride;
      stride *= v.sizes[d];
    }
    copy(v, dense);
    const bool ok = as_operand(dense, r, o);
    HG_CHECK(ok, "gemm: internal error: a packed operand is not BLAS-compatible");
  };
  prepare(a, oa, packed_a);
  prepare(b, ob, packed_b);

  const float alpha32 = 1.0f, beta32 = accumulate ? 1.0f : 0.0f;
  const double alpha64 = 1.0, beta64 = accumulate ? 1.0 : 0.0;
  const bool f64 = c.dtype == DType::Float64;
  const void* alpha = f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = f64 ? static_cast<const void*>(&beta64) : &beta32;
  if (batch == 1) {  // the plain GEMM, as torch.matmul calls it: cuBLAS's heuristics for one
    HG_CUBLAS_CHECK(cublasGemmEx(cublas_handle(), ob.op, oa.op, checked_int(n, "N"),
                                 checked_int(m, "M"), checked_int(k, "K"), alpha, ob.ptr,
                                 types.data, checked_int(ob.ld, "ldb"), oa.ptr, types.data,
                                 checked_int(oa.ld, "lda"), beta, c.data, types.data,
                                 checked_int(n, "ldc"), types.compute, CUBLAS_GEMM_DEFAULT));
    return;
  }
  HG_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(), ob.op, oa.op, checked_int(n, "N"), checked_int(m, "M"), checked_int(k, "K"),
      alpha, ob.ptr, types.data, checked_int(ob.ld, "ldb"), ob.batch_stride, oa.ptr, types.data,
      checked_int(oa.ld, "lda"), oa.batch_stride, beta, c.data, types.data, checked_int(n, "ldc"),
      m * n, checked_int(batch, "batch"), types.compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace hg::cuda
