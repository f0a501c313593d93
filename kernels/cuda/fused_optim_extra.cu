// Fused RMSprop and Adagrad steps on CUDA, in the style of fused_optim.cu's SGD and Adam: one pass
// reads the gradient (any float dtype) times the inverse loss scale from device memory, skips
// everything when the device found-inf flag is set, updates the fp32 master weight (or the
// parameter) and the optimizer state, and writes the 16-bit parameter copy; many parameters per
// launch. Arithmetic: kernels/amp_math.h, the CPU loops of optim/rmsprop.cpp and adagrad.cpp term
// for term (built with -fmad=false, so an fp32 step has the CPU's bits).
#include "halfgrad/kernels/amp_math.h"
#include "halfgrad/kernels/cuda/cuda_amp_kernels.h"
#include "halfgrad/kernels/cuda/fused_optim_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

namespace am = amp_math;
using namespace fused;  // NOLINT: the helpers shared with fused_optim.cu

// Stores the new weight and, when there is one, its copy in the parameter's dtype (rounded from
// the stored weight, as step()'s copy of a master into its parameter).
template <typename C, typename W>
__device__ inline void store_weight(W* weight, const ParamOut& out, int64_t i, C value) {
  const W stored = Scalar<W>::store(value);
  weight[i] = stored;
  if (out.data != nullptr) out.store(i, static_cast<float>(Scalar<W>::load(stored)));
}

// p + i, or null for an absent state array.
template <typename C>
__device__ inline C* at_or_null(C* p, int64_t i) {
  return p != nullptr ? p + i : nullptr;
}

// The learning rate in device memory (null: params.lr), read when the kernel runs, so a graph
// replay uses the lr a scheduler set since the capture.
// count_applied: the device-gated run's counter of applied steps that this launch adds its step
// to (null: none; FusedStepInputs::count_applied).
struct RmspropLr {
  const double* lr;
  float* count_applied;
  FusedRmspropParams params;
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(lr);
    visit(count_applied);
  }
};

// One parameter of a multi-tensor RMSprop launch, and the list passed by value in the kernel's
// parameters (nothing copied from the host first, so the launch can be captured in a graph).
constexpr int kRmspropTensors = 48;  // 48 x 64 bytes
template <typename C, typename W, typename G>
struct RmspropEntry {
  W* weight;
  const G* grad;
  C* square_avg;
  C* grad_avg;  // null: not centered
  C* buf;       // null: no momentum
  ParamOut out;
  int64_t n;
};
template <typename C, typename W, typename G>
struct RmspropList {
  RmspropEntry<C, W, G> t[kRmspropTensors];  // unused entries all null
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    for (const auto& e : t) {
      visit(e.weight);
      visit(e.grad);
      visit(e.square_avg);
      visit(e.grad_avg);
      visit(e.buf);
      visit(e.out.data);
    }
  }
};
// The kernel's parameters must stay inside the 4 KB every architecture takes.
static_assert(sizeof(RmspropList<double, double, double>) + sizeof(StepControl) +
                      sizeof(RmspropLr) <=
                  4000,
              "rmsprop_kernel's parameters");

// blockIdx.y picks the parameter; the x blocks stride over its elements.
template <typename C, typename W, typename G>
__global__ void rmsprop_kernel(RmspropList<C, W, G> list, StepControl control, RmspropLr lr) {
  // one thread counts (a skipped step adds 0); nothing else in the launch reads the counter
  if (lr.count_applied != nullptr && blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0)
    *lr.count_applied += 1.0f - (control.found_inf != nullptr ? *control.found_inf : 0.0f);
  if (control.skip()) return;
  const RmspropEntry<C, W, G> e = list.t[blockIdx.y];
  const C factor = control.grad_factor<C>();
  FusedRmspropParams p = lr.params;
  if (lr.lr != nullptr) p.lr = *lr.lr;
  const am::RmspropScalars<C> s = am::rmsprop_scalars<C>(p);
  HG_GRID_LOOP(i, e.n) {
    C w, g;
    load_wg(e.weight, e.grad, i, factor, w, g);
    store_weight(e.weight, e.out, i,
                 am::rmsprop_element(w, g, e.square_avg + i, at_or_null(e.grad_avg, i),
                                     at_or_null(e.buf, i), s));
  }
}

// The step number of a device-gated run (the run's first step number plus the steps the device
// applied since) and the learning rate in device memory, both read when the kernel runs, as
// fused_optim.cu's AdamStep: a graph replay decays the lr by the step it is.
struct AdagradStep {
  const float* applied_steps;  // null: params.step
  const double* lr;            // null: params.lr
  FusedAdagradParams params;
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(applied_steps);
    visit(lr);
  }
};

