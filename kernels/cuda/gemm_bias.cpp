// linear's bias on CUDA, in cuBLASLt's epilogue: one matmul where the plain path takes two
// kernels.
//  - forward, c = a @ b + bias (CUBLASLT_EPILOGUE_BIAS): instead of a broadcast copy of the bias
//    into c and a GEMM accumulating into it; both add bias and product in fp32, round once. In
//    column-major terms (kernels/cuda/gemm_operands.h) D = c^T is [N, M] and the bias runs down
//    D's rows, the epilogue's broadcast.
//  - backward, c = a @ b with a = grad_out^T, and bias_grad = a's row sums
//    (CUBLASLT_EPILOGUE_BGRADB): instead of a GEMM and a reduction. cuBLASLt's B is a here, and
//    the sums run over the GEMM's k, one per column of D = c^T.
//
// Setting up a cuBLASLt call (descriptors, the heuristic's choice of algorithm) costs more host
// time than the launch, so each distinct call shape is set up once and kept for the process,
// as cuBLAS keeps its own heuristics' answers. Shapes cuBLASLt does not take (fp64, operands
// that need packing, an algorithm it cannot find, a launch it refuses: with a warning, once)
// go the plain way, and are remembered too.
#include <cublasLt.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/warning.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/gemm_operands.h"

