// sqrt without errno lets GCC vectorize the Adam loop (sqrt of a negative cannot occur here:
// v >= 0, and a NaN stays NaN either way).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-math-errno")
#endif

#include "halfgrad/optim/adam.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "halfgrad/optim/adamw.h"
#include "halfgrad/optim/cpu_update.h"
#include "halfgrad/optim/fused_batch.h"
#include "halfgrad/optim/fused_inputs.h"

namespace hg::optim {

// ---- options (shared by Adam and AdamW) ----

namespace detail {

template <class Derived>
std::vector<std::pair<std::string, double>> AdamOptionsBase<Derived>::scalars() const {
  return {{"lr", lr_},
          {"beta1", betas_[0]},
          {"beta2", betas_[1]},
          {"eps", eps_},
          {"weight_decay", weight_decay_},
          {"amsgrad", amsgrad_ ? 1.0 : 0.0}};
}

template <class Derived>
void AdamOptionsBase<Derived>::set_scalar(const std::string& name, double value) {
  if (name == "lr") {
    lr_ = value;
  } else if (name == "beta1") {
    betas_[0] = value;
  } else if (name == "beta2") {
    betas_[1] = value;
  } else if (name == "eps") {
    eps_ = value;
  } else if (name == "weight_decay") {
    weight_decay_ = value;
  } else if (name == "amsgrad") {
    amsgrad_ = value != 0.0;
  } else {
    HG_FAIL("AdamOptions: no option named \"", name, "\"");
  }
}

template <class Derived>
void AdamOptionsBase<Derived>::validate(const std::string& optimizer) const {
  check_option(std::isfinite(lr_) && lr_ >= 0.0, optimizer, "lr", lr_, "must be finite and >= 0");
  check_option(std::isfinite(eps_) && eps_ >= 0.0, optimizer, "eps", eps_,
               "must be finite and >= 0");
  check_option(betas_[0] >= 0.0 && betas_[0] < 1.0, optimizer, "betas[0]", betas_[0],
               "must be in [0, 1)");
  check_option(betas_[1] >= 0.0 && betas_[1] < 1.0, optimizer, "betas[1]", betas_[1],
               "must be in [0, 1)");
  check_option(std::isfinite(weight_decay_) && weight_decay_ >= 0.0, optimizer, "weight_decay",
               weight_decay_, "must be finite and >= 0");
}

template class AdamOptionsBase<AdamOptions>;
template class AdamOptionsBase<AdamWOptions>;

// ---- the update ----

namespace {

template <typename C>
void adam_loop(const ParamUpdate& u, int64_t step, const AdamHyper& h, C* m, C* v, C* vmax) {
  const double bias_correction1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  const C neg_step_size = static_cast<C>(-(h.lr / bias_correction1));
  const C bc2_sqrt = static_cast<C>(std::sqrt(bias_correction2));
  const C beta1 = static_cast<C>(h.beta1), keep1 = static_cast<C>(1.0 - h.beta1);
  const C beta2 = static_cast<C>(h.beta2), keep2 = static_cast<C>(1.0 - h.beta2);
  const C eps = static_cast<C>(h.eps), wd = static_cast<C>(h.weight_decay);
  const C shrink = static_cast<C>(1.0 - h.lr * h.weight_decay);
  const bool decoupled = h.decoupled, coupled = !h.decoupled && h.weight_decay != 0.0;
  for_each_element<C>(u, [=](int64_t i, C w, C g) {
    if (decoupled) w = w * shrink;
    if (coupled) g = g + wd * w;
    const C mi = beta1 * m[i] + keep1 * g;
    const C vi = beta2 * v[i] + keep2 * g * g;
    m[i] = mi;
    v[i] = vi;
    C vx = vi;
    if (vmax != nullptr) {  // torch.maximum: NaN wins
      vx = (std::isnan(vmax[i]) || vmax[i] > vi) ? vmax[i] : vi;
      vmax[i] = vx;
    }
    const C denom = std::sqrt(vx) / bc2_sqrt + eps;
    return w + neg_step_size * (mi / denom);
  });
}

// The same math from tensor ops, for any device.
void adam_tensors(const ParamUpdate& u, int64_t step, const AdamHyper& h, Tensor& m, Tensor& v,
                  Tensor* vmax) {
  const double bias_correction1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  Tensor w = u.weight.to(u.compute);
  Tensor g = read_grad(u);
  if (h.decoupled) w = w * (1.0 - h.lr * h.weight_decay);
  if (!h.decoupled && h.weight_decay != 0.0) g = g + w * h.weight_decay;
  const Tensor mi = m * h.beta1 + g * (1.0 - h.beta1);
  const Tensor vi = v * h.beta2 + g * (1.0 - h.beta2) * g;
  m.copy_(mi);
  v.copy_(vi);
  Tensor vx = vi;
  if (vmax != nullptr) {
    vx = maximum(*vmax, vi);
    vmax->copy_(vx);
  }
  const Tensor denom = div(sqrt(vx), wrap_scalar(std::sqrt(bias_correction2), vx)) + h.eps;
  Tensor target = u.weight;  // (a handle: copy_ writes u.weight)
  target.copy_(w + div(mi, denom) * -(h.lr / bias_correction1));
}

// The fused Adam calls of one parameter group with the same options and step number, launched
// as one multi-tensor call.
class AdamBatch final : public FusedCallBatch {
 public:
  AdamBatch(const ParamUpdate& u, const kernels::FusedAdamParams& p)
      : FusedCallBatch(u), params_(p) {}
  // Whether u's call can join: the same device, step inputs, gradient factor, options and step.
  bool accepts(const ParamUpdate& u, const kernels::FusedAdamParams& p) const {
    return same_inputs(u) && p.lr == params_.lr && p.beta1 == params_.beta1 &&
           p.beta2 == params_.beta2 && p.eps == params_.eps &&
           p.weight_decay == params_.weight_decay && p.amsgrad == params_.amsgrad &&
           p.decoupled == params_.decoupled && p.step == params_.step;
  }
  void add(const ParamUpdate& u, const Tensor& m, const Tensor& v, const Tensor* vmax,
           const Tensor* out) {
    kernels::FusedAdamTensor t;
    t.weight = kernels::view_of(u.weight);
    t.grad = kernels::view_of(u.grad);
    t.exp_avg = kernels::view_of(m);
    t.exp_avg_sq = kernels::view_of(v);
    if (vmax != nullptr) t.max_exp_avg_sq = kernels::view_of(*vmax);
    if (out != nullptr) t.param_out = kernels::view_of(*out);
    tensors_.push_back(t);
    keep({u.weight, u.grad, m, v, vmax ? *vmax : Tensor(), out ? *out : Tensor()});
  }
  // Taken out of the batch first: a launch that throws part way (one of several dtype runs) is
  // not repeated by step_group's second launch().
  void launch() override {
    const std::vector<kernels::FusedAdamTensor> tensors = std::exchange(tensors_, {});
    const FusedInputs inputs(control_);
    kernels::fused_adam(control_.weight.device())(tensors.data(),
                                                  static_cast<int64_t>(tensors.size()),
                                                  inputs.get(), control_.grad_factor, params_);
    release();
  }

