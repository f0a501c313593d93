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
#include "halfgrad/optim/cpu_update.h"

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
void adagrad_loop(const detail::ParamUpdate& u, double clr, double eps_value, double wd_value,
                  C* sum) {
  const C neg_clr = static_cast<C>(-clr);
  const C eps = static_cast<C>(eps_value), wd = static_cast<C>(wd_value);
  const bool decay = wd_value != 0.0;
  detail::for_each_element<C>(u, [=](int64_t i, C w, C g) {
    if (decay) g = g + wd * w;
    const C s = sum[i] + g * g;
    sum[i] = s;
    return w + neg_clr * g / (std::sqrt(s) + eps);
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

}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : Optimizer("Adagrad", std::move(groups), defaults.clone()) {}

void Adagrad::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdagradOptions&>(options);
  // No fused kernel: skips_exactly_on_device stays false, so Optimizer never gates this on the
  // device (step() and step_unless_found_inf decide on the host, with state.step counted).
  HG_CHECK(u.found_inf == nullptr, "Adagrad: a device-gated step needs the fused kernel, which ",
           "Adagrad does not have; got ", describe(u.weight));
  // PyTorch fills the accumulator when it makes the state (in its constructor)
  Tensor& sum = detail::state_buffer(state, "sum", u, o.initial_accumulator_value());
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
