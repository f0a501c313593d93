// Host <-> device copies for Tensor::to. Small copies go straight through cudaMemcpyAsync (the
// driver stages pageable memory itself). Large ones are cut into chunks that pass through two
// pinned buffers in turn: while the DMA engine moves one chunk, the CPU memcpy's the next into
// the other buffer, and the pinned buffers are allocated once and reused.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"

namespace hg::cuda {

namespace {

constexpr std::size_t kStagingChunk = std::size_t{8} << 20;  // bytes per pinned buffer
constexpr std::size_t kDirectLimit = std::size_t{1} << 20;   // below this: no staging

// Two pinned buffers, each with an event that fires when the DMA that last used it is done.
struct Staging {
  std::mutex mutex;
  void* buffers[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};

  void ensure() {
    if (buffers[0] != nullptr) return;
    for (int i = 0; i < 2; ++i) {
      HG_CUDA_CHECK(cudaHostAlloc(&buffers[i], kStagingChunk, cudaHostAllocDefault));
      HG_CUDA_CHECK(cudaEventCreateWithFlags(&done[i], cudaEventDisableTiming));
    }
  }
};

Staging& staging() {
  static Staging* s = new Staging;  // never destroyed (pinned memory dies with the process)
  return *s;
}

// A copy between host and device memory cannot be part of a graph: the host buffer it reads or
// writes (pageable, or one of the staging buffers) holds other data by the time a replay runs,
// and the staging events it records would stay tied to the capture. Refused before anything is
// issued, so a failed capture leaves the staging state as it was.
void refuse_during_capture(const char* direction, std::size_t nbytes) {
  HG_CHECK(!is_capturing(), "to: a copy of ", nbytes, " bytes ", direction,
           " inside cuda::Graph::capture; copy inputs into the captured tensors before replay(), "
           "outside the capture");
}

}  // namespace

void copy_host_to_device(void* dst, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cudaStream_t stream = current_stream();
  refuse_during_capture("from the host", nbytes);
  if (nbytes < kDirectLimit) {
    // Returns once the pageable source has been staged by the driver: src may then change.
    HG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream));
    return;
  }
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.ensure();
  int which = 0;
  for (std::size_t at = 0; at < nbytes; at += kStagingChunk, which ^= 1) {
    const std::size_t n = std::min(kStagingChunk, nbytes - at);
    HG_CUDA_CHECK(cudaEventSynchronize(s.done[which]));  // the DMA out of this buffer is done
    std::memcpy(s.buffers[which], static_cast<const char*>(src) + at, n);
    HG_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + at, s.buffers[which], n,
                                  cudaMemcpyHostToDevice, stream));
    HG_CUDA_CHECK(cudaEventRecord(s.done[which], stream));
  }
  // No wait at the end: the source was copied out on the host; the next user of a pinned buffer
  // waits for its event, and kernels reading dst are queued after the copies on the stream.
}

void copy_device_to_host(void* dst, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cudaStream_t stream = current_stream();
  refuse_during_capture("to the host", nbytes);
  if (nbytes < kDirectLimit) {
    HG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream));
    HG_CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.ensure();
  const std::size_t chunks = (nbytes + kStagingChunk - 1) / kStagingChunk;
  auto issue = [&](std::size_t chunk) {
    const std::size_t at = chunk * kStagingChunk, n = std::min(kStagingChunk, nbytes - at);
    const int which = static_cast<int>(chunk & 1);
    HG_CUDA_CHECK(cudaMemcpyAsync(s.buffers[which], static_cast<const char*>(src) + at, n,
                                  cudaMemcpyDeviceToHost, stream));
    HG_CUDA_CHECK(cudaEventRecord(s.done[which], stream));
  };
  issue(0);
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    // Chunk + 1 goes into the other buffer, whose previous contents were copied out on the
    // host in the last iteration; it then transfers while we copy this one out.
    if (chunk + 1 < chunks) issue(chunk + 1);
    const int which = static_cast<int>(chunk & 1);
    HG_CUDA_CHECK(cudaEventSynchronize(s.done[which]));
    const std::size_t at = chunk * kStagingChunk, n = std::min(kStagingChunk, nbytes - at);
    std::memcpy(static_cast<char*>(dst) + at, s.buffers[which], n);
  }
}

}  // namespace hg::cuda
