// The CUDA emulator's cuBLAS GEMMs (include/cublas_v2.h), which the emulated convolution calls
// (kernels/cuda/nn_gemm.cuh). Not cuBLAS's algorithms: straightforward loops with its arithmetic
// contract (products summed in the compute type, one rounding into C) and its argument checks, so
// the emulated launchers' matrix shapes, leading dimensions and strides meet a CPU reference.
#include <cublas_v2.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "emu_blas.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/kernels.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

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

// HG_EMU_FAST_GEMM=1 (for whole training runs on the emulated device, not the tests): GEMMs
// whose operands and result share a dtype, with C dense, go to the CPU's BLAS (kernels::gemm),
// C^T = op(B)^T op(A)^T row-major; their rounding is then the CPU's, not a GPU's.
bool fast_gemm() {
  static const bool fast = [] {
    const char* value = std::getenv("HG_EMU_FAST_GEMM");
    return value != nullptr && value[0] == '1';
  }();
  return fast;
}

hg::DType dtype_of(cudaDataType_t type) {
  switch (type) {
    case CUDA_R_32F:
      return hg::DType::Float32;
    case CUDA_R_64F:
      return hg::DType::Float64;
    case CUDA_R_16F:
      return hg::DType::Float16;
    default:
      return hg::DType::BFloat16;
  }
}

hg::kernels::TensorView matrix(const void* data, cudaDataType_t type, int64_t rows, int64_t cols,
                               int64_t row_stride, int64_t col_stride) {
  hg::kernels::TensorView v;
  v.data = const_cast<void*>(data);
  v.dtype = dtype_of(type);
  v.ndim = 2;
  v.sizes[0] = rows, v.sizes[1] = cols, v.strides[0] = row_stride, v.strides[1] = col_stride;
  return v;
}

// Operands of another type than the result, widened to it (16-bit operands of an fp32 result:
// exact, as the products are fp32's too).
struct Widened {
  std::vector<float> f32;
  std::vector<double> f64;
};