 private:
  kernels::FusedAdamParams params_;
  std::vector<kernels::FusedAdamTensor> tensors_;
};

// One fused kernel (kernels/amp_kernels.h) on the parameter's device: the update, the moments
// and the rounded parameter copy in a single pass; queued in u.batch when the step gave one.
// In a device-gated step the kernel tests the flag and takes its step number as u.gated_step
// plus the run's device count of applied steps.
void adam_fused(ParamUpdate& u, int64_t step, const AdamHyper& h, Tensor& m, Tensor& v,
                Tensor* vmax) {
  kernels::FusedAdamParams p;
  p.lr = h.lr, p.beta1 = h.beta1, p.beta2 = h.beta2, p.eps = h.eps;
  p.weight_decay = h.weight_decay, p.amsgrad = h.amsgrad, p.decoupled = h.decoupled;
  p.step = step;
  const Tensor* out = fused_param_out(u);
  u.param_written = out != nullptr || u.weight.is_same(u.param);
  queue_fused_call<AdamBatch>(u, p, m, v, static_cast<const Tensor*>(vmax), out);
}

}  // namespace

void adam_update(ParamUpdate& u, ParamState& state, const AdamHyper& h) {
  Tensor& m = state_buffer(state, "exp_avg", u);
  Tensor& v = state_buffer(state, "exp_avg_sq", u);
  Tensor* vmax = h.amsgrad ? &state_buffer(state, "max_exp_avg_sq", u) : nullptr;
  if (use_fused_kernel(u)) {
    adam_fused(u, u.found_inf != nullptr ? u.gated_step : state.step, h, m, v, vmax);
  } else if (u.found_inf != nullptr) {
    HG_FAIL("Adam: a device-gated step needs the fused kernel, got ", describe(u.weight));
  } else if (!u.cpu_loops) {
    adam_tensors(u, state.step, h, m, v, vmax);
  } else if (u.compute == kFloat64) {
    adam_loop<double>(u, state.step, h, m.data<double>(), v.data<double>(),
                      vmax ? vmax->data<double>() : nullptr);
  } else {
    adam_loop<float>(u, state.step, h, m.data<float>(), v.data<float>(),
                     vmax ? vmax->data<float>() : nullptr);
  }
}

}  // namespace detail

// ---- Adam ----

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Optimizer("Adam", std::move(groups), defaults.clone()) {}

void Adam::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdamOptions&>(options);
  detail::adam_update(u, state,
                      {o.lr(), o.betas()[0], o.betas()[1], o.eps(), o.weight_decay(), o.amsgrad(),
                       /*decoupled=*/false});
}

}  // namespace hg::optim