namespace hg::cuda {

namespace {

constexpr std::size_t kLtWorkspaceBytes = std::size_t{4} << 20;

std::atomic<int64_t> epilogue_calls{0};  // cublaslt_epilogue_calls()

struct LtContext {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
};

// Created on first use and kept for the process, like the cuBLAS handle (runtime.cpp).
const LtContext& lt_context() {
  static const LtContext context = [] {
    LtContext created;
    HG_CUBLAS_CHECK(cublasLtCreate(&created.handle));
    created.workspace = allocator_for(DeviceType::CUDA).allocate(kLtWorkspaceBytes);
    return created;
  }();
  return context;
}

// The largest power of two (at most 256) dividing the address: what the heuristic may assume.
uint32_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  uint32_t bytes = 256;
  while (bytes > 1 && address % bytes != 0) bytes /= 2;
  return bytes;
}

// Everything the set-up depends on; the pointers only through their alignment.
using PlanKey = std::tuple<int, int, int64_t, int64_t, int64_t, int, int, int64_t, int64_t, bool,
                           uint32_t, uint32_t, uint32_t, uint32_t>;

struct Plan {
  bool usable = false;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

bool lt_ok(cublasStatus_t status) { return status == CUBLAS_STATUS_SUCCESS; }

// A plan cuBLASLt declined keeps no descriptors.
void release(Plan& plan) {
  if (plan.a != nullptr) cublasLtMatrixLayoutDestroy(plan.a);
  if (plan.b != nullptr) cublasLtMatrixLayoutDestroy(plan.b);
  if (plan.d != nullptr) cublasLtMatrixLayoutDestroy(plan.d);
  if (plan.desc != nullptr) cublasLtMatmulDescDestroy(plan.desc);
  plan = Plan{};
}

// The descriptors and algorithm for D [n, m] = op(A) op(B) with `epilogue`, column-major, A =
// the row-major b operand and B = the row-major a operand (C^T = B^T A^T); `vector` is the bias
// or the bias gradient. usable stays false when cuBLASLt declines.
Plan make_plan(cublasLtEpilogue_t epilogue, const Types& types, const Operand& oa,
               const Operand& ob, int64_t m, int64_t n, int64_t k, const void* vector,
               const void* c) {
  Plan plan;
  const cudaDataType_t scale = CUDA_R_32F;  // fp32 and the 16-bit types (fp64 never comes here)
  if (!lt_ok(cublasLtMatmulDescCreate(&plan.desc, types.compute, scale))) return plan;
  const cublasOperation_t transa = ob.op, transb = oa.op;
  bool ok = lt_ok(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                 sizeof(transa))) &&
            lt_ok(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                 sizeof(transb))) &&
            lt_ok(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                 &epilogue, sizeof(epilogue))) &&
            lt_ok(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                 &vector, sizeof(vector)));
  // Stored shapes (rows x cols, column-major): A is [n, k] or, transposed, [k, n]; B likewise.
  const bool a_n = transa == CUBLAS_OP_N, b_n = transb == CUBLAS_OP_N;
  ok = ok &&
       lt_ok(cublasLtMatrixLayoutCreate(&plan.a, types.data, a_n ? n : k, a_n ? k : n, ob.ld)) &&
       lt_ok(cublasLtMatrixLayoutCreate(&plan.b, types.data, b_n ? k : m, b_n ? m : k, oa.ld)) &&
       lt_ok(cublasLtMatrixLayoutCreate(&plan.d, types.data, n, m, n));
  cublasLtMatmulPreference_t preference = nullptr;
  ok = ok && lt_ok(cublasLtMatmulPreferenceCreate(&preference));
  const uint64_t workspace = kLtWorkspaceBytes;
  // As the cuBLAS handle's CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION: split-K partial
  // sums are never reduced in a 16-bit output type.
  const uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_MASK & ~CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
  const uint32_t align_a = alignment_of(ob.ptr), align_b = alignment_of(oa.ptr);
  const uint32_t align_d = alignment_of(c);
  ok = ok &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace))) &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof(schemes))) &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof(align_a))) &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof(align_b))) &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof(align_d))) &&
       lt_ok(cublasLtMatmulPreferenceSetAttribute(
           preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof(align_d)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  ok = ok &&
       lt_ok(cublasLtMatmulAlgoGetHeuristic(lt_context().handle, plan.desc, plan.a, plan.b, plan.d,
                                            plan.d, preference, 1, &result, &found)) &&
       found > 0 && lt_ok(result.state) && result.workspaceSize <= kLtWorkspaceBytes;
  if (preference != nullptr) cublasLtMatmulPreferenceDestroy(preference);
  if (!ok) {
    release(plan);
    return plan;
  }
  plan.usable = true;
  plan.algo = result.algo;
  return plan;
}

// The kept plans, and a lock: two threads may run CUDA work at once.
std::mutex& plans_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<PlanKey, Plan>& plans() {
  static auto* kept = new std::map<PlanKey, Plan>();  // never destroyed: plans outlive exit
  return *kept;
}

// c = a @ b with `epilogue` on `vector` (bias or bias gradient); false when cuBLASLt does not
// take this call (nothing was launched).
bool gemm_lt(cublasLtEpilogue_t epilogue, const kernels::TensorView& a,
             const kernels::TensorView& b, const kernels::TensorView& vector,
             const kernels::TensorView& c) {
  if (c.dtype == DType::Float64 || c.ndim != 2 || a.ndim != 2 || b.ndim != 2) return false;
  const int64_t m = c.sizes[0], n = c.sizes[1], k = a.sizes[1];
  if (m == 0 || n == 0 || k == 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return false;
  // cuBLASLt takes D dense and the vector packed, in D's type, of length D's rows (n) for the
  // bias and D's columns (m) for its gradient; other layouts go the plain way.
  const int64_t length = epilogue == CUBLASLT_EPILOGUE_BIAS ? n : m;
  if (c.strides[1] != 1 || c.strides[0] != n || vector.dtype != c.dtype || vector.ndim != 1 ||
      vector.sizes[0] != length || (length > 1 && vector.strides[0] != 1))
    return false;
  // A one-row batch (k = 1) keeps the plain kernels for the bias gradient: other projects
  // (OneFlow's fused matmul bias-add grad) report wrong BGRADB sums from cuBLASLt there.
  if (epilogue == CUBLASLT_EPILOGUE_BGRADB && k < 2) return false;
  Operand oa{}, ob{};
  if (!as_operand(a, 0, oa) || !as_operand(b, 0, ob)) return false;
  const Types types = types_for(c.dtype);
  // clang-format off
  const PlanKey key{static_cast<int>(epilogue), static_cast<int>(c.dtype), m, n, k,
                    static_cast<int>(oa.op), static_cast<int>(ob.op), oa.ld, ob.ld, allow_tf32(),
                    alignment_of(oa.ptr), alignment_of(ob.ptr), alignment_of(c.data),
                    alignment_of(vector.data)};
  // clang-format on
  std::lock_guard<std::mutex> lock(plans_mutex());
  auto it = plans().find(key);
  if (it == plans().end())
    it = plans()
             .emplace(key, make_plan(epilogue, types, oa, ob, m, n, k, vector.data, c.data))
             .first;
  Plan& plan = it->second;
  if (!plan.usable) return false;
  // the vector is the call's own (the descriptor is shared by calls of this shape)
  HG_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                 &vector.data, sizeof(vector.data)));
  const float alpha = 1.0f, beta = 0.0f;
  const LtContext& lt = lt_context();
  const cublasStatus_t status = cublasLtMatmul(
      lt.handle, plan.desc, &alpha, ob.ptr, plan.a, oa.ptr, plan.b, &beta, c.data, plan.d, c.data,
      plan.d, &plan.algo, lt.workspace, kLtWorkspaceBytes, current_stream());
  if (status != CUBLAS_STATUS_SUCCESS) {  // declined at launch: take the plain kernels
    warn_once(std::string("cublaslt-") + cublasGetStatusName(status),
              std::string("linear/conv2d: cuBLASLt's epilogue call returned ") +
                  cublasGetStatusString(status) +
                  "; this shape takes a GEMM and a separate bias kernel instead");
    release(plan);
    return false;
  }
  ++epilogue_calls;
  return true;
}

}  // namespace

void prepare_cublaslt() { (void)lt_context(); }
int64_t cublaslt_epilogue_calls() { return epilogue_calls; }

void gemm_bias(const kernels::TensorView& a, const kernels::TensorView& b,
               const kernels::TensorView& bias, const kernels::TensorView& c) {
  if (gemm_lt(CUBLASLT_EPILOGUE_BIAS, a, b, bias, c)) return;
  copy(kernels::broadcast_rows(bias, c.sizes[0]), c);
  gemm(a, b, c, true);  // bias + product, one rounding
}

void gemm_bias_grad(const kernels::TensorView& a, const kernels::TensorView& b,
                    const kernels::TensorView& c, const kernels::TensorView& bias_grad) {
  if (gemm_lt(CUBLASLT_EPILOGUE_BGRADB, a, b, bias_grad, c)) return;
  gemm(a, b, c, false);
  kernels::TensorView in, out;
  kernels::row_sums_as_reduce(a, bias_grad, in, out);
  reduce(kernels::ReduceOp::Sum, in, out);
}

}  // namespace hg::cuda
