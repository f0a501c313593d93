// Fused SGD and Adam/AdamW steps on CUDA: one pass reads the gradient (any float dtype) times
// the inverse loss scale read from device memory, skips everything when the device found-inf
// flag is set, updates the fp32 master weight (or the parameter) and the optimizer state, and
// writes the 16-bit parameter copy. SGD steps many parameters per launch (a model's whole step
// in one, usually); Adam one per launch. Arithmetic: kernels/amp_math.h, as optim/sgd.cpp and
// optim/adam.cpp.
#include <algorithm>

#include "kernels/amp_math.h"
#include "kernels/cuda/cuda_amp_kernels.h"
#include "kernels/cuda/nn_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

namespace am = amp_math;

// Where the gradient factor comes from, and whether the step is skipped (both on the device).
struct StepControl {
  const float* inv_scale;  // null: use factor
  const float* found_inf;  // null: never skipped
  double factor;
  __device__ bool skip() const { return found_inf != nullptr && *found_inf != 0.0f; }
  template <typename C>
  __device__ C grad_factor() const {
    return inv_scale != nullptr ? static_cast<C>(*inv_scale) : static_cast<C>(factor);
  }
};

// The 16-bit (or fp32) parameter copy, any floating dtype, or none.
struct ParamOut {
  void* data;
  DType dtype;
  __device__ void store(int64_t i, float v) const {
    switch (dtype) {
      case DType::Float16:
        static_cast<__half*>(data)[i] = round_to_half(v);  // NaN payload kept, as the CPU
        break;
      case DType::BFloat16:
        static_cast<__nv_bfloat16*>(data)[i] = round_to_bfloat16(v);
        break;
      case DType::Float64:
        static_cast<double*>(data)[i] = static_cast<double>(v);
        break;
      default:
        static_cast<float*>(data)[i] = v;
        break;
    }
  }
};

// w and g in the compute type C from storage types W and G (as optim/cpu_update.h reads them).
template <typename C, typename W, typename G>
__device__ inline void load_wg(const W* weight, const G* grad, int64_t i, C factor, C& w, C& g) {
  w = static_cast<C>(Scalar<W>::load(weight[i]));
  g = static_cast<C>(Scalar<G>::load(grad[i])) * factor;
}

// The learning rate in device memory (null: params.lr), read when the kernel runs, so a graph
// replay uses the lr a scheduler set since the capture.
struct SgdLr {
  const double* lr;
  FusedSgdParams params;
};

// One parameter of a multi-tensor SGD launch, and the list passed by value in the kernel's
// parameters (nothing copied from the host first, so the launch can be captured in a graph).
constexpr int kSgdTensors = 48;  // 48 x 56 bytes: well inside the 4 KB of kernel parameters
template <typename C, typename W, typename G>
struct SgdEntry {
  W* weight;
  const G* grad;
  C* buf;  // null: no momentum
  ParamOut out;
  int64_t n;
  bool first;  // the momentum buffer starts as this step's direction
};
template <typename C, typename W, typename G>
struct SgdList {
  SgdEntry<C, W, G> t[kSgdTensors];
};

// blockIdx.y picks the parameter; the x blocks stride over its elements.
template <typename C, typename W, typename G>
__global__ void sgd_kernel(SgdList<C, W, G> list, StepControl control, SgdLr lr) {
  if (control.skip()) return;
  const SgdEntry<C, W, G> e = list.t[blockIdx.y];
  const C factor = control.grad_factor<C>();
  FusedSgdParams p = lr.params;
  if (lr.lr != nullptr) p.lr = *lr.lr;
  const am::SgdScalars<C> s = am::sgd_scalars<C>(p, e.first);
  HG_GRID_LOOP(i, e.n) {
    C w, g;
    load_wg(e.weight, e.grad, i, factor, w, g);
    const W stored =
        Scalar<W>::store(am::sgd_element(w, g, e.buf != nullptr ? e.buf + i : nullptr, s));
    e.weight[i] = stored;
    if (e.out.data != nullptr) e.out.store(i, static_cast<float>(Scalar<W>::load(stored)));
  }
}

// The step number of a device-gated run: the run's first step number plus the steps the device
// applied since; and the learning rate in device memory. Both read when the kernel runs, so a
// graph replay steps on with the lr set since the capture.
struct AdamStep {
  const float* applied_steps;  // null: params.step
  const double* lr;            // null: params.lr
  FusedAdamParams params;
  __device__ bool on_device() const { return applied_steps != nullptr || lr != nullptr; }
};

template <typename C, typename W, typename G>
__global__ void adam_kernel(W* weight, const G* grad, C* m, C* v, C* vmax, ParamOut out, int64_t n,
                            StepControl control, am::AdamScalars<C> scalars, AdamStep step) {
  if (control.skip()) return;
  const C factor = control.grad_factor<C>();
  // every thread derives the bias corrections itself: two double pows, cheaper than a launch
  FusedAdamParams p = step.params;
  if (step.lr != nullptr) p.lr = *step.lr;
  double number = static_cast<double>(p.step);
  if (step.applied_steps != nullptr) number += static_cast<double>(*step.applied_steps);
  const am::AdamScalars<C> s = step.on_device() ? am::adam_scalars<C>(p, number) : scalars;
  HG_GRID_LOOP(i, n) {
    C w, g;
    load_wg(weight, grad, i, factor, w, g);
    const W stored = Scalar<W>::store(
        am::adam_element(w, g, m + i, v + i, vmax != nullptr ? vmax + i : nullptr, s));
    weight[i] = stored;
    if (out.data != nullptr) out.store(i, static_cast<float>(Scalar<W>::load(stored)));
  }
}

