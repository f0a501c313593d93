#pragma once
// The emulated runtime's state, shared by emu_runtime.cpp (memory, copies, the submission of
// device work and its queue) and emu_capture.cpp (streams, capture, events, graphs). One host
// thread issues CUDA work (nothing here is locked but the memory map).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "emu_prelude.h"

struct CUgraphNode_st {
  cudaGraphNodeType kind;
  std::function<void()> work;
};
struct CUgraph_st {
  std::vector<std::unique_ptr<CUgraphNode_st>> nodes;
};
struct CUgraphExec_st {
  // shared with the launches queued: an instance may be destroyed before they run, as in CUDA
  std::shared_ptr<const std::vector<std::function<void()>>> work;
};
struct CUstream_st {
  unsigned flags = 0;
  // the capture under way on this stream, if any
  bool capturing = false, invalidated = false;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  std::unique_ptr<CUgraph_st> graph;
};
struct CUevent_st {
  bool recorded_in_capture = false;  // then waiting on it is cudaErrorCapturedEvent
  uint64_t after = 0;                // complete once this many pieces of work have run
};

namespace hg_emu {

struct Block {
  std::size_t bytes;
  bool pinned;
};

struct PinnedWork;

struct Runtime {
  std::mutex mutex;                   // over blocks and the byte counts
  std::map<uintptr_t, Block> blocks;  // base address -> device or pinned block
  std::size_t capacity = std::size_t{16} << 30, device_bytes = 0;
  std::vector<std::unique_ptr<CUstream_st>> streams;
  std::vector<std::unique_ptr<CUevent_st>> events;
  // The device's queue: work issued and not run yet, in issue order (every stream's: the
  // emulated device runs one piece at a time), and the counts issued and run.
  std::deque<std::function<void()>> queue;
  uint64_t issued = 0, finished = 0;
  std::vector<const PinnedWork*> pinned_work;  // held by queued work (PinnedWork)
};
Runtime& runtime();

// Held by a piece of queued work that touches pinned memory, from its issue until it has run
// (or been dropped), naming the bytes it may read or write (a kernel: its pinned blocks; a graph
// replay: everything). While one overlaps a pinned buffer, what the buffer holds at a run is not
// only the host's doing, so emu_runtime.cpp's pinned_copy_checks stand aside.
struct PinnedWork {
  uintptr_t begin, end;
  PinnedWork(uintptr_t first, uintptr_t last) : begin(first), end(last) {
    runtime().pinned_work.push_back(this);
  }
  ~PinnedWork() { std::erase(runtime().pinned_work, this); }
  PinnedWork(const PinnedWork&) = delete;
  PinnedWork& operator=(const PinnedWork&) = delete;
};
// Whether queued work may touch [p, p + bytes).
bool pinned_work_overlaps(const void* p, std::size_t bytes);

// Device blocks (emu_device_memory.cpp): mapped pages filled with `fill`, which only the
// emulated device may touch: closed to the host but while a DeviceRunning lives.
void* map_device_block(std::size_t bytes, unsigned char fill);
void unmap_device_block(void* p, std::size_t bytes);
class DeviceRunning {
 public:
  DeviceRunning();
  ~DeviceRunning();
  DeviceRunning(const DeviceRunning&) = delete;
  DeviceRunning& operator=(const DeviceRunning&) = delete;
};

// Runs queued work until `count` pieces have run (all of it: runtime().issued): what a wait for
// the device does. An error in the work comes out of here, and the rest of the queue is dropped
// (a kernel's fault ends the CUDA context's work).
void run_queue_until(uint64_t count);

// Remembers `error` for cudaGetLastError and returns it.
cudaError_t fail(cudaError_t error);
// The same, and a capture under way on `stream` is invalidated, as CUDA invalidates it.
cudaError_t fail_on(cudaStream_t stream, cudaError_t error);
bool known_stream(cudaStream_t stream);  // null (the legacy stream) or one created
// A capture this thread began on a stream other than `stream`, or null.
CUstream_st* other_capture_of_this_thread(cudaStream_t stream);
// This thread's capture mode (cudaThreadExchangeStreamCaptureMode).
cudaStreamCaptureMode& thread_mode();

}  // namespace hg_emu
