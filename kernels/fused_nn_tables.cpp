#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cpu/fused_nn_cpu.h"

namespace hg::kernels {

void check_loss_dtype(DType logits, DType loss, const char* op) {
  const bool widened =
      (logits == DType::Float16 || logits == DType::BFloat16) && loss == DType::Float32;
  HG_CHECK(loss == logits || widened, op, ": the loss of ", dtype_name(logits), " logits must be ",
           dtype_name(logits), " (or float32 for 16-bit logits, autocast's float32 policy), got ",
           dtype_name(loss));
}

// Constant-initialised; the CUDA column is filled in by kernels/cuda/nn_register.cpp.
DispatchTable<DropoutFn> dropout{"dropout", {cpu::dropout, nullptr}};
DispatchTable<CrossEntropyFn> cross_entropy{"cross_entropy", {cpu::cross_entropy, nullptr}};
DispatchTable<CrossEntropyBackwardFn> cross_entropy_backward{
    "cross_entropy_backward", {cpu::cross_entropy_backward, nullptr}};
DispatchTable<MeanOverTargetsFn> mean_over_targets{"mean_over_targets",
                                                   {cpu::mean_over_targets, nullptr}};
DispatchTable<MeanOverTargetsBackwardFn> mean_over_targets_backward{
    "mean_over_targets_backward", {cpu::mean_over_targets_backward, nullptr}};

}  // namespace hg::kernels
