#pragma once
// The CUDA emulator's runtime API (included by emu_prelude.h; defined in emu_runtime.cpp): what
// kernels/cuda calls of <cuda_runtime.h>, with CUDA's names, values and rules, so that the
// backend's own runtime files (runtime.cpp, allocator.cpp, transfer.cpp, graph.cpp, device.cu)
// run as they are on the emulated device.
//
// Modelled, because halfgrad relies on it and it never ran on a GPU in most sessions:
// - device memory: cudaMalloc'd blocks (mapped pages, tracked, closed to the host except while
//   the emulated device runs: emu_device_memory.cpp) within a capacity (emu.h's
//   set_device_memory), pinned host memory from cudaHostAlloc; copies, memsets and the pointer
//   arguments of kernels/cuda's launches are checked against them, so a host pointer handed to
//   the device, or a copy past its block, is an error here as it is a fault there, and host code
//   that touches device memory faults.
// - streams and stream capture: work on a capturing stream is recorded into a graph (a kernel's
//   arguments as they were at the launch, as CUDA records them), replayed by cudaGraphLaunch;
//   what a capture forbids fails as CUDA fails it (synchronising the capturing stream, an event
//   recorded in the capture, cudaMalloc outside relaxed mode, copies from pageable memory), and
//   invalidates the capture. Stricter than CUDA: work on another stream during a capture is an
//   error (CUDA would run it at once, outside the graph; halfgrad has one stream).
// - asynchrony: device work is queued, and runs only when the host waits for it (a stream's or
//   an event's synchronisation, a copy into pageable memory, cudaFree); a copy from pageable
//   memory takes its source at the call, one from pinned memory when it runs, as in CUDA. So
//   host code that reads results (or reuses a pinned buffer) without the wait CUDA requires
//   reads stale values here, as it may on a GPU. An error in queued work comes out of the wait.
// Not modelled: more than one device, the legacy stream's implicit synchronisation, the order
// of work between two streams (one queue runs all of it in issue order).
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

struct CUstream_st;
using cudaStream_t = CUstream_st*;
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
struct CUgraph_st;
using cudaGraph_t = CUgraph_st*;
struct CUgraphExec_st;
using cudaGraphExec_t = CUgraphExec_st*;
struct CUgraphNode_st;
using cudaGraphNode_t = CUgraphNode_st*;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorCapturedEvent = 907,
  cudaErrorStreamCaptureWrongThread = 908
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaGraphNodeType {
  cudaGraphNodeTypeKernel = 0,
  cudaGraphNodeTypeMemcpy = 1,
  cudaGraphNodeTypeMemset = 2
};
inline constexpr unsigned cudaStreamDefault = 0;
inline constexpr unsigned cudaStreamNonBlocking = 1;
inline constexpr unsigned cudaHostAllocDefault = 0;
inline constexpr unsigned cudaEventDisableTiming = 2;

const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);

cudaError_t cudaMalloc(void** p, std::size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaHostAlloc(void** p, std::size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t stream);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode);

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, std::size_t* count);
cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

namespace hg_emu {

// Device work (a kernel, a copy, a memset, a GEMM of the cuBLAS stand-ins) issued on `stream`:
// queued (emu_runtime_state.h), or recorded as a node of `kind` into the graph being captured
// there. An error status is returned, and remembered for cudaGetLastError, as CUDA reports a
// refused call. `what` names the work for HG_EMU_TRACE=1, which prints a line per piece issued
// or captured (a step's kernels in order, for counting launches and finding ones to fuse).
cudaError_t submit(cudaStream_t stream, cudaGraphNodeType kind, std::function<void()> work,
                   std::string_view what);

// Whether a "potentially unsafe" call (cudaMalloc, cudaFree, cudaHostAlloc, a library handle's
// creation) is forbidden to this thread now by a capture's mode; if so, that capture is
// invalidated, as CUDA invalidates it.
bool unsafe_call_refused();

// Throws an hg::Error unless [p, p + bytes) lies in one block of device memory, or, with
// `pinned_too`, of pinned host memory (which the device reads through unified addressing).
void require_device_memory(const void* p, std::size_t bytes, bool pinned_too, const char* what);

}  // namespace hg_emu
