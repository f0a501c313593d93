#include "kernels/cpu/amp_cpu.h"

namespace hg::kernels {

// Constant-initialised, like kernels/tables.cpp; the CUDA column is filled in by
// kernels/cuda/amp_register.cpp.
DispatchTable<UnscaleGradsFn> unscale_grads{"unscale_grads", {cpu::unscale_grads, nullptr}};
DispatchTable<CastTensorsFn> cast_tensors{"cast_tensors", {cpu::cast_tensors, nullptr}};
DispatchTable<ScaleUpdateFn> scale_update{"scale_update", {cpu::scale_update, nullptr}};
DispatchTable<FusedSgdFn> fused_sgd{"fused_sgd", {cpu::fused_sgd, nullptr}};
DispatchTable<FusedAdamFn> fused_adam{"fused_adam", {cpu::fused_adam, nullptr}};

}  // namespace hg::kernels
