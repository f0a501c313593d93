#pragma once
// Helpers shared by the CUDA nn kernels (conv, pool, norm, loss, embedding, dropout, AMP and
// optimizer kernels): scratch buffers from the registered CUDA allocator, block reductions,
// atomics in the compute type, and a widen/narrow copy between a compute buffer and a tensor.
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/common.cuh"

namespace hg::cuda {

// A temporary device buffer from hg::allocator_for(DeviceType::CUDA) (the caching allocator of
// the CUDA backend). Its frees are ordered on current_stream(), so a buffer may be released
// right after the launches that use it were queued.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t nbytes)
      : ptr_(nbytes == 0 ? nullptr : allocator_for(DeviceType::CUDA).allocate(nbytes)) {}
  ~DeviceBuffer() {
    if (ptr_ != nullptr) allocator_for(DeviceType::CUDA).deallocate(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
};

// Zeroes count elements of T at p on the current stream.
template <typename T>
void zero_async(T* p, int64_t count) {
  if (count > 0)
    HG_CUDA_CHECK(
        cudaMemsetAsync(p, 0, static_cast<std::size_t>(count) * sizeof(T), current_stream()));
}

// V consecutive elements (a Vec, common.cuh) loaded or stored as one access: 16 bytes when
// V = 16 / sizeof(T). Kernels take V from with_pack_width, which falls back to V = 1 when a row's
// length is not a whole number of packs or a pointer is not 16-byte aligned.
template <int V, typename T>
__device__ inline Vec<T, V> load_pack(const T* p, int64_t i) {  // i: an element index, V | i
  return *reinterpret_cast<const Vec<T, V>*>(p + i);
}
template <int V, typename T>
__device__ inline void store_pack(T* p, int64_t i, const Vec<T, V>& pack) {
  *reinterpret_cast<Vec<T, V>*>(p + i) = pack;
}

// Calls body.template operator()<V>() with V = 16 / sizeof(T) when `length` (of every row the
// kernel reads in packs) is a multiple of it and every pointer is 16-byte aligned, else V = 1.
template <typename T, typename Body>
void with_pack_width(int64_t length, std::initializer_list<const void*> pointers, Body&& body) {
  constexpr int kWide = 16 / sizeof(T);
  bool wide = length % kWide == 0;
  for (const void* p : pointers) wide = wide && aligned_to(p, 16);
  if (wide)
    body.template operator()<kWide>();
  else
    body.template operator()<1>();
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
template <typename A>
__device__ inline A block_sum(A v) {
  __shared__ A partial[32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  A total = 0;
  for (int w = 0; w < warps; ++w) total += partial[w];  // same order in every thread
  return total;
}

// dst[i] = T(src[i]) for i < n: the final rounding of a buffer accumulated in the compute type.
template <typename T, typename A>
__global__ void narrow_kernel(const A* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(src[i]));
}

template <typename T, typename A>
void narrow(const A* src, T* dst, int64_t n, const char* what) {
  if (n == 0) return;
  narrow_kernel<T, A><<<grid_for(n), kBlockSize, 0, current_stream()>>>(src, dst, n);
  HG_CUDA_LAUNCH_CHECK(what);
}

// Blocks for a kernel that gives one block to each of n items (a channel, a row) with no
// grid-stride loop: gridDim.x holds at most 2^31 - 1, and a larger count must not wrap.
inline unsigned one_block_each(int64_t n, const char* what) {
  HG_CHECK(n <= int64_t{0x7fffffff}, what, ": ", n, " blocks exceed CUDA's grid limit of 2^31 - 1");
  return static_cast<unsigned>(n);
}

// Loop over [0, n) spread over the whole grid.
#define HG_GRID_LOOP(i, n)                                                  \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

}  // namespace hg::cuda
