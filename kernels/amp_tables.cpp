#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cpu/amp_cpu.h"

namespace hg::kernels {

void check_cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count) {
  auto castable = [](DType d) { return is_floating(d) && d != DType::Float64; };
  for (int64_t t = 0; t < count; ++t) {
    const TensorView &in = ins[t], &out = outs[t];
    HG_CHECK(castable(in.dtype) && castable(out.dtype) && in.numel() == out.numel(),
             "cast_tensors: tensor ", t, " is ", dtype_name(in.dtype), " -> ",
             dtype_name(out.dtype), " with ", in.numel(), " -> ", out.numel(),
             " elements; the kernel casts between float32, float16 and bfloat16, count for count");
    // the CUDA kernel reads and writes flat memory
    HG_CHECK(in.is_contiguous() && out.is_contiguous(), "cast_tensors: tensor ", t,
             " is not contiguous (", in.is_contiguous() ? "output" : "input", ")");
  }
}

// Constant-initialised, like kernels/tables.cpp; the CUDA column is filled in by
// kernels/cuda/amp_register.cpp.
DispatchTable<UnscaleGradsFn> unscale_grads{"unscale_grads", {cpu::unscale_grads, nullptr}};
DispatchTable<CastTensorsFn> cast_tensors{"cast_tensors", {cpu::cast_tensors, nullptr}};
DispatchTable<ScaleUpdateFn> scale_update{"scale_update", {cpu::scale_update, nullptr}};
DispatchTable<FusedSgdFn> fused_sgd{"fused_sgd", {cpu::fused_sgd, nullptr}};
DispatchTable<FusedAdamFn> fused_adam{"fused_adam", {cpu::fused_adam, nullptr}};
DispatchTable<FusedRmspropFn> fused_rmsprop{"fused_rmsprop", {cpu::fused_rmsprop, nullptr}};
DispatchTable<FusedAdagradFn> fused_adagrad{"fused_adagrad", {cpu::fused_adagrad, nullptr}};

}  // namespace hg::kernels
