#pragma once
// The emulated runtime's state, shared by emu_runtime.cpp (memory, copies, the submission of
// device work) and emu_capture.cpp (streams, capture, events, graphs).
#include <cstdint>
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
  std::vector<std::function<void()>> work;
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
};

namespace hg_emu {

struct Block {
  std::size_t bytes;
  bool pinned;
};

struct Runtime {
  std::mutex mutex;                   // over blocks and the byte counts
  std::map<uintptr_t, Block> blocks;  // base address -> device or pinned block
  std::size_t capacity = std::size_t{16} << 30, device_bytes = 0;
  std::vector<std::unique_ptr<CUstream_st>> streams;
  std::vector<std::unique_ptr<CUevent_st>> events;
};
Runtime& runtime();

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
