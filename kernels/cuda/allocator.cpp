// The CUDA caching allocator. cudaMalloc and cudaFree are slow (cudaFree synchronises the whole
// device), so blocks freed by tensors are kept in per-size-class free lists and handed out again.
//
// Stream order: every halfgrad kernel and copy runs on the one stream current_stream(), so a
// block freed on the host while kernels that use it are still queued can be handed to the next
// tensor at once: whatever the new owner launches is queued after those kernels. Only work on
// another stream would need an event here, and halfgrad has none.
//
// Size classes: requests are rounded up to a multiple of 512 bytes below 1 MiB, and above that
// to a multiple of a quarter of their power of two (1 MiB, 1.25 MiB, 1.5 MiB, 1.75 MiB, 2 MiB,
// 2.5 MiB ...), which wastes at most 25% and makes sizes that recur in training (activations,
// gradients of the same shapes every step) hit the same class. Blocks are reused only within
// their class (no splitting), so there is no fragmentation inside cudaMalloc'd segments.
//
// Out of memory: the cache is returned to the driver and the cudaMalloc retried once; if it
// fails again the hg::Error says what was asked for, what halfgrad holds and what the device has.
//
// Graph capture (kernels/cuda/graph_pool.h): blocks allocated while a graph is captured belong
// to that graph's private pool, and go back to it when freed, until the graph is destroyed.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/graph_pool.h"

namespace hg::cuda {

namespace {

constexpr std::size_t kMinBlock = 512;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;

std::string mib(std::size_t bytes) {
  const double value = static_cast<double>(bytes) / (1024.0 * 1024.0);
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", value);
  return text;
}

using FreeLists = std::map<std::size_t, std::vector<void*>>;  // size class -> cached blocks

class CachingAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    const std::size_t size = allocation_size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    // while capturing, the graph's own free blocks first, then the shared cache
    void* ptr = capturing_ != 0 ? take_cached(pools_[capturing_], size) : nullptr;
    if (ptr == nullptr) ptr = take_cached(free_, size);
    if (ptr != nullptr) {
      ++stats_.cache_hits;
    } else {
      ptr = malloc_or_fail(nbytes, size);
    }
    live_.emplace(ptr, Block{size, capturing_});
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return ptr;
  }

  void deallocate(void* ptr) noexcept override {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours: nothing sane to do in a noexcept path
    // No CUDA call here: tensors may be freed by static destructors after the runtime is gone.
    // A shared block freed while a graph is being captured may have been used by captured
    // kernels, which every replay repeats: it joins the graph's pool (reused only by the graph's
    // own allocations, back to the shared cache when the graph is released), so no eager tensor
    // can get memory that replays still touch.
    const int64_t owner = it->second.pool == 0 && capturing_ != 0 ? capturing_ : it->second.pool;
    const auto pool = pools_.find(owner);
    FreeLists& home = pool != pools_.end() ? pool->second : free_;
    home[it->second.size].push_back(ptr);
    stats_.allocated -= it->second.size;
    live_.erase(it);
  }

  int64_t create_pool() {
    std::lock_guard<std::mutex> lock(mutex_);
    pools_[next_pool_];
    return next_pool_++;
  }

  void set_capturing(int64_t pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    HG_CHECK(pool == 0 || capturing_ == 0,
             "cuda::Graph::capture: another graph is being captured (one at a time)");
    capturing_ = pool;
  }

