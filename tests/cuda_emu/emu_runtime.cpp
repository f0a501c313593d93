// The CUDA emulator's runtime (emu_runtime_api.h says what is modelled): device and pinned
// memory, streams, stream capture into graphs, events, and the last-error slot.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "emu.h"

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
namespace {

constexpr std::size_t kDeviceAlignment = 256;  // cudaMalloc's guarantee
constexpr unsigned char kFreshByte = 0xff;     // new device memory: NaN in every float type

struct Block {
  std::size_t bytes;
  bool pinned;
};

struct Runtime {
  std::mutex mutex;
  std::map<uintptr_t, Block> blocks;  // base address -> device or pinned block
  std::size_t capacity = std::size_t{16} << 30, device_bytes = 0;
  std::vector<std::unique_ptr<CUstream_st>> streams;
  std::vector<std::unique_ptr<CUevent_st>> events;
};

Runtime& runtime() {
  static Runtime* r = new Runtime;  // never destroyed: tensors may be freed by static destructors
  return *r;
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local cudaStreamCaptureMode thread_mode = cudaStreamCaptureModeGlobal;

cudaError_t fail(cudaError_t error) {
  last_error = error;
  return error;
}

// A failed call on a capturing stream invalidates its capture, as in CUDA.
cudaError_t fail_on(cudaStream_t stream, cudaError_t error) {
  if (stream != nullptr && stream->capturing) stream->invalidated = true;
  return fail(error);
}

bool known_stream(cudaStream_t stream) {
  if (stream == nullptr) return true;  // the legacy default stream
  for (const auto& s : runtime().streams)
    if (s.get() == stream) return true;
  return false;
}

// A capture this thread began on a stream other than `stream`, or null.
CUstream_st* other_capture_of_this_thread(cudaStream_t stream) {
  for (const auto& s : runtime().streams)
    if (s->capturing && s.get() != stream && s->thread == std::this_thread::get_id())
      return s.get();
  return nullptr;
}

enum class Where { Pageable, Device, Pinned, Overrun };

// Where [p, p + bytes) lies: inside one block, past the end of one, or in neither (pageable host
// memory). A pointer to the end of a block with no bytes counts as inside it.
Where where(const void* p, std::size_t bytes) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = r.blocks.upper_bound(address);
  if (it == r.blocks.begin()) return Where::Pageable;
  --it;
  const uintptr_t end = it->first + it->second.bytes;
  if (address > end || (address == end && bytes > 0 && it->second.bytes > 0))
    return Where::Pageable;
  if (address + bytes > end) return Where::Overrun;
  return it->second.pinned ? Where::Pinned : Where::Device;
}

std::string address_text(const void* p) {
  std::ostringstream text;
  text << p;
  return text.str();
}

// Device memory for cudaMalloc, pinned memory for cudaHostAlloc.
cudaError_t allocate(void** p, std::size_t bytes, bool pinned) {
  if (p == nullptr) return fail(cudaErrorInvalidValue);
  *p = nullptr;
  if (unsafe_call_refused()) return cudaErrorStreamCaptureUnsupported;
  if (bytes == 0) return cudaSuccess;
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!pinned && bytes > r.capacity - r.device_bytes) return fail(cudaErrorMemoryAllocation);
  const std::size_t rounded = (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  void* memory = std::aligned_alloc(kDeviceAlignment, rounded);
  if (memory == nullptr) return fail(cudaErrorMemoryAllocation);
  std::memset(memory, kFreshByte, rounded);  // a GPU's fresh memory is not zeros either
  r.blocks.emplace(reinterpret_cast<uintptr_t>(memory), Block{bytes, pinned});
  if (!pinned) r.device_bytes += bytes;
  *p = memory;
  return cudaSuccess;
}

cudaError_t release(void* p, bool pinned) {
  if (p == nullptr) return cudaSuccess;
  if (unsafe_call_refused()) return cudaErrorStreamCaptureUnsupported;
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto it = r.blocks.find(reinterpret_cast<uintptr_t>(p));
  if (it == r.blocks.end() || it->second.pinned != pinned) return fail(cudaErrorInvalidValue);
  if (!pinned) r.device_bytes -= it->second.bytes;
  r.blocks.erase(it);
  std::free(p);
  return cudaSuccess;
}

bool copy_kind_matches(cudaMemcpyKind kind, Where dst, Where src) {
  const bool d = dst == Where::Device, s = src == Where::Device;
  switch (kind) {
    case cudaMemcpyHostToHost:
      return !d && !s;
    case cudaMemcpyHostToDevice:
      return d && !s;
    case cudaMemcpyDeviceToHost:
      return !d && s;
    case cudaMemcpyDeviceToDevice:
      return d && s;
    default:
      return true;
  }
}

void run_on_grid(void* context) { (*static_cast<const std::function<void()>*>(context))(); }

}  // namespace