// One parameter of a multi-tensor Adagrad launch, as RmspropEntry.
constexpr int kAdagradTensors = 48;  // 48 x 48 bytes
template <typename C, typename W, typename G>
struct AdagradEntry {
  W* weight;
  const G* grad;
  C* sum;
  ParamOut out;
  int64_t n;
};
template <typename C, typename W, typename G>
struct AdagradList {
  AdagradEntry<C, W, G> t[kAdagradTensors];  // unused entries all null
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    for (const auto& e : t) {
      visit(e.weight);
      visit(e.grad);
      visit(e.sum);
      visit(e.out.data);
    }
  }
};
static_assert(sizeof(AdagradList<double, double, double>) + sizeof(StepControl) +
                      sizeof(AdagradStep) <=
                  4000,
              "adagrad_kernel's parameters");

// blockIdx.y picks the parameter; the parameters share the step number, so the decayed lr is the
// launch's (each thread forms it: a double division, cheaper than a launch).
template <typename C, typename W, typename G>
__global__ void adagrad_kernel(AdagradList<C, W, G> list, StepControl control, AdagradStep step) {
  if (control.skip()) return;
  const AdagradEntry<C, W, G> e = list.t[blockIdx.y];
  const C factor = control.grad_factor<C>();
  FusedAdagradParams p = step.params;
  if (step.lr != nullptr) p.lr = *step.lr;
  double number = static_cast<double>(p.step);
  if (step.applied_steps != nullptr) number += static_cast<double>(*step.applied_steps);
  const am::AdagradScalars<C> s = am::adagrad_scalars<C>(p, number);
  HG_GRID_LOOP(i, e.n) {
    C w, g;
    load_wg(e.weight, e.grad, i, factor, w, g);
    store_weight(e.weight, e.out, i, am::adagrad_element(w, g, e.sum + i, s));
  }
}

// Launches tensors[first, last) (same weight and gradient dtypes, at most kRmspropTensors).
template <typename C, typename W, typename G>
void launch_rmsprop(const FusedRmspropTensor* tensors, int64_t first, int64_t last,
                    const FusedStepInputs& inputs, double grad_factor,
                    const FusedRmspropParams& params) {
  RmspropList<C, W, G> list{};
  const int64_t largest = fill_list(list, tensors, first, last, [](const FusedRmspropTensor& t) {
    return RmspropEntry<C, W, G>{t.weight.ptr<W>(),
                                 t.grad.ptr<G>(),
                                 t.square_avg.ptr<C>(),
                                 optional_ptr<C>(t.grad_avg),
                                 optional_ptr<C>(t.momentum_buffer),
                                 param_out_of(t.param_out),
                                 t.weight.numel()};
  });
  // the call's first launch counts the step, a launch of empty tensors too
  float* count =
      first == 0 && inputs.count_applied != nullptr ? inputs.count_applied->ptr<float>() : nullptr;
  if (largest == 0 && count == nullptr) return;
  rmsprop_kernel<C, W, G>
      <<<list_grid(std::max<int64_t>(largest, 1), std::max<int64_t>(last - first, 1)), kBlockSize,
         0, current_stream()>>>(list, control_of(inputs, grad_factor),
                                RmspropLr{ptr_or_null<double>(inputs.lr), count, params});
  HG_CUDA_LAUNCH_CHECK("fused rmsprop_kernel");
}

// Launches tensors[first, last) (same weight and gradient dtypes, at most kAdagradTensors).
template <typename C, typename W, typename G>
void launch_adagrad(const FusedAdagradTensor* tensors, int64_t first, int64_t last,
                    const FusedStepInputs& inputs, double grad_factor,
                    const FusedAdagradParams& params) {
  AdagradList<C, W, G> list{};
  const int64_t largest = fill_list(list, tensors, first, last, [](const FusedAdagradTensor& t) {
    return AdagradEntry<C, W, G>{t.weight.ptr<W>(), t.grad.ptr<G>(), t.sum.ptr<C>(),
                                 param_out_of(t.param_out), t.weight.numel()};
  });
  if (largest == 0) return;
  adagrad_kernel<C, W, G><<<list_grid(largest, last - first), kBlockSize, 0, current_stream()>>>(
      list, control_of(inputs, grad_factor),
      AdagradStep{ptr_or_null<float>(inputs.applied_steps), ptr_or_null<double>(inputs.lr),
                  params});
  HG_CUDA_LAUNCH_CHECK("fused adagrad_kernel");
}

}  // namespace

void fused_rmsprop(const FusedRmspropTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedRmspropParams& params) {
  if (count == 0 && inputs.count_applied != nullptr)  // nothing to step, a step to count
    launch_rmsprop<float, float, float>(tensors, 0, 0, inputs, grad_factor, params);
  for_each_dtype_run(tensors, count, kRmspropTensors, "fused_rmsprop",
                     [&]<typename C, typename W, typename G>(int64_t first, int64_t last) {
                       launch_rmsprop<C, W, G>(tensors, first, last, inputs, grad_factor, params);
                     });
}

void fused_adagrad(const FusedAdagradTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                   double grad_factor, const FusedAdagradParams& params) {
  for_each_dtype_run(tensors, count, kAdagradTensors, "fused_adagrad",
                     [&]<typename C, typename W, typename G>(int64_t first, int64_t last) {
                       launch_adagrad<C, W, G>(tensors, first, last, inputs, grad_factor, params);
                     });
}

}  // namespace hg::kernels::cuda
