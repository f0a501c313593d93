#pragma once
// Out-of-range class targets on CUDA (cross_entropy, nll_loss) and lookup indices (embedding,
// index_select, gather), reported without making the host wait for the device. The CPU kernels
// report a bad target before the op returns. Reading a CUDA kernel's finding that way costs a
// host synchronisation per loss: in a small model most of a step, and it would undo the sync-free
// AMP step. Instead each loss kernel leaves its finding (the first bad row, atomicMin) in a
// device slot that is copied, in stream order, into pinned host memory with an event behind it;
// the next checked launch (a loss or a lookup), and cuda::synchronize(), look at it (waiting only
// for that event: for a loss after a loss, the device passed it a step ago in a training loop; a
// loss after the same step's embedding waits for that embedding, so the host runs at most about
// one forward pass ahead of the device in a model with both) and throw the hg::Error then, naming
// the op and the shapes of the call that had the bad target. Rows with a bad target get a NaN
// loss (a lookup's rows with a bad index NaN outputs, and no gradient), so a result read before
// the report is visibly wrong.
// Inside a graph capture nothing is reset, copied or reported (a capture cannot wait on the
// event): a replay adds only the kernel, and a bad target there shows as its row's NaN alone.
// PyTorch reports the same misuse late too (a device-side assert). A finding of a process's very
// last loss that nothing looks at goes unreported. There is one device slot and one event: this
// relies on halfgrad's single stream and on losses being issued from one host thread at a time (a
// second stream, or a loss started on another thread between a launch and its queue(), could reset
// the slot before the first launch's finding is copied out).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace hg::cuda {

constexpr long long kNoBadTarget = 0x7fffffffffffffffLL;  // the slot's "none"

// One checked launch: construct before the kernel (it reports any earlier finding, then sets the
// device slot to kNoBadTarget on `stream`), pass slot() to the kernel, and call queue() after it.
class TargetCheck {
 public:
  // A loss over [rows, classes] inputs: "the target at index i ... that row's loss is NaN".
  TargetCheck(cudaStream_t stream, const char* op, int64_t rows, int64_t classes);
  // Any other index-driven op: `call` describes the call (op and shapes), `subject` names what
  // was out of range, up to its position ("the index at position"), `result` what the kernel
  // made NaN for it ("output row").
  TargetCheck(cudaStream_t stream, std::string call, std::string subject, std::string result);
  long long* slot() const;
  void queue();  // copies the slot to the host and records the event, on the stream

 private:
  cudaStream_t stream_;
  std::string call_;     // "cross_entropy on CUDA with [N, C] inputs ...": for the late report
  std::string subject_;  // "the target at index"
  std::string result_;   // "loss"
};

// Throws the hg::Error of a queued finding, if there is one (cuda::synchronize() calls it).
void report_bad_targets();

}  // namespace hg::cuda
