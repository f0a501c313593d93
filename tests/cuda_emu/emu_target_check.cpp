// The CUDA emulator's kernels/cuda/target_check.cpp: the slot an emulated loss or embedding
// kernel writes the first out-of-range index into, and its late report. On the GPU the slot is
// copied to pinned memory behind the kernel and read at the next such call or synchronisation;
// here memory is shared, so queue() reads it at once, and the report still comes at the next
// call (or report_bad_targets()), as on the device.
#include <string>
#include <utility>

#include "core/error.h"
#include "kernels/cuda/target_check.h"

namespace hg::cuda {
namespace {

struct Pending {
  long long slot = kNoBadTarget;
  std::string report;  // empty: nothing to report
};
Pending& pending() {
  static Pending p;
  return p;
}

}  // namespace

TargetCheck::TargetCheck(cudaStream_t stream, const char* op, int64_t rows, int64_t classes)
    : TargetCheck(stream,
                  std::string(op) + " on CUDA with [" + std::to_string(rows) + ", " +
                      std::to_string(classes) + "] inputs",
                  "the target at index", "loss") {}

TargetCheck::TargetCheck(cudaStream_t stream, std::string call, std::string subject,
                         std::string result)
    : stream_(stream),
      call_(std::move(call)),
      subject_(std::move(subject)),
      result_(std::move(result)) {
  report_bad_targets();  // the previous call's finding, before its slot is reused
  pending().slot = kNoBadTarget;
}

long long* TargetCheck::slot() const { return &pending().slot; }

void TargetCheck::queue() {
  const long long bad = pending().slot;
  if (bad != kNoBadTarget)
    pending().report = call_ + ": " + subject_ + " " + std::to_string(bad) +
                       " is out of range (emulated late report; that row's " + result_ + " is NaN)";
}

void report_bad_targets() {
  std::string report = std::exchange(pending().report, std::string());
  if (!report.empty()) HG_FAIL(report);
}

}  // namespace hg::cuda