  void release_pool(int64_t pool) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    for (auto& [size, blocks] : it->second)
      free_[size].insert(free_[size].end(), blocks.begin(), blocks.end());
    pools_.erase(it);  // its blocks still in tensors now return to the shared cache
    if (capturing_ == pool) capturing_ = 0;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cache_locked();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated = stats_.allocated;
    stats_.peak_reserved = stats_.reserved;
  }

 private:
  struct Block {
    std::size_t size;
    int64_t pool;  // the graph pool it belongs to, 0 for none
  };

  static void* take_cached(FreeLists& lists, std::size_t size) {
    const auto it = lists.find(size);
    if (it == lists.end() || it->second.empty()) return nullptr;
    void* ptr = it->second.back();
    it->second.pop_back();
    return ptr;
  }

  void* malloc_or_fail(std::size_t nbytes, std::size_t size) {
    HG_CHECK(is_available(), "CUDA allocator: cannot allocate ", nbytes,
             " bytes on cuda:0: no CUDA device is present");
    void* ptr = nullptr;
    RelaxedCaptureMode relaxed;  // a cudaMalloc during a capture is not part of the graph
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation && capturing_ == 0) {
      cudaGetLastError();  // clear it, give the cache back, try once more
      release_cache_locked();
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      HG_FAIL("CUDA out of memory: tried to allocate ", nbytes, " bytes (", mib(size),
              " after rounding); halfgrad holds ", mib(stats_.allocated), " in tensors and ",
              mib(stats_.reserved), " reserved in all; the device has ", mib(free_bytes),
              " free of ", mib(total_bytes));
    }
    HG_CUDA_CHECK(status);
    ++stats_.device_mallocs;
    stats_.reserved += size;
    stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
    return ptr;
  }

  void release_cache_locked() {
    bool any = false;
    for (const auto& [size, blocks] : free_) any = any || !blocks.empty();
    if (!any) return;
    // Kernels queued before the frees may still read these blocks; cudaFree would wait for the
    // device anyway, this makes the wait explicit and checked.
    HG_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    for (auto& [size, blocks] : free_) {
      for (void* ptr : blocks) {
        HG_CUDA_CHECK(cudaFree(ptr));
        ++stats_.device_frees;
        stats_.reserved -= size;
      }
      blocks.clear();
    }
  }

  std::mutex mutex_;
  FreeLists free_;                         // the shared cache
  std::map<int64_t, FreeLists> pools_;     // graph pools (kernels/cuda/graph_pool.h)
  int64_t capturing_ = 0, next_pool_ = 1;  // the pool of the capture under way, 0 for none
  std::unordered_map<void*, Block> live_;  // block -> its size class and pool
  MemoryStats stats_;
};

CachingAllocator& caching_allocator() {
  // Never destroyed: tensors held by static objects may be freed after main returns.
  static CachingAllocator* allocator = new CachingAllocator;
  return *allocator;
}

// Registered when the library is loaded, so Storage finds it for DeviceType::CUDA. Asking for
// memory without a device gives an hg::Error at the first allocation, not at load time.
[[maybe_unused]] const bool allocator_registered = [] {
  register_allocator(DeviceType::CUDA, &caching_allocator());
  return true;
}();

}  // namespace

std::size_t allocation_size_class(std::size_t nbytes) {
  if (nbytes <= kMinBlock) return kMinBlock;
  if (nbytes <= kSmallLimit) return (nbytes + kMinBlock - 1) / kMinBlock * kMinBlock;
  if (nbytes > (std::size_t{1} << 60)) return nbytes;  // no device has that: cudaMalloc says so
  std::size_t power = kSmallLimit;
  while (power <= nbytes / 2) power *= 2;  // the power of two at or below nbytes
  const std::size_t step = power / 4;
  return (nbytes + step - 1) / step * step;
}

int64_t create_graph_pool() { return caching_allocator().create_pool(); }
void begin_graph_pool(int64_t pool) { caching_allocator().set_capturing(pool); }
void end_graph_pool() { caching_allocator().set_capturing(0); }
void release_graph_pool(int64_t pool) noexcept { caching_allocator().release_pool(pool); }

RelaxedCaptureMode::RelaxedCaptureMode() {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  HG_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  previous_ = static_cast<int>(mode);
}
RelaxedCaptureMode::~RelaxedCaptureMode() {
  auto mode = static_cast<cudaStreamCaptureMode>(previous_);
  // a destructor cannot throw: a failure here (it only fails for an invalid mode) is dropped
  (void)cudaThreadExchangeStreamCaptureMode(&mode);
}

MemoryStats memory_stats() { return caching_allocator().stats(); }
void reset_peak_memory_stats() { caching_allocator().reset_peak(); }
void empty_cache() { caching_allocator().empty_cache(); }

}  // namespace hg::cuda
