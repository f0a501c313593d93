// The CUDA runtime glue: error checks, the stream, the cuBLAS handle.
#include <cstdlib>
#include <cstring>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/target_check.h"

namespace hg::cuda {

namespace {

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;  // cuBLAS's ask on Hopper

bool sync_flag_from_environment() {
  const char* value = std::getenv("HG_CUDA_SYNC");
  return value != nullptr && std::strcmp(value, "0") != 0 && value[0] != '\0';
}

bool& sync_flag() {
  static bool flag = sync_flag_from_environment();
  return flag;
}

}  // namespace

void fail(const char* file, int line, const char* what, const char* message) {
  HG_FAIL("CUDA error at ", file, ":", line, " in ", what, ": ", message);
}

void check(cudaError_t status, const char* file, int line, const char* expr) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  fail(file, line, expr, cudaGetErrorString(status));
}

void check_cublas(cublasStatus_t status, const char* file, int line, const char* expr) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(file, line, expr, cublasGetStatusString(status));
}

void check_launch(const char* file, int line, const char* kernel) {
  check(cudaGetLastError(), file, line, kernel);
  if (sync_flag()) check(cudaStreamSynchronize(current_stream()), file, line, kernel);
}

bool sync_after_launch() { return sync_flag(); }
void set_sync_after_launch(bool on) { sync_flag() = on; }

void synchronize() {
  if (!is_available()) return;
  HG_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  report_bad_targets();  // a loss's out-of-range target (kernels/cuda/target_check.h)
}

cudaStream_t current_stream() {
  // Created once and never destroyed: tensors freed by static destructors at exit may still
  // order their frees on it.
  static cudaStream_t stream = [] {
    cudaStream_t created = nullptr;
    HG_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return stream;
}

cublasHandle_t cublas_handle() {
  // Set up once for every user (gemm.cpp and the convolution's nn_gemm.cuh alike).
  static cublasHandle_t handle = [] {
    cublasHandle_t created = nullptr;
    HG_CUBLAS_CHECK(cublasCreate(&created));
    HG_CUBLAS_CHECK(cublasSetStream(created, current_stream()));
    // Never freed: the handle lives as long as the process. Stream-ordered like every block.
    void* workspace = allocator_for(DeviceType::CUDA).allocate(kCublasWorkspaceBytes);
    HG_CUBLAS_CHECK(cublasSetWorkspace(created, workspace, kCublasWorkspaceBytes));
    // Split-K partial sums stay in fp32 for 16-bit outputs (the CPU never reduces in 16 bits);
    // by default cuBLAS may reduce them in the output type.
    HG_CUBLAS_CHECK(cublasSetMathMode(
        created, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                           CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    return created;
  }();
  return handle;
}

}  // namespace hg::cuda
