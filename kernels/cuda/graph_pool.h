#pragma once
// The caching allocator's private pools for graph capture (kernels/cuda/allocator.cpp, used by
// kernels/cuda/graph.cpp). While a pool is the capturing one, every allocation is tagged with it
// and served from its own free blocks (or cudaMalloc), and a tagged block that is freed returns
// to the pool, not to the shared cache: a replay writes the same addresses again, so no eager
// tensor may get them in between. Releasing the pool (the graph is gone) hands its free blocks
// to the shared cache; tagged blocks still held by tensors go there when they are freed.
#include <cstdint>

namespace hg::cuda {

int64_t create_graph_pool();
void begin_graph_pool(int64_t pool);
void end_graph_pool();
void release_graph_pool(int64_t pool) noexcept;

// RAII: lets the calling thread make "potentially unsafe" CUDA calls (cudaMalloc,
// cudaHostAlloc) while one of its streams is being captured. The allocation is not part of the
// graph (nothing stream-ordered), which is what the private pool wants.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode();
  ~RelaxedCaptureMode();
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  int previous_;
};

}  // namespace hg::cuda
