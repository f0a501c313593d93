// The emulated runtime's streams, stream capture, events and graphs (emu_runtime_api.h): work
// issued on a capturing stream becomes a node of its graph (emu_runtime.cpp's submit), and a
// graph's launch runs its nodes in order.
#include <algorithm>
#include <utility>

#include "emu_runtime_state.h"

namespace hg_emu {

CUstream_st* other_capture_of_this_thread(cudaStream_t stream) {
  for (const auto& s : runtime().streams)
    if (s->capturing && s.get() != stream && s->thread == std::this_thread::get_id())
      return s.get();
  return nullptr;
}

cudaStreamCaptureMode& thread_mode() {
  thread_local cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;  // CUDA's default
  return mode;
}

bool unsafe_call_refused() {
  if (thread_mode() == cudaStreamCaptureModeRelaxed) return false;
  bool refused = false;
  for (const auto& s : runtime().streams) {
    if (!s->capturing) continue;
    const bool own = s->thread == std::this_thread::get_id();
    if ((own && s->mode != cudaStreamCaptureModeRelaxed) ||
        (!own && thread_mode() == cudaStreamCaptureModeGlobal &&
         s->mode == cudaStreamCaptureModeGlobal)) {
      s->invalidated = true;
      refused = true;
    }
  }
  if (refused) fail(cudaErrorStreamCaptureUnsupported);
  return refused;
}

}  // namespace hg_emu

using hg_emu::fail;
using hg_emu::fail_on;
using hg_emu::runtime;

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
  hg_emu::run_queue_until(runtime().issued);  // (every stream's work: one queue)
  return cudaSuccess;
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
  std::swap(*mode, hg_emu::thread_mode());
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
  event->recorded_in_capture = capturing;
  event->after = runtime().issued;  // complete once the work issued before it has run
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  if (event->recorded_in_capture) return fail(cudaErrorCapturedEvent);
  hg_emu::run_queue_until(event->after);  // that work, and no more
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return fail(cudaErrorInvalidValue);
  auto work = std::make_shared<std::vector<std::function<void()>>>();
  for (const auto& node : graph->nodes) work->push_back(node->work);
  *exec = new CUgraphExec_st{std::move(work)};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  if (!hg_emu::known_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream != nullptr && stream->capturing)  // (a child graph in CUDA; halfgrad never does it)
    return fail_on(stream, cudaErrorStreamCaptureUnsupported);
  // a replay may touch pinned memory (its nodes' own checks were left out at the capture)
  auto token = std::make_shared<hg_emu::PinnedWork>(0, UINTPTR_MAX);
  return hg_emu::submit(
      stream, cudaGraphNodeTypeKernel,
      [nodes = exec->work, token] {
        for (const auto& work : *nodes) work();
      },
      "cudaGraphLaunch");
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
