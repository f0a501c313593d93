// The CUDA emulator's cuBLASLt (include/cublasLt.h): what kernels/cuda/gemm_bias.cpp calls, so
// that its plans (transposes, layouts, the epilogue and its vector) meet a CPU reference. The
// layouts are checked against the problem as cuBLASLt checks them: op(A) m x k, op(B) k x n,
// C and D m x n, every leading dimension at least its rows.
#include <cublasLt.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "emu_blas.h"

struct cublasLtContext {};
struct cublasLtMatmulDescOpaque {
  cublasComputeType_t compute;
  cublasOperation_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  void* vector = nullptr;
};
struct cublasLtMatrixLayoutOpaque {
  cudaDataType_t type;
  int64_t rows, cols, ld;
};
struct cublasLtMatmulPreferenceOpaque {};

namespace {

using Layout = cublasLtMatrixLayoutOpaque;

// HG_EMU_CUBLASLT=decline: the heuristic finds no algorithm for any problem; =fail-launch: it
// finds one, and the matmul returns CUBLAS_STATUS_NOT_SUPPORTED. The real library does either
// for some problems, and kernels/cuda/gemm_bias.cpp then takes its plain kernels: these run
// that path for every call.
enum class Refusal { None, Decline, FailLaunch };
Refusal refusal() {
  static const Refusal mode = [] {
    const char* value = std::getenv("HG_EMU_CUBLASLT");
    const std::string mode = value != nullptr ? value : "";
    return mode == "decline"       ? Refusal::Decline
           : mode == "fail-launch" ? Refusal::FailLaunch
                                   : Refusal::None;
  }();
  return mode;
}

// op(X)'s shape: rows x cols of the stored matrix, swapped when transposed.
int64_t op_rows(const Layout& l, cublasOperation_t op) {
  return op == CUBLAS_OP_N ? l.rows : l.cols;
}
int64_t op_cols(const Layout& l, cublasOperation_t op) {
  return op == CUBLAS_OP_N ? l.cols : l.rows;
}

bool consistent(const cublasLtMatmulDescOpaque& desc, const Layout& a, const Layout& b,
                const Layout& c, const Layout& d) {
  const int64_t m = op_rows(a, desc.transa), k = op_cols(a, desc.transa);
  return op_rows(b, desc.transb) == k && op_cols(b, desc.transb) == d.cols && d.rows == m &&
         c.rows == m && c.cols == d.cols &&
         (desc.epilogue == CUBLASLT_EPILOGUE_DEFAULT || desc.vector != nullptr);
}

// Element (r, c) of op(X), X stored column-major.
double op_at(const void* p, const Layout& l, cublasOperation_t op, int64_t r, int64_t c) {
  return op == CUBLAS_OP_N ? hg_emu::load(p, l.type, r + c * l.ld)
                           : hg_emu::load(p, l.type, c + r * l.ld);
}

}  // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  *handle = nullptr;
  if (hg_emu::unsafe_call_refused()) return CUBLAS_STATUS_NOT_INITIALIZED;
  static cublasLtContext context;
  *handle = &context;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  if (scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  *desc = new cublasLtMatmulDescOpaque{compute};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attribute,
                                              const void* value, std::size_t bytes) {
  const auto take = [&](auto& field) {
    if (bytes != sizeof(field)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&field, value, bytes);
    return CUBLAS_STATUS_SUCCESS;
  };
  switch (attribute) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
      return take(desc->transa);
    case CUBLASLT_MATMUL_DESC_TRANSB:
      return take(desc->transb);
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      return take(desc->epilogue);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      return take(desc->vector);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(rows > 1 ? rows : 1)) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new Layout{type, static_cast<int64_t>(rows), static_cast<int64_t>(cols), ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* preference) {
  *preference = new cublasLtMatmulPreferenceOpaque{};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
  delete preference;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t,
                                                    cublasLtMatmulPreferenceAttributes_t,
                                                    const void*, std::size_t) {
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t* results,
                                              int* found) {
  *found = 0;
  if (requested < 1 || !consistent(*desc, *a, *b, *c, *d)) return CUBLAS_STATUS_INVALID_VALUE;
  if (refusal() == Refusal::Decline) return CUBLAS_STATUS_NOT_SUPPORTED;
  results[0] = cublasLtMatmulHeuristicResult_t{};
  results[0].state = CUBLAS_STATUS_SUCCESS;
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

namespace {

// D = alpha op(A) op(B) + beta C with the epilogue, in fp32 (emu_blas.h's dot), one rounding
// into D.
void matmul(const cublasLtMatmulDescOpaque& desc, float alpha, const void* a, const Layout& al,
            const void* b, const Layout& bl, float beta, const void* c, const Layout& cl, void* d,
            const Layout& dl) {
  const int64_t m = dl.rows, n = dl.cols, k = op_cols(al, desc.transa);
  std::vector<float> out(static_cast<size_t>(m * n));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      const double sum = hg_emu::dot(k, true, [&](int64_t p) {
        return op_at(a, al, desc.transa, i, p) * op_at(b, bl, desc.transb, p, j);
      });
      float value = alpha * static_cast<float>(sum);
      if (beta != 0.0f) value += beta * static_cast<float>(hg_emu::load(c, cl.type, i + j * cl.ld));
      if (desc.epilogue == CUBLASLT_EPILOGUE_BIAS)
        value += static_cast<float>(hg_emu::load(desc.vector, dl.type, i));
      out[static_cast<size_t>(i + j * m)] = value;
    }
  if (desc.epilogue == CUBLASLT_EPILOGUE_BGRADB)  // (before D: the vector may not alias it)
    for (int64_t j = 0; j < n; ++j) {
      const double sum =
          hg_emu::dot(k, true, [&](int64_t p) { return op_at(b, bl, desc.transb, p, j); });
      hg_emu::store(desc.vector, dl.type, j, static_cast<float>(sum));
    }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      hg_emu::store(d, dl.type, i + j * dl.ld, out[static_cast<size_t>(i + j * m)]);
}

void require_operands(const cublasLtMatmulDescOpaque& desc, const void* a, const Layout& al,
                      const void* b, const Layout& bl, float beta, const void* c, const Layout& cl,
                      void* d, const Layout& dl) {
  hg_emu::require_matrix(a, al.type, al.rows, al.cols, al.ld, 0, 1, "cublasLtMatmul's A");
  hg_emu::require_matrix(b, bl.type, bl.rows, bl.cols, bl.ld, 0, 1, "cublasLtMatmul's B");
  if (beta != 0.0f)
    hg_emu::require_matrix(c, cl.type, cl.rows, cl.cols, cl.ld, 0, 1, "cublasLtMatmul's C");
  hg_emu::require_matrix(d, dl.type, dl.rows, dl.cols, dl.ld, 0, 1, "cublasLtMatmul's D");
  if (desc.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    const int64_t length = desc.epilogue == CUBLASLT_EPILOGUE_BIAS ? dl.rows : dl.cols;
    hg_emu::require_matrix(desc.vector, dl.type, length, 1, length, 0, 1,
                           "cublasLtMatmul's epilogue vector");
  }
}

}  // namespace