// op(X)^T of a stored column-major X as a [rows, cols] view, in `to` (widened into `storage`).
hg::kernels::TensorView transposed_operand(const void* x, cudaDataType_t type, bool n, int rows,
                                           int cols, int ld, cudaDataType_t to, Widened& storage) {
  if (type == to) return matrix(x, type, rows, cols, n ? ld : 1, n ? 1 : ld);
  const auto fill = [&](auto& values) {
    values.resize(static_cast<size_t>(rows) * cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        values[static_cast<size_t>(r) * cols + c] =
            static_cast<typename std::decay_t<decltype(values)>::value_type>(
                load(x, type, n ? r * ld + c : r + c * ld));
    return matrix(values.data(), to, rows, cols, cols, 1);
  };
  return to == CUDA_R_32F ? fill(storage.f32) : fill(storage.f64);
}

// One GEMM by the CPU's BLAS, if it takes it (see fast_gemm).
bool gemm_on_cpu(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha,
                 const void* a, cudaDataType_t at, int lda, const void* b, cudaDataType_t bt,
                 int ldb, double beta, void* c, cudaDataType_t ct, int ldc) {
  const bool wider_c = ct == CUDA_R_32F || ct == CUDA_R_64F;
  if (alpha != 1.0 || (beta != 0.0 && beta != 1.0) || ldc != m ||
      ((at != ct || bt != ct) && !wider_c))
    return false;
  Widened a_wide, b_wide;
  const auto bt_view =  // op(B)^T [n, k]
      transposed_operand(b, bt, tb == CUBLAS_OP_N, n, k, ldb, ct, b_wide);
  const auto at_view =  // op(A)^T [k, m]
      transposed_operand(a, at, ta == CUBLAS_OP_N, k, m, lda, ct, a_wide);
  hg::kernels::gemm(hg::kCPU)(bt_view, at_view, matrix(c, ct, n, m, m, 1), beta == 1.0);
  return true;
}

cublasStatus_t gemm_batched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                            int m, int n, int k, const void* alpha, const void* a,
                            cudaDataType_t at, int lda, long long sa, const void* b,
                            cudaDataType_t bt, int ldb, long long sb, const void* beta, void* c,
                            cudaDataType_t ct, int ldc, long long sc, int batch,
                            cublasComputeType_t compute) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const bool a_n = ta == CUBLAS_OP_N, b_n = tb == CUBLAS_OP_N;
  hg_emu::require_matrix(a, at, a_n ? m : k, a_n ? k : m, lda, sa, batch, "cuBLAS GEMM's A");
  hg_emu::require_matrix(b, bt, b_n ? k : n, b_n ? n : k, ldb, sb, batch, "cuBLAS GEMM's B");
  hg_emu::require_matrix(c, ct, m, n, ldc, sc, batch, "cuBLAS GEMM's C");
  // the scalars are read at the call (host pointer mode): doubles for a double computation, else
  // floats (and the sums fp32 in steps of 16, emu_blas.h's dot), rounded once into C
  const bool f64 = compute == CUBLAS_COMPUTE_64F;
  const double alpha_d =
      f64 ? *static_cast<const double*>(alpha) : *static_cast<const float*>(alpha);
  const double beta_d = f64 ? *static_cast<const double*>(beta) : *static_cast<const float*>(beta);
  const auto run = [=] {
    const auto size = [](cudaDataType_t t) {
      return static_cast<long long>(hg_emu::element_bytes(t));
    };
    for (int z = 0; z < batch; ++z) {
      const char* az = static_cast<const char*>(a) + z * sa * size(at);
      const char* bz = static_cast<const char*>(b) + z * sb * size(bt);
      char* cz = static_cast<char*>(c) + z * sc * size(ct);
      if (fast_gemm() &&
          gemm_on_cpu(ta, tb, m, n, k, alpha_d, az, at, lda, bz, bt, ldb, beta_d, cz, ct, ldc))
        continue;
      gemm_one(ta, tb, m, n, k, alpha_d, az, at, lda, bz, bt, ldb, beta_d, cz, ct, ldc, !f64);
    }
  };
  const std::string what = "cublas GEMM m " + std::to_string(m) + " n " + std::to_string(n) +
                           " k " + std::to_string(k) + " batch " + std::to_string(batch);
  return hg_emu::submit(handle->stream, cudaGraphNodeTypeKernel, run, what) == cudaSuccess
             ? CUBLAS_STATUS_SUCCESS
             : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    default:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
}
const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized (emulated cuBLAS)";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid value (emulated cuBLAS)";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute (emulated cuBLAS)";
    default:
      return "not supported (emulated cuBLAS)";
  }
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = nullptr;
  if (hg_emu::unsafe_call_refused()) return CUBLAS_STATUS_NOT_INITIALIZED;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, std::size_t bytes) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  hg_emu::require_device_memory(workspace, bytes, false, "cublasSetWorkspace's workspace");
  handle->workspace = workspace, handle->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* a, cudaDataType_t a_type, int lda, const void* b,
                            cudaDataType_t b_type, int ldb, const void* beta, void* c,
                            cudaDataType_t c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t) {
  return gemm_batched(handle, transa, transb, m, n, k, alpha, a, a_type, lda, 0, b, b_type, ldb, 0,
                      beta, c, c_type, ldc, 0, 1, compute);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* a, cudaDataType_t a_type,
                                          int lda, long long stride_a, const void* b,
                                          cudaDataType_t b_type, int ldb, long long stride_b,
                                          const void* beta, void* c, cudaDataType_t c_type, int ldc,
                                          long long stride_c, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t) {
  return gemm_batched(handle, transa, transb, m, n, k, alpha, a, a_type, lda, stride_a, b, b_type,
                      ldb, stride_b, beta, c, c_type, ldc, stride_c, batch, compute);
}
