#pragma once
// The public face of the CUDA backend: device queries, synchronisation, the caching allocator's
// statistics, and the numerics switches. Every function exists in CPU-only builds too (queries
// answer "no device", the rest are no-ops or throw hg::Error where they cannot mean anything),
// so programs and tests compile the same way with or without CUDA.
//
// Kernels run asynchronously on one stream per process (kernels/cuda/cuda_check.h). Reading a
// CUDA tensor on the host (item(), to_vector(), printing, to(kCPU)) synchronises for you;
// synchronize() is for timing and for code that talks to the CUDA runtime itself.
#include <cstddef>
#include <cstdint>

#include "halfgrad/core/device.h"  // is_available(), device_count()

namespace hg::cuda {

// Waits until every kernel and copy halfgrad queued on the device has finished.
void synchronize();

// ---- the caching allocator ----
struct MemoryStats {
  std::size_t allocated = 0;       // bytes in blocks handed to tensors now (rounded sizes)
  std::size_t reserved = 0;        // bytes obtained from cudaMalloc (allocated + cached)
  std::size_t peak_allocated = 0;  // max of `allocated` since start or reset_peak_memory_stats()
  std::size_t peak_reserved = 0;
  uint64_t allocations = 0;     // allocate() calls
  uint64_t cache_hits = 0;      // ...served from the cache without cudaMalloc
  uint64_t device_mallocs = 0;  // cudaMalloc calls
  uint64_t device_frees = 0;    // cudaFree calls (empty_cache and out-of-memory retries)
};
MemoryStats memory_stats();
void reset_peak_memory_stats();
// Returns every cached (unused) block to the driver. Blocks held by tensors stay.
void empty_cache();
// The size class a request of `nbytes` is rounded up to (exposed for tests and docs).
std::size_t allocation_size_class(std::size_t nbytes);

// ---- debugging and numerics ----
// Synchronise after every kernel launch so an asynchronous error names its own kernel (also
// switched on by HG_CUDA_SYNC=1 in the environment). Slow; for debugging.
void set_sync_after_launch(bool on);
bool sync_after_launch();
// fp32 matmul on tensor cores with TF32 inputs (10-bit mantissa). Off by default: fp32 GEMM is
// then computed in full fp32, like the CPU. 16-bit GEMMs always accumulate in fp32.
void set_allow_tf32(bool on);
bool allow_tf32();
// fp16/bf16 3x3 convolutions (forward, weight gradient, and grad_x for stride 1) by the
// implicit-GEMM kernels (kernels/cuda/conv_igemm*.cu), which read im2col's columns from the
// input instead of writing them out; otherwise im2col + cuBLAS. Off by default until it has
// been measured on a GPU (also switched on by HG_CONV_IMPLICIT_GEMM=1 in the environment). The
// results agree within the dtype's tolerance, not bit for bit: the two sum in different orders.
void set_implicit_gemm_conv(bool on);
bool implicit_gemm_conv();
// Whether a cuda::Graph::capture (core/cuda_graph.h) is under way: device work is then recorded,
// not run. False without CUDA.
bool is_capturing();
// How many cuda::Graph replays this process has launched (0 without CUDA). A replayed training
// step is invisible to the optimizer's counts; LRScheduler looks here before it warns that no
// step was taken.
int64_t graph_replays();
// How many GEMMs with a bias took cuBLASLt's fused bias epilogue rather than a GEMM plus a bias
// kernel (0 without CUDA): linear's forward, linear's and conv2d's weight + bias gradient. For
// tests and benchmarks.
int64_t cublaslt_epilogue_calls();

// ---- host <-> device transfers (used by Tensor::to; bytes, both buffers contiguous) ----
// Large copies go through pinned staging buffers, in chunks, so the host-side memcpy of one
// chunk overlaps the DMA of the previous one. Both return when `dst` can be used: the host copy
// has landed (device_to_host), or the host source may be freed or changed (host_to_device).
void copy_host_to_device(void* dst_device, const void* src_host, std::size_t nbytes);
void copy_device_to_host(void* dst_host, const void* src_device, std::size_t nbytes);

}  // namespace hg::cuda
