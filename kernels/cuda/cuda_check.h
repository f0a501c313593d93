#pragma once
// Checking every CUDA runtime call, every cuBLAS call and every kernel launch. A failure becomes
// an hg::Error that names the call, file:line and CUDA's own message, e.g.
//   "CUDA error at kernels/cuda/unary.cu:88 in unary_kernel<<<>>>: invalid configuration argument"
//
// Launches are asynchronous, so an error inside a kernel normally surfaces at a later call. With
// set_sync_after_launch(true), or HG_CUDA_SYNC=1 in the environment, every checked launch is
// followed by a device synchronisation and the failing kernel is named at its own launch.
//
// Plain host header: .cpp files of the CUDA backend include it too.
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace hg::cuda {

[[noreturn]] void fail(const char* file, int line, const char* what, const char* message);
void check(cudaError_t status, const char* file, int line, const char* expr);
void check_cublas(cublasStatus_t status, const char* file, int line, const char* expr);
// After a <<<...>>> launch: cudaGetLastError, plus a synchronisation in debug-sync mode.
void check_launch(const char* file, int line, const char* kernel);

bool sync_after_launch();
void set_sync_after_launch(bool on);

// The stream every halfgrad kernel runs on (one per process for now: the legacy-free,
// non-blocking stream of the current device). Allocations are ordered on it as well.
cudaStream_t current_stream();
// The cuBLAS handle bound to current_stream(), created on first use.
cublasHandle_t cublas_handle();
// Creates cuBLASLt's handle and workspace (kernels/cuda/gemm_bias.cpp) if they are not there
// yet: a graph capture calls it first, as for cublas_handle().
void prepare_cublaslt();

}  // namespace hg::cuda

#define HG_CUDA_CHECK(expr) ::hg::cuda::check((expr), __FILE__, __LINE__, #expr)
#define HG_CUBLAS_CHECK(expr) ::hg::cuda::check_cublas((expr), __FILE__, __LINE__, #expr)
#define HG_CUDA_LAUNCH_CHECK(kernel_name) ::hg::cuda::check_launch(__FILE__, __LINE__, kernel_name)