void set_device_memory(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().capacity = bytes;
}

bool unsafe_call_refused() {
  if (thread_mode == cudaStreamCaptureModeRelaxed) return false;
  bool refused = false;
  for (const auto& s : runtime().streams) {
    if (!s->capturing) continue;
    const bool own = s->thread == std::this_thread::get_id();
    if ((own && s->mode != cudaStreamCaptureModeRelaxed) ||
        (!own && thread_mode == cudaStreamCaptureModeGlobal &&
         s->mode == cudaStreamCaptureModeGlobal)) {
      s->invalidated = true;
      refused = true;
    }
  }
  if (refused) fail(cudaErrorStreamCaptureUnsupported);
  return refused;
}

void require_device_memory(const void* p, std::size_t bytes, bool pinned_too, const char* what) {
  if (p == nullptr) return;
  const Where w = where(p, bytes);
  if (w == Where::Device || (pinned_too && w == Where::Pinned)) return;
  HG_FAIL("cuda_emu: ", what, " (", address_text(p), ", ", bytes, " bytes) ",
          w == Where::Overrun ? "runs past the end of its device memory block"
                              : "is not device memory: a GPU would fault on it");
}

cudaError_t submit(cudaStream_t stream, cudaGraphNodeType kind, std::function<void()> work) {
  if (!known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream != nullptr && stream->capturing) {
    if (stream->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
    stream->graph->nodes.push_back(std::make_unique<CUgraphNode_st>(CUgraphNode_st{kind, work}));
    return cudaSuccess;
  }
  if (other_capture_of_this_thread(stream) != nullptr)
    HG_FAIL(
        "cuda_emu: device work issued on a stream other than the one this thread is "
        "capturing: CUDA would run it at once, outside the graph, and a replay would "
        "leave it out (halfgrad issues all of its work on cuda::current_stream())");
  work();
  return cudaSuccess;
}

void check_launch_config(const char* kernel, const LaunchConfig& c) {
  const long threads = long{c.block.x} * c.block.y * c.block.z;
  if (threads < 1 || threads > 1024 || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 ||
      c.grid.y > 65535 || c.grid.z > 65535)
    HG_FAIL("cuda_emu: invalid launch configuration of ", kernel, " (grid ", c.grid.x, "x",
            c.grid.y, "x", c.grid.z, ", block of ", threads, ")");
}

void submit_launch(const char* kernel, const LaunchConfig& config,
                   std::vector<const void*> pointers, std::function<void()> per_thread) {
  auto run = [kernel, config, pointers = std::move(pointers), per_thread = std::move(per_thread)] {
    for (std::size_t i = 0; i < pointers.size(); ++i) {
      const std::string what = std::string(kernel) + "'s pointer argument " + std::to_string(i + 1);
      require_device_memory(pointers[i], 0, true, what.c_str());
    }
    run_grid(config, run_on_grid, const_cast<std::function<void()>*>(&per_thread));
  };
  // a refused launch is reported by the launch check after it (cudaGetLastError), as in CUDA
  (void)submit(config.stream, cudaGraphNodeTypeKernel, std::move(run));
}

}  // namespace hg_emu

