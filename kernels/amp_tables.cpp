#include "core/error.h"
#include "kernels/cpu/amp_cpu.h"

namespace hg::kernels {

void check_cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count) {
  for (int64_t t = 0; t < count; ++t)
    HG_CHECK(ins[t].dtype != DType::Float64 && outs[t].dtype != DType::Float64 &&
                 ins[t].numel() == outs[t].numel(),
             "cast_tensors: tensor ", t, " is ", dtype_name(ins[t].dtype), " -> ",
             dtype_name(outs[t].dtype), " with ", ins[t].numel(), " -> ", outs[t].numel(),
             " elements; the kernel casts between float32, float16 and bfloat16, count for count");
}

// Constant-initialised, like kernels/tables.cpp; the CUDA column is filled in by
// kernels/cuda/amp_register.cpp.
DispatchTable<UnscaleGradsFn> unscale_grads{"unscale_grads", {cpu::unscale_grads, nullptr}};
DispatchTable<CastTensorsFn> cast_tensors{"cast_tensors", {cpu::cast_tensors, nullptr}};
DispatchTable<ScaleUpdateFn> scale_update{"scale_update", {cpu::scale_update, nullptr}};
DispatchTable<FusedSgdFn> fused_sgd{"fused_sgd", {cpu::fused_sgd, nullptr}};
DispatchTable<FusedAdamFn> fused_adam{"fused_adam", {cpu::fused_adam, nullptr}};

}  // namespace hg::kernels
