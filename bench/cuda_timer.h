#pragma once
// GPU time of a call, for the CUDA benchmarks (bench_cuda, bench_conv_cuda): CUDA events around
// a loop of launches on halfgrad's stream. The host enqueues faster than the GPU drains, so host
// overhead is hidden, as in PyTorch's own timing.
#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "halfgrad/halfgrad.h"
#include "halfgrad/kernels/cuda/cuda_check.h"

namespace hg::bench {

// Milliseconds per call of fn, the median of `rounds` event-timed loops of `iters` calls.
inline double time_ms(const std::function<void()>& fn, int iters, int rounds = 3) {
  fn();  // warm-up: cuBLAS heuristics, allocator cache
  fn();
  cuda::synchronize();
  cudaEvent_t start, stop;
  HG_CUDA_CHECK(cudaEventCreate(&start));
  HG_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> samples;
  for (int r = 0; r < rounds; ++r) {
    HG_CUDA_CHECK(cudaEventRecord(start, cuda::current_stream()));
    for (int i = 0; i < iters; ++i) fn();
    HG_CUDA_CHECK(cudaEventRecord(stop, cuda::current_stream()));
    HG_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    HG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    samples.push_back(static_cast<double>(ms) / iters);
  }
  HG_CUDA_CHECK(cudaEventDestroy(start));
  HG_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace hg::bench