// Checks its operands at the call and runs on `stream` (recorded there during a capture, with
// the descriptor, layouts and scalars as they are now, as cuBLASLt reads them at the call).
// Each run scribbles over the start of the workspace, as a split-K run may: memory lent to it
// must not be anything else's.
cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha,
                              const void* a, cublasLtMatrixLayout_t al, const void* b,
                              cublasLtMatrixLayout_t bl, const void* beta, const void* c,
                              cublasLtMatrixLayout_t cl, void* d, cublasLtMatrixLayout_t dl,
                              const cublasLtMatmulAlgo_t*, void* workspace,
                              std::size_t workspace_bytes, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!consistent(*desc, *al, *bl, *cl, *dl)) return CUBLAS_STATUS_INVALID_VALUE;
  if (refusal() == Refusal::FailLaunch) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float alpha_f = *static_cast<const float*>(alpha),
              beta_f = *static_cast<const float*>(beta);
  require_operands(*desc, a, *al, b, *bl, beta_f, c, *cl, d, *dl);
  hg_emu::require_device_memory(workspace, workspace_bytes, false, "cublasLtMatmul's workspace");
  const auto run = [desc = *desc, alpha_f, a, al = *al, b, bl = *bl, beta_f, c, cl = *cl, d,
                    dl = *dl, workspace, workspace_bytes] {
    if (workspace != nullptr)
      std::memset(workspace, 0xa5, std::min<std::size_t>(workspace_bytes, 4096));
    matmul(desc, alpha_f, a, al, b, bl, beta_f, c, cl, d, dl);
  };
  const std::string what = "cublasLtMatmul m " + std::to_string(dl->rows) + " n " +
                           std::to_string(dl->cols) + " k " +
                           std::to_string(op_cols(*al, desc->transa));
  return hg_emu::submit(stream, cudaGraphNodeTypeKernel, run, what) == cudaSuccess
             ? CUBLAS_STATUS_SUCCESS
             : CUBLAS_STATUS_EXECUTION_FAILED;
}
