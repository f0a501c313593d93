#include "halfgrad/kernels/cpu/fused_nn_cpu.h"

namespace hg::kernels {

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
