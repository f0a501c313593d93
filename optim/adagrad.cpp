// sqrt without errno lets GCC vectorize the loop (sum >= 0, and a NaN stays NaN either way).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-math-errno")
#endif

#include "halfgrad/optim/adagrad.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/amp_math.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "halfgrad/optim/cpu_update.h"
#include "halfgrad/optim/fused_batch.h"
#include "halfgrad/optim/fused_inputs.h"

namespace hg::optim {

// ---- options ----

std::unique_ptr<OptimizerOptions> AdagradOptions::clone() const {
  return std::make_unique<AdagradOptions>(*this);
}

std::vector<std::pair<std::string, double>> AdagradOptions::scalars() const {
  return {{"lr", lr_},
          {"lr_decay", lr_decay_},
          {"weight_decay", weight_decay_},
          {"initial_accumulator_value", initial_accumulator_value_},
          {"eps", eps_}};
}

void AdagradOptions::set_scalar(const std::string& name, double value) {
  if (name == "lr") {
    lr_ = value;
  } else if (name == "lr_decay") {
    lr_decay_ = value;
  } else if (name == "weight_decay") {
    weight_decay_ = value;
  } else if (name == "initial_accumulator_value") {
    initial_accumulator_value_ = value;
  } else if (name == "eps") {
    eps_ = value;
  } else {
    HG_FAIL("AdagradOptions: no option named \"", name, "\"");
  }
}

void AdagradOptions::validate(const std::string& optimizer) const {
  using detail::check_option;
  const char* const kRange = "must be finite and >= 0";
  check_option(std::isfinite(lr_) && lr_ >= 0.0, optimizer, "lr", lr_, kRange);
  check_option(std::isfinite(lr_decay_) && lr_decay_ >= 0.0, optimizer, "lr_decay", lr_decay_,
               kRange);
  check_option(std::isfinite(weight_decay_) && weight_decay_ >= 0.0, optimizer, "weight_decay",
               weight_decay_, kRange);
  check_option(std::isfinite(initial_accumulator_value_) && initial_accumulator_value_ >= 0.0,
               optimizer, "initial_accumulator_value", initial_accumulator_value_, kRange);
  check_option(std::isfinite(eps_) && eps_ >= 0.0, optimizer, "eps", eps_, kRange);
}

// ---- the update ----

namespace {

// The decayed lr of update number `step` (1 on the first), in double as PyTorch's Python is.
double adagrad_clr(double lr, double lr_decay, int64_t step) {
  return lr / (1.0 + static_cast<double>(step - 1) * lr_decay);
}

// Each term in PyTorch's order: its addcdiv computes self + (value * t1) / t2, so the quotient
// rounds as in its scalar CPU loop.
template <typename C>
void adagrad_loop(const detail::ParamUpdate& u, double clr, double eps, double wd, C* sum) {
  // kernels/amp_math.h's element, which the fused kernels share
  const kernels::amp_math::AdagradScalars<C> scalars{static_cast<C>(-clr), static_cast<C>(eps),
                                                     static_cast<C>(wd), wd != 0.0};
  detail::for_each_element<C>(u, [=](int64_t i, C w, C g) {
    return kernels::amp_math::adagrad_element(w, g, &sum[i], scalars);
  });
}

// The same math from tensor ops, for any device.
void adagrad_tensors(const detail::ParamUpdate& u, double clr, double eps, double wd, Tensor& sum) {
  const Tensor w = u.weight.to(u.compute);
  Tensor g = detail::read_grad(u);
  if (wd != 0.0) g = g + w * wd;
  const Tensor s = sum + g * g;
  sum.copy_(s);
  Tensor target = u.weight;  // (a handle: copy_ writes u.weight)
  target.copy_(w + div(g * -clr, sqrt(s) + eps));
}

// The fused Adagrad calls of one parameter group with the same options and step number,
// launched as one multi-tensor call.
class AdagradBatch final : public detail::FusedCallBatch {
 public:
  AdagradBatch(const detail::ParamUpdate& u, const kernels::FusedAdagradParams& p)
      : FusedCallBatch(u), params_(p) {}
  // Whether u's call can join: the same device, step inputs, gradient factor, options and step.
  bool accepts(const detail::ParamUpdate& u, const kernels::FusedAdagradParams& p) const {
    return same_inputs(u) && p.lr == params_.lr && p.lr_decay == params_.lr_decay &&
           p.weight_decay == params_.weight_decay && p.eps == params_.eps && p.step == params_.step;
  }
  void add(const detail::ParamUpdate& u, const Tensor& sum, const Tensor* out) {
    kernels::FusedAdagradTensor t;
    t.weight = kernels::view_of(u.weight);
    t.grad = kernels::view_of(u.grad);
    t.sum = kernels::view_of(sum);
    if (out != nullptr) t.param_out = kernels::view_of(*out);
    tensors_.push_back(t);
    keep({u.weight, u.grad, sum, out ? *out : Tensor()});
  }
  // Taken out of the batch first: a launch that throws part way (one of several dtype runs) is
  // not repeated by step_group's second launch().
  void launch() override {
    const std::vector<kernels::FusedAdagradTensor> tensors = std::exchange(tensors_, {});
    const detail::FusedInputs inputs(control_);
    kernels::fused_adagrad(control_.weight.device())(tensors.data(),
                                                     static_cast<int64_t>(tensors.size()),
                                                     inputs.get(), control_.grad_factor, params_);
    release();
  }

 private:
  kernels::FusedAdagradParams params_;
  std::vector<kernels::FusedAdagradTensor> tensors_;
};

// The fused kernel (kernels/amp_kernels.h) on the parameter's device, queued in u.batch when the
// step gave one. In a device-gated step the kernel tests the flag and takes its step number as
// u.gated_step plus the run's device count of applied steps, as Adam's.
void adagrad_fused(detail::ParamUpdate& u, int64_t step, const AdagradOptions& o,
                   const Tensor& sum) {
  kernels::FusedAdagradParams p;
  p.lr = o.lr(), p.lr_decay = o.lr_decay(), p.weight_decay = o.weight_decay(), p.eps = o.eps();
  p.step = step;
  const Tensor* out = detail::fused_param_out(u);
  u.param_written = out != nullptr || u.weight.is_same(u.param);
  detail::queue_fused_call<AdagradBatch>(u, p, sum, out);
}

}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : Optimizer("Adagrad", std::move(groups), defaults.clone()) {}

void Adagrad::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdagradOptions&>(options);
  // PyTorch fills the accumulator when it makes the state (in its constructor)
  Tensor& sum = detail::state_buffer(state, "sum", u, o.initial_accumulator_value());
  if (detail::use_fused_kernel(u)) {
    adagrad_fused(u, u.found_inf != nullptr ? u.gated_step : state.step, o, sum);
    return;
  }
  HG_CHECK(u.found_inf == nullptr, "Adagrad: a device-gated step needs the fused kernel, got ",
           describe(u.weight));
  const double clr = adagrad_clr(o.lr(), o.lr_decay(), state.step);
  if (!u.cpu_loops) {  // another device, or the tensor-op path asked for
    adagrad_tensors(u, clr, o.eps(), o.weight_decay(), sum);
  } else if (u.compute == kFloat64) {
    adagrad_loop<double>(u, clr, o.eps(), o.weight_decay(), sum.data<double>());
  } else {
    adagrad_loop<float>(u, clr, o.eps(), o.weight_decay(), sum.data<float>());
  }
}

bool Adagrad::update_creates_state(const ParamState& state, const OptimizerOptions&) const {
  return state.buffers.count("sum") == 0;
}

}  // namespace hg::optim