template <typename T>
const T* ptr_or_null(const TensorView* v) {
  return v != nullptr ? v->ptr<T>() : nullptr;
}
StepControl control_of(const FusedStepInputs& in, double factor) {
  return {ptr_or_null<float>(in.inv_scale), ptr_or_null<float>(in.found_inf), factor};
}
ParamOut param_out_of(const TensorView* v) {
  return v == nullptr ? ParamOut{nullptr, DType::Float32} : ParamOut{v->data, v->dtype};
}

// f.template operator()<C, W, G>() for the weight and gradient dtypes (C: the compute type).
template <typename F>
void for_weight_and_grad(const TensorView& weight, const TensorView& grad, const char* op,
                         const F& f) {
  dispatch_floating(weight.dtype, op, [&]<typename W>() {
    using C = typename Scalar<W>::Compute;
    if constexpr (std::is_same_v<C, double>) {
      HG_CHECK(grad.dtype == DType::Float64, op, ": float64 weights need float64 gradients");
      f.template operator()<C, W, double>();
    } else {
      dispatch_floating(grad.dtype, op, [&]<typename G>() {
        if constexpr (std::is_same_v<G, double>)
          HG_FAIL(op, ": float64 gradient for a 32/16-bit weight");
        else
          f.template operator()<C, W, G>();
      });
    }
  });
}

template <typename C>
C* state_ptr(const TensorView* v) {
  return v == nullptr ? nullptr : v->ptr<C>();
}

// Launches tensors[first, last) (same weight and gradient dtypes, at most kSgdTensors).
template <typename C, typename W, typename G>
void launch_sgd(const FusedSgdTensor* tensors, int64_t first, int64_t last,
                const FusedStepInputs& inputs, double grad_factor, const FusedSgdParams& params) {
  SgdList<C, W, G> list{};
  int64_t largest = 0;
  for (int64_t k = first; k < last; ++k) {
    const FusedSgdTensor& t = tensors[k];
    C* buf = t.momentum_buffer.data != nullptr ? t.momentum_buffer.ptr<C>() : nullptr;
    list.t[k - first] = {t.weight.ptr<W>(),
                         t.grad.ptr<G>(),
                         buf,
                         param_out_of(t.param_out.data != nullptr ? &t.param_out : nullptr),
                         t.weight.numel(),
                         t.first_step};
    largest = std::max(largest, t.weight.numel());
  }
  if (largest == 0) return;
  const dim3 grid(std::min<unsigned>(grid_for(largest), 1024u),
                  static_cast<unsigned>(last - first));
  sgd_kernel<C, W, G><<<grid, kBlockSize, 0, current_stream()>>>(
      list, control_of(inputs, grad_factor), SgdLr{ptr_or_null<double>(inputs.lr), params});
  HG_CUDA_LAUNCH_CHECK("fused sgd_kernel");
}

}  // namespace

void fused_sgd(const FusedSgdTensor* tensors, int64_t count, const FusedStepInputs& inputs,
               double grad_factor, const FusedSgdParams& params) {
  int64_t first = 0;
  while (first < count) {  // runs of equal (weight, grad) dtypes, kSgdTensors at most
    const DType wd = tensors[first].weight.dtype, gd = tensors[first].grad.dtype;
    int64_t last = first + 1;
    while (last < count && last - first < kSgdTensors && tensors[last].weight.dtype == wd &&
           tensors[last].grad.dtype == gd)
      ++last;
    for_weight_and_grad(tensors[first].weight, tensors[first].grad, "fused_sgd",
                        [&]<typename C, typename W, typename G>() {
                          launch_sgd<C, W, G>(tensors, first, last, inputs, grad_factor, params);
                        });
    first = last;
  }
}

void fused_adam(const TensorView& weight, const TensorView& grad, const TensorView& exp_avg,
                const TensorView& exp_avg_sq, const TensorView* max_exp_avg_sq,
                const TensorView* param_out, const FusedStepInputs& inputs, double grad_factor,
                const FusedAdamParams& params) {
  const int64_t n = weight.numel();
  if (n == 0) return;
  for_weight_and_grad(weight, grad, "fused_adam", [&]<typename C, typename W, typename G>() {
    adam_kernel<C, W, G><<<grid_for(n), kBlockSize, 0, current_stream()>>>(
        weight.ptr<W>(), grad.ptr<G>(), exp_avg.ptr<C>(), exp_avg_sq.ptr<C>(),
        state_ptr<C>(max_exp_avg_sq), param_out_of(param_out), n, control_of(inputs, grad_factor),
        am::adam_scalars<C>(params),
        AdamStep{ptr_or_null<float>(inputs.applied_steps), ptr_or_null<double>(inputs.lr), params});
    HG_CUDA_LAUNCH_CHECK("fused adam_kernel");
  });
}

}  // namespace hg::kernels::cuda
