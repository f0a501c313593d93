// The late report of out-of-range targets on CUDA (kernels/cuda/target_check.h).
#include "halfgrad/kernels/cuda/target_check.h"

#include <mutex>
#include <utility>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/graph_pool.h"

namespace hg::cuda {

namespace {

// The one outstanding finding: the device slot the kernels write, its pinned host copy, and the
// event recorded after the copy. Allocated on first use and never freed (pinned memory dies with
// the process), as the transfer staging buffers are.
struct Pending {
  std::mutex mutex;
  long long* device_slot = nullptr;
  long long* host_slot = nullptr;  // pinned: [0] the copy of the finding, [1] kNoBadTarget
  cudaEvent_t copied = nullptr;
  bool queued = false;
  std::string call, subject, result;  // of the queued launch, for its message

  // The event is created last and tested first: if an allocation throws, the next call
  // completes the set-up instead of using a null host slot or event.
  void ensure() {
    if (copied != nullptr) return;
    if (device_slot == nullptr)
      HG_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&device_slot), sizeof(long long)));
    if (host_slot == nullptr) {
      HG_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_slot), 2 * sizeof(long long),
                                  cudaHostAllocDefault));
      host_slot[0] = host_slot[1] = kNoBadTarget;
    }
    cudaEvent_t event = nullptr;
    HG_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    copied = event;
  }

  // Called with the mutex held. Clears the finding before throwing, so it is reported once.
  void report() {
    if (!queued) return;
    HG_CUDA_CHECK(cudaEventSynchronize(copied));
    queued = false;
    const long long bad = host_slot[0];
    if (bad == kNoBadTarget) return;
    HG_FAIL(call, ": ", subject, " ", bad,
            " is out of range (reported by the next CUDA loss or index lookup, or "
            "cuda::synchronize(): reading it at once would stall the host on every call; that "
            "row's ",
            result, " is NaN)");
  }
};

Pending& pending() {
  static Pending* p = new Pending;
  return *p;
}

}  // namespace

TargetCheck::TargetCheck(cudaStream_t stream, const char* op, int64_t rows, int64_t classes)
    : TargetCheck(stream,
                  std::string(op) + " on CUDA with [" + std::to_string(rows) + ", " +
                      std::to_string(classes) + "] inputs and " + std::to_string(classes) +
                      " classes",
                  "the target at index", "loss") {}

TargetCheck::TargetCheck(cudaStream_t stream, std::string call, std::string subject,
                         std::string result)
    : stream_(stream),
      call_(std::move(call)),
      subject_(std::move(subject)),
      result_(std::move(result)) {
  Pending& p = pending();
  std::lock_guard<std::mutex> lock(p.mutex);
  {
    RelaxedCaptureMode relaxed;  // the first loss may come inside a capture: not in the graph
    p.ensure();
  }
  // Inside a graph capture (core/cuda_graph.h) nothing is reported: waiting on the event, or
  // recording it in the graph and waiting on it later, is what a capture forbids. So a replay's
  // finding is never read, and resetting the slot first would only add a copy to every replay:
  // the kernel writes into the slot as it stands, and the next launch outside a graph resets it.
  if (is_capturing()) return;
  p.report();  // the previous launch's finding, before its slot is reused
  // from pinned memory: a truly asynchronous copy, and the constant outlives it
  HG_CUDA_CHECK(cudaMemcpyAsync(p.device_slot, p.host_slot + 1, sizeof(long long),
                                cudaMemcpyHostToDevice, stream_));
}

long long* TargetCheck::slot() const { return pending().device_slot; }

void TargetCheck::queue() {
  if (is_capturing()) return;  // as in the constructor
  Pending& p = pending();
  std::lock_guard<std::mutex> lock(p.mutex);
  HG_CUDA_CHECK(cudaMemcpyAsync(p.host_slot, p.device_slot, sizeof(long long),
                                cudaMemcpyDeviceToHost, stream_));
  HG_CUDA_CHECK(cudaEventRecord(p.copied, stream_));
  p.call = call_;
  p.subject = subject_;
  p.result = result_;
  p.queued = true;
}

void report_bad_targets() {
  Pending& p = pending();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.report();
}

}  // namespace hg::cuda
