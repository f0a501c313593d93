// The emulator's cuBLAS and cuBLASLt stand-ins (emu_cublas.cpp, emu_cublaslt.cpp) on problems
// small enough to work out by hand: column-major products, transposes, the BIAS and BGRADB
// epilogues, and the argument checks that the real libraries make (and that the kernels/cuda
// code relies on to fall back).
#include <doctest/doctest.h>

#include <cublasLt.h>

#include <vector>

#include "halfgrad/kernels/cuda/cuda_check.h"

namespace {

// Floats in (emulated) device memory, which the stand-ins require of their operands.
struct DeviceFloats {
  float* p = nullptr;
  std::size_t n;
  explicit DeviceFloats(const std::vector<float>& values) : n(values.size()) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(p, values.data(), n * sizeof(float), cudaMemcpyHostToDevice, nullptr) ==
            cudaSuccess);
  }
  ~DeviceFloats() { cudaFree(p); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  std::vector<float> values() const {
    std::vector<float> out(n);
    REQUIRE(cudaMemcpyAsync(out.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost, nullptr) ==
            cudaSuccess);
    return out;
  }
};

}  // namespace

// A [2, 3] (col-major: columns {1, 2}, {3, 4}, {5, 6}) and B [3, 2] (columns {1, 0, 1}, {0, 1, 1}):
// A B = [[6, 8], [8, 10]], stored {6, 8, 8, 10}.
TEST_CASE("cublasGemmEx: column-major products, transposes, beta, and cuBLAS's ld rules") {
  const DeviceFloats a({1, 2, 3, 4, 5, 6}), b({1, 0, 1, 0, 1, 1}), c({-1, -1, -1, -1});
  const float one = 1.0f, zero = 0.0f;
  cublasHandle_t handle = hg::cuda::cublas_handle();
  CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 2, b.p,
                     CUDA_R_32F, 3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  CHECK(c.values() == std::vector<float>{6, 8, 8, 10});
  // C += A^T' B^T' with A stored as A^T [3, 2] (ld 3): the same product, accumulated (beta 1)
  const DeviceFloats at({1, 3, 5, 2, 4, 6}), bt({1, 0, 0, 1, 1, 1});
  CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_T, 2, 2, 3, &one, at.p, CUDA_R_32F, 3, bt.p,
                     CUDA_R_32F, 2, &one, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  CHECK(c.values() == std::vector<float>{12, 16, 16, 20});
  // lda below A's stored rows is refused, as cuBLAS refuses it; so is a call without a handle
  CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 1, b.p,
                     CUDA_R_32F, 3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasGemmEx(nullptr, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 2, b.p,
                     CUDA_R_32F, 3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_INITIALIZED);
  // a matrix that runs past its block (B read as 3 x 3 from 6 floats) is what a GPU faults on
  CHECK_THROWS_WITH(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 3, 3, &one, a.p, CUDA_R_32F,
                                 2, b.p, CUDA_R_32F, 3, &zero, c.p, CUDA_R_32F, 2,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    doctest::Contains("cuBLAS GEMM's B"));
}

namespace {

struct LtProblem {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  ~LtProblem() {
    cublasLtMatrixLayoutDestroy(a);
    cublasLtMatrixLayoutDestroy(b);
    cublasLtMatrixLayoutDestroy(d);
    cublasLtMatmulDescDestroy(desc);
  }
};

// D [2, 2] = A [2, 3] B [3, 2] with `epilogue` on `vector`; b_rows x b_cols is B's layout.
int heuristic_results(LtProblem& p, cublasLtEpilogue_t epilogue, void* vector, uint64_t b_rows) {
  cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                 sizeof(epilogue));
  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &vector,
                                 sizeof(vector));
  cublasLtMatrixLayoutCreate(&p.a, CUDA_R_32F, 2, 3, 2);
  cublasLtMatrixLayoutCreate(&p.b, CUDA_R_32F, b_rows, 2, b_rows);
  cublasLtMatrixLayoutCreate(&p.d, CUDA_R_32F, 2, 2, 2);
  cublasLtHandle_t handle = nullptr;
  cublasLtCreate(&handle);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.a, p.b, p.d, p.d, nullptr, 1, &result, &found);
  return found;
}

}  // namespace

TEST_CASE("cublasLtMatmul: BIAS and BGRADB epilogues, no algorithm for inconsistent layouts") {
  const DeviceFloats a({1, 2, 3, 4, 5, 6}), b({1, 0, 1, 0, 1, 1});
  const float one = 1.0f, zero = 0.0f;
  cublasLtHandle_t handle = nullptr;
  cublasLtCreate(&handle);
  for (const cublasLtEpilogue_t epilogue : {CUBLASLT_EPILOGUE_BIAS, CUBLASLT_EPILOGUE_BGRADB}) {
    const DeviceFloats vector({0.5f, -1.0f}), d({-1, -1, -1, -1});
    LtProblem p;
    REQUIRE(heuristic_results(p, epilogue, vector.p, 3) == 1);
    CHECK(cublasLtMatmul(handle, p.desc, &one, a.p, p.a, b.p, p.b, &zero, d.p, p.d, d.p, p.d,
                         nullptr, nullptr, 0, nullptr) == CUBLAS_STATUS_SUCCESS);
    if (epilogue == CUBLASLT_EPILOGUE_BIAS) {
      CHECK(d.values() == std::vector<float>{6.5f, 7, 8.5f, 9});  // bias down D's rows
    } else {
      CHECK(d.values() == std::vector<float>{6, 8, 8, 10});
      CHECK(vector.values() == std::vector<float>{2, 2});  // B's column sums over k
    }
  }
  float bias[2] = {};
  LtProblem wrong;
  CHECK(heuristic_results(wrong, CUBLASLT_EPILOGUE_BIAS, bias, 4) == 0);  // B 4 x 2 for k = 3
}
