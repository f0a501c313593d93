// GEMM through cuBLAS: cublasGemmEx for one matrix, cublasGemmStridedBatchedEx for a batch. 16-bit
// operands are multiplied with fp32 accumulation (CUBLAS_COMPUTE_32F) and rounded once into the
// 16-bit output, like the CPU path (kernels/cpu/gemm.cpp). fp32 is strict fp32 unless
// set_allow_tf32(true); fp64 is fp64.
//
// Row-major C[M,N] = A[M,K] B[K,N] is column-major C^T = B^T A^T, so B goes first. An operand
// whose rows or columns are unit-stride is passed in place (transposed or not); one whose batch
// dims cannot be walked with one stride, or whose matrix has neither unit stride, is packed
// contiguous first (a copy kernel into scratch memory).
#include <algorithm>
#include <climits>
#include <memory>

#include "core/cuda.h"
#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scratch.h"

namespace hg::cuda {

namespace {

bool& tf32_flag() {
  static bool flag = false;
  return flag;
}

struct Operand {
  const void* ptr;
  cublasOperation_t op;
  int64_t ld;
  int64_t batch_stride;
};

// The single stride that walks every batch entry of v in row-major order, if there is one.
bool uniform_batch_stride(const kernels::TensorView& v, int batch_dims, int64_t& stride) {
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

// Operand in place when possible (see the file comment); otherwise false.
bool as_operand(const kernels::TensorView& v, int r, Operand& out) {
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

Types types_for(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return {CUDA_R_32F, tf32_flag() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
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

int checked_int(int64_t value, const char* what) {
  HG_CHECK(value <= INT_MAX, "gemm: ", what, " = ", value, " exceeds cuBLAS's int range");
  return static_cast<int>(value);
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
