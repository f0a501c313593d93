// The CUDA emulator's runtime (emu_runtime_api.h says what is modelled): device and pinned
// memory, copies, the submission of device work (run now, or recorded by a capture: the rest of
// capture is emu_capture.cpp), and the last-error slot.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "emu.h"
#include "emu_runtime_state.h"
#include "halfgrad/core/error.h"

namespace hg_emu {
namespace {

constexpr std::size_t kDeviceAlignment = 256;  // cudaMalloc's guarantee
constexpr unsigned char kFreshByte = 0xff;     // new device memory: NaN in every float type

thread_local cudaError_t last_error = cudaSuccess;

// HG_EMU_TRACE=1: a line on stderr per piece of device work issued or captured (submit).
bool tracing() {
  static const bool on = [] {
    const char* value = std::getenv("HG_EMU_TRACE");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return on;
}

// " <<<grid, block>>>" for a trace line: how much of a GPU the launch would occupy.
std::string launch_shape_text(const LaunchConfig& c) {
  const auto dims = [](const dim3& d) {
    std::string text = std::to_string(d.x);
    if (d.y > 1 || d.z > 1) text += "x" + std::to_string(d.y);
    if (d.z > 1) text += "x" + std::to_string(d.z);
    return text;
  };
  return " <<<" + dims(c.grid) + ", " + dims(c.block) + ">>>";
}

enum class Where { Pageable, Device, Pinned, Overrun };

// Where [p, p + bytes) lies: inside one block, past the end of one, or in neither (pageable host
// memory). A pointer to the end of a block, with no bytes, counts as inside it.
Where where(const void* p, std::size_t bytes) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = r.blocks.upper_bound(address);
  if (it == r.blocks.begin()) return Where::Pageable;
  --it;
  const uintptr_t end = it->first + it->second.bytes;
  if (address > end || (address == end && bytes > 0)) return Where::Pageable;
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
  if (!pinned && (r.device_bytes > r.capacity || bytes > r.capacity - r.device_bytes))
    return fail(cudaErrorMemoryAllocation);
  const std::size_t rounded = (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  // device memory: pages of fresh bytes (a GPU's are not zeros either) closed to the host
  void* memory =
      pinned ? std::aligned_alloc(kDeviceAlignment, rounded) : map_device_block(bytes, kFreshByte);
  if (memory == nullptr) return fail(cudaErrorMemoryAllocation);
  r.blocks.emplace(reinterpret_cast<uintptr_t>(memory), Block{bytes, pinned});
  if (!pinned) r.device_bytes += bytes;
  *p = memory;
  return cudaSuccess;
}

cudaError_t release(void* p, bool pinned) {
  if (p == nullptr) return cudaSuccess;
  if (unsafe_call_refused()) return cudaErrorStreamCaptureUnsupported;
  run_queue_until(runtime().issued);  // cudaFree waits for the device
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto it = r.blocks.find(reinterpret_cast<uintptr_t>(p));
  if (it == r.blocks.end() || it->second.pinned != pinned) return fail(cudaErrorInvalidValue);
  if (pinned) {
    std::free(p);
  } else {
    r.device_bytes -= it->second.bytes;
    unmap_device_block(p, it->second.bytes);
  }
  r.blocks.erase(it);
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

// A pinned buffer is read or written when the copy runs, not at the call: the host must not
// write a source, or read a destination, before waiting for the copy. So a pinned source is
// compared when the copy runs with its bytes at the call, and a pinned destination holds fresh
// bytes until the copy lands (a read before the wait sees NaNs, not stale values that look
// right). Both only when no other queued work touches pinned memory (stream order may have it
// read the destination, or write the source, first).
std::function<void()> pinned_copy_checks(void* dst, Where d, const void* src, Where s,
                                         std::size_t bytes, std::function<void()> copy) {
  const bool check_source = s == Where::Pinned && !pinned_work_overlaps(src, bytes);
  if (d == Where::Pinned && !pinned_work_overlaps(dst, bytes)) std::memset(dst, kFreshByte, bytes);
  std::vector<std::shared_ptr<PinnedWork>> held;  // this copy's own pinned bytes, until it runs
  for (const auto& [p, w] : {std::pair<const void*, Where>{dst, d}, {src, s}}) {
    const auto begin = reinterpret_cast<uintptr_t>(p);
    if (w == Where::Pinned) held.push_back(std::make_shared<PinnedWork>(begin, begin + bytes));
  }
  if (!check_source) return [held, copy = std::move(copy)] { copy(); };
  auto at_call = std::make_shared<std::vector<char>>(static_cast<const char*>(src),
                                                     static_cast<const char*>(src) + bytes);
  return [held, src, at_call, copy = std::move(copy)] {
    if (std::memcmp(src, at_call->data(), at_call->size()) != 0)
      HG_FAIL("cuda_emu: the host wrote pinned memory at ", address_text(src),
              " after a cudaMemcpyAsync from it and before the copy ran: CUDA reads a pinned "
              "source when the copy runs (wait for the copy's event before writing it)");
    copy();
  };
}

// The pinned blocks a kernel's pointers point into, held until it has run.
std::vector<std::shared_ptr<PinnedWork>> pinned_blocks_of(const std::vector<KernelPointer>& ps) {
  std::vector<std::shared_ptr<PinnedWork>> held;
  Runtime& r = runtime();
  for (const KernelPointer& p : ps) {
    if (p.address == nullptr || where(p.address, 0) != Where::Pinned) continue;
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = std::prev(r.blocks.upper_bound(reinterpret_cast<uintptr_t>(p.address)));
    held.push_back(std::make_shared<PinnedWork>(it->first, it->first + it->second.bytes));
  }
  return held;
}

}  // namespace

bool pinned_work_overlaps(const void* p, std::size_t bytes) {
  const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  return std::any_of(runtime().pinned_work.begin(), runtime().pinned_work.end(),
                     [&](const PinnedWork* w) { return w->begin < end && begin < w->end; });
}

Runtime& runtime() {
  static Runtime* r = new Runtime;  // never destroyed: tensors may be freed by static destructors
  return *r;
}

cudaError_t fail(cudaError_t error) {
  last_error = error;
  return error;
}

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

void set_device_memory(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().capacity = bytes;
}

void require_device_memory(const void* p, std::size_t bytes, bool pinned_too, const char* what) {
  if (p == nullptr) return;
  const Where w = where(p, bytes);
  if (w == Where::Device || (pinned_too && w == Where::Pinned)) return;
  HG_FAIL("cuda_emu: ", what, " (", address_text(p), ", ", bytes, " bytes) ",
          w == Where::Overrun ? "runs past the end of its device memory block"
                              : "is not device memory: a GPU would fault on it");
}

cudaError_t submit(cudaStream_t stream, cudaGraphNodeType kind, std::function<void()> work,
                   std::string_view what) {
  if (!known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  const bool capturing = stream != nullptr && stream->capturing;
  if (tracing() && !(capturing && stream->invalidated))
    std::fprintf(stderr, "cuda_emu: %s %.*s\n", capturing ? "captured" : "issued",
                 static_cast<int>(what.size()), what.data());
  if (capturing) {
    if (stream->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
    stream->graph->nodes.push_back(std::make_unique<CUgraphNode_st>(CUgraphNode_st{kind, work}));
    return cudaSuccess;
  }
  if (other_capture_of_this_thread(stream) != nullptr)
    HG_FAIL(
        "cuda_emu: device work issued on a stream other than the one this thread is "
        "capturing: CUDA would run it at once, outside the graph, and a replay would "
        "leave it out (halfgrad issues all of its work on cuda::current_stream())");
  runtime().queue.push_back(std::move(work));  // runs when the host waits for it
  ++runtime().issued;
  return cudaSuccess;
}

void run_queue_until(uint64_t count) {
  Runtime& r = runtime();
  if (r.finished >= count || r.queue.empty()) return;
  const DeviceRunning device;  // device memory open to the work
  while (r.finished < count && !r.queue.empty()) {
    const std::function<void()> work = std::move(r.queue.front());
    r.queue.pop_front();
    ++r.finished;
    try {
      work();
    } catch (...) {
      r.queue.clear();
      r.finished = r.issued;
      throw;
    }
  }
}

void check_launch_config(const char* kernel, const LaunchConfig& c) {
  const long threads = long{c.block.x} * c.block.y * c.block.z;
  if (threads < 1 || threads > 1024 || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 ||
      c.grid.y > 65535 || c.grid.z > 65535)
    HG_FAIL("cuda_emu: invalid launch configuration of ", kernel, " (grid ", c.grid.x, "x",
            c.grid.y, "x", c.grid.z, ", block of ", threads, ")");
}

void submit_launch(const char* kernel, const LaunchConfig& config,
                   std::vector<KernelPointer> pointers, std::function<void()> per_thread) {
  const auto check_pointers = [kernel](const std::vector<KernelPointer>& pointers) {
    for (const KernelPointer& p : pointers) {
      std::string what = std::string(kernel) + "'s argument " + std::to_string(p.argument);
      if (p.member > 0) what += " (pointer " + std::to_string(p.member) + " inside it)";
      require_device_memory(p.address, 0, true, what.c_str());
    }
  };
  check_pointers(pointers);  // at the launch, to name it; and at each run (graph replays)
  const bool capturing = config.stream != nullptr && config.stream->capturing;
  auto held = capturing ? std::vector<std::shared_ptr<PinnedWork>>{} : pinned_blocks_of(pointers);
  auto run = [check_pointers, config, pointers = std::move(pointers),
              per_thread = std::move(per_thread), held] {
    check_pointers(pointers);
    run_grid(config, run_on_grid, const_cast<std::function<void()>*>(&per_thread));
  };
  // a refused launch is reported by the launch check after it (cudaGetLastError), as in CUDA
  std::string what = kernel;
  if (tracing()) what += launch_shape_text(config);
  (void)submit(config.stream, cudaGraphNodeTypeKernel, std::move(run), what);
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
  const std::size_t capacity = runtime().capacity, used = runtime().device_bytes;
  *free_bytes = used < capacity ? capacity - used : 0;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (bytes == 0) return cudaSuccess;
  const Where d = hg_emu::where(dst, bytes), s = hg_emu::where(src, bytes);
  if (d == Where::Overrun || s == Where::Overrun || !hg_emu::copy_kind_matches(kind, d, s))
    return fail_on(stream, cudaErrorInvalidValue);
  const bool capturing = stream != nullptr && stream->capturing;
  // pageable memory is staged by the driver at the call: nothing a graph could replay
  if (capturing && (d == Where::Pageable || s == Where::Pageable))
    return fail_on(stream, cudaErrorStreamCaptureUnsupported);
  if (d == Where::Pageable && s == Where::Pageable) {  // host to host: at once
    std::memmove(dst, src, bytes);
    return cudaSuccess;
  }
  if (s == Where::Pageable) {  // CUDA's rule: the source is staged before the call returns
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src),
                                                      static_cast<const char*>(src) + bytes);
    return hg_emu::submit(
        stream, cudaGraphNodeTypeMemcpy,
        [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); }, "cudaMemcpyAsync");
  }
  std::function<void()> copy = [dst, src, bytes] { std::memmove(dst, src, bytes); };
  if (!capturing && (d == Where::Pinned || s == Where::Pinned))
    copy = hg_emu::pinned_copy_checks(dst, d, src, s, bytes, std::move(copy));
  const cudaError_t status =
      hg_emu::submit(stream, cudaGraphNodeTypeMemcpy, std::move(copy), "cudaMemcpyAsync");
  // and a copy into pageable memory returns once it has landed (pinned memory: asynchronous)
  if (status == cudaSuccess && d == Where::Pageable) hg_emu::run_queue_until(runtime().issued);
  return status;
}

cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t stream) {
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (bytes == 0) return cudaSuccess;
  if (hg_emu::where(p, bytes) != Where::Device) return fail_on(stream, cudaErrorInvalidValue);
  return hg_emu::submit(
      stream, cudaGraphNodeTypeMemset, [p, value, bytes] { std::memset(p, value, bytes); },
      "cudaMemsetAsync");
}
