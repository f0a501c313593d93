// Fused SGD and Adam/AdamW steps on CUDA: one pass reads the gradient (any float dtype) times
// the inverse loss scale read from device memory, skips everything when the device found-inf
// flag is set, updates the fp32 master weight (or the parameter) and the optimizer state, and
// writes the 16-bit parameter copy. Both step many parameters per launch (a model's whole step
// in one, usually). Arithmetic: kernels/amp_math.h, as optim/sgd.cpp and optim/adam.cpp. RMSprop
// and Adagrad: fused_optim_extra.cu; what they share: fused_optim_common.cuh.
#include <algorithm>

#include "halfgrad/kernels/amp_math.h"
#include "halfgrad/kernels/cuda/cuda_amp_kernels.h"
#include "halfgrad/kernels/cuda/fused_optim_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

namespace am = amp_math;
using namespace fused;  // NOLINT: the helpers shared with fused_optim_extra.cu

// The learning rate in device memory (null: params.lr), read when the kernel runs, so a graph
// replay uses the lr a scheduler set since the capture; and the gated run's counter that the
// launch adds this step to (null: none; FusedStepInputs::count_applied).
struct SgdLr {
  const double* lr;
  float* count_applied;
  FusedSgdParams params;
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(lr);
    visit(count_applied);
  }
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
  SgdEntry<C, W, G> t[kSgdTensors];  // unused entries all null
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    for (const auto& e : t) {
      visit(e.weight);
      visit(e.grad);
      visit(e.buf);
      visit(e.out.data);
    }
  }
};

// blockIdx.y picks the parameter; the x blocks stride over its elements.
template <typename C, typename W, typename G>
__global__ void sgd_kernel(SgdList<C, W, G> list, StepControl control, SgdLr lr) {
  // one thread counts (a skipped step adds 0); nothing else in the launch reads the counter
  if (lr.count_applied != nullptr && blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0)
    *lr.count_applied += 1.0f - (control.found_inf != nullptr ? *control.found_inf : 0.0f);
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
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(applied_steps);
    visit(lr);
  }
};

// One parameter of a multi-tensor Adam launch, as SgdEntry.
constexpr int kAdamTensors = 48;
template <typename C, typename W, typename G>
struct AdamEntry {
  W* weight;
  const G* grad;
  C* m;
  C* v;
  C* vmax;  // null: not amsgrad
  ParamOut out;
  int64_t n;
};
template <typename C, typename W, typename G>
struct AdamList {
  AdamEntry<C, W, G> t[kAdamTensors];  // unused entries all null
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    for (const auto& e : t) {
      visit(e.weight);
      visit(e.grad);
      visit(e.m);
      visit(e.v);
      visit(e.vmax);
      visit(e.out.data);
    }
  }
};
// The kernel's parameters must stay inside the 4 KB every architecture takes.
static_assert(sizeof(AdamList<double, double, double>) + sizeof(StepControl) +
                      sizeof(am::AdamScalars<double>) + sizeof(AdamStep) <=
                  4000,
              "adam_kernel's parameters");

// blockIdx.y picks the parameter; the x blocks stride over its elements. The parameters share
// the step number, so the bias corrections are the launch's.
template <typename C, typename W, typename G>
__global__ void adam_kernel(AdamList<C, W, G> list, StepControl control, am::AdamScalars<C> scalars,
                            AdamStep step) {
  if (control.skip()) return;
  const AdamEntry<C, W, G> e = list.t[blockIdx.y];
  const C factor = control.grad_factor<C>();
  // every thread derives the bias corrections itself: two double pows, cheaper than a launch
  FusedAdamParams p = step.params;
  if (step.lr != nullptr) p.lr = *step.lr;
  double number = static_cast<double>(p.step);
  if (step.applied_steps != nullptr) number += static_cast<double>(*step.applied_steps);
  const am::AdamScalars<C> s = step.on_device() ? am::adam_scalars<C>(p, number) : scalars;
  HG_GRID_LOOP(i, e.n) {
    C w, g;
    load_wg(e.weight, e.grad, i, factor, w, g);
    const W stored = Scalar<W>::store(
        am::adam_element(w, g, e.m + i, e.v + i, e.vmax != nullptr ? e.vmax + i : nullptr, s));
    e.weight[i] = stored;
    if (e.out.data != nullptr) e.out.store(i, static_cast<float>(Scalar<W>::load(stored)));
  }
}