using hg_emu::fail;
using hg_emu::fail_on;
using hg_emu::runtime;
using hg_emu::Where;

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorIllegalState:
      return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorCapturedEvent:
      return "operation not permitted on an event last recorded in a capturing stream";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() { return std::exchange(hg_emu::last_error, cudaSuccess); }
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, std::size_t bytes) { return hg_emu::allocate(p, bytes, false); }
cudaError_t cudaFree(void* p) { return hg_emu::release(p, false); }
cudaError_t cudaHostAlloc(void** p, std::size_t bytes, unsigned) {
  return hg_emu::allocate(p, bytes, true);
}
cudaError_t cudaFreeHost(void* p) { return hg_emu::release(p, true); }
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  *total_bytes = runtime().capacity;
  *free_bytes = runtime().capacity - runtime().device_bytes;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (bytes == 0) return cudaSuccess;
  const Where d = hg_emu::where(dst, bytes), s = hg_emu::where(src, bytes);
  if (d == Where::Overrun || s == Where::Overrun || !hg_emu::copy_kind_matches(kind, d, s))
    return fail_on(stream, cudaErrorInvalidValue);
  // pageable memory is staged by the driver at the call: nothing a graph could replay
  if (stream != nullptr && stream->capturing && (d == Where::Pageable || s == Where::Pageable))
    return fail_on(stream, cudaErrorStreamCaptureUnsupported);
  return hg_emu::submit(stream, cudaGraphNodeTypeMemcpy,
                        [dst, src, bytes] { std::memmove(dst, src, bytes); });
}

cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t stream) {
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (bytes == 0) return cudaSuccess;
  if (hg_emu::where(p, bytes) != Where::Device) return fail_on(stream, cudaErrorInvalidValue);
  return hg_emu::submit(stream, cudaGraphNodeTypeMemset,
                        [p, value, bytes] { std::memset(p, value, bytes); });
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  runtime().streams.push_back(std::make_unique<CUstream_st>());
  runtime().streams.back()->flags = flags;
  *stream = runtime().streams.back().get();
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream != nullptr && stream->capturing)  // its work is recorded, not run: nothing to wait for
    return fail_on(stream, cudaErrorStreamCaptureUnsupported);
  if (stream == nullptr && hg_emu::unsafe_call_refused()) return cudaErrorStreamCaptureUnsupported;
  return cudaSuccess;  // work runs when it is issued
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  if (stream == nullptr) return fail(cudaErrorStreamCaptureUnsupported);
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream->capturing) return fail(cudaErrorIllegalState);
  stream->capturing = true;
  stream->invalidated = false;
  stream->mode = mode;
  stream->thread = std::this_thread::get_id();
  stream->graph = std::make_unique<CUgraph_st>();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  *graph = nullptr;
  if (stream == nullptr || !hg_emu::known_stream(stream)) return fail(cudaErrorInvalidValue);
  if (!stream->capturing) return fail(cudaErrorIllegalState);
  if (stream->mode != cudaStreamCaptureModeRelaxed && stream->thread != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread);
  stream->capturing = false;
  std::unique_ptr<CUgraph_st> captured = std::move(stream->graph);
  if (stream->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  *graph = captured.release();
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (*mode < cudaStreamCaptureModeGlobal || *mode > cudaStreamCaptureModeRelaxed)
    return fail(cudaErrorInvalidValue);
  std::swap(*mode, hg_emu::thread_mode);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  runtime().events.push_back(std::make_unique<CUevent_st>());
  *event = runtime().events.back().get();
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr || !hg_emu::known_stream(stream))
    return fail(cudaErrorInvalidResourceHandle);
  const bool capturing = stream != nullptr && stream->capturing;
  if (capturing && stream->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  event->recorded_in_capture = capturing;  // otherwise complete at once: the work before it ran
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return event->recorded_in_capture ? fail(cudaErrorCapturedEvent) : cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return fail(cudaErrorInvalidValue);
  auto instance = std::make_unique<CUgraphExec_st>();
  for (const auto& node : graph->nodes) instance->work.push_back(node->work);
  *exec = instance.release();
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream != nullptr && stream->capturing)  // (a child graph in CUDA; halfgrad never does it)
    return fail_on(stream, cudaErrorStreamCaptureUnsupported);
  return hg_emu::submit(stream, cudaGraphNodeTypeKernel, [exec] {
    for (const auto& work : exec->work) work();
  });
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, std::size_t* count) {
  if (graph == nullptr || count == nullptr) return fail(cudaErrorInvalidValue);
  if (nodes == nullptr) {
    *count = graph->nodes.size();
    return cudaSuccess;
  }
  for (std::size_t i = 0; i < *count; ++i)
    nodes[i] = i < graph->nodes.size() ? graph->nodes[i].get() : nullptr;
  *count = std::min(*count, graph->nodes.size());
  return cudaSuccess;
}

cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type) {
  if (node == nullptr) return fail(cudaErrorInvalidValue);
  *type = node->kind;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