// Launches tensors[first, last) (same weight and gradient dtypes, at most kSgdTensors).
template <typename C, typename W, typename G>
void launch_sgd(const FusedSgdTensor* tensors, int64_t first, int64_t last,
                const FusedStepInputs& inputs, double grad_factor, const FusedSgdParams& params) {
  SgdList<C, W, G> list{};
  const int64_t largest = fill_list(list, tensors, first, last, [](const FusedSgdTensor& t) {
    return SgdEntry<C, W, G>{
        t.weight.ptr<W>(),         t.grad.ptr<G>(),  optional_ptr<C>(t.momentum_buffer),
        param_out_of(t.param_out), t.weight.numel(), t.first_step};
  });
  // the call's first launch counts the step, a launch of empty tensors too
  float* count =
      first == 0 && inputs.count_applied != nullptr ? inputs.count_applied->ptr<float>() : nullptr;
  if (largest == 0 && count == nullptr) return;
  sgd_kernel<C, W, G>
      <<<list_grid(std::max<int64_t>(largest, 1), std::max<int64_t>(last - first, 1)), kBlockSize,
         0, current_stream()>>>(list, control_of(inputs, grad_factor),
                                SgdLr{ptr_or_null<double>(inputs.lr), count, params});
  HG_CUDA_LAUNCH_CHECK("fused sgd_kernel");
}

// Launches tensors[first, last) (same weight and gradient dtypes, at most kAdamTensors).
template <typename C, typename W, typename G>
void launch_adam(const FusedAdamTensor* tensors, int64_t first, int64_t last,
                 const FusedStepInputs& inputs, double grad_factor, const FusedAdamParams& params) {
  AdamList<C, W, G> list{};
  const int64_t largest = fill_list(list, tensors, first, last, [](const FusedAdamTensor& t) {
    return AdamEntry<C, W, G>{t.weight.ptr<W>(),
                              t.grad.ptr<G>(),
                              t.exp_avg.ptr<C>(),
                              t.exp_avg_sq.ptr<C>(),
                              optional_ptr<C>(t.max_exp_avg_sq),
                              param_out_of(t.param_out),
                              t.weight.numel()};
  });
  if (largest == 0) return;
  adam_kernel<C, W, G><<<list_grid(largest, last - first), kBlockSize, 0, current_stream()>>>(
      list, control_of(inputs, grad_factor), am::adam_scalars<C>(params),
      AdamStep{ptr_or_null<float>(inputs.applied_steps), ptr_or_null<double>(inputs.lr), params});
  HG_CUDA_LAUNCH_CHECK("fused adam_kernel");
}

}  // namespace

void fused_sgd(const FusedSgdTensor* tensors, int64_t count, const FusedStepInputs& inputs,
               double grad_factor, const FusedSgdParams& params) {
  if (count == 0 && inputs.count_applied != nullptr)  // nothing to step, a step to count
    launch_sgd<float, float, float>(tensors, 0, 0, inputs, grad_factor, params);
  for_each_dtype_run(tensors, count, kSgdTensors, "fused_sgd",
                     [&]<typename C, typename W, typename G>(int64_t first, int64_t last) {
                       launch_sgd<C, W, G>(tensors, first, last, inputs, grad_factor, params);
                     });
}

void fused_adam(const FusedAdamTensor* tensors, int64_t count, const FusedStepInputs& inputs,
                double grad_factor, const FusedAdamParams& params) {
  for_each_dtype_run(tensors, count, kAdamTensors, "fused_adam",
                     [&]<typename C, typename W, typename G>(int64_t first, int64_t last) {
                       launch_adam<C, W, G>(tensors, first, last, inputs, grad_factor, params);
                     });
}

}  // namespace hg::kernels::cuda
