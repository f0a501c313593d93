// sqrt without errno lets GCC vectorize the loop (a negative centered variance gives NaN
// either way, as in PyTorch).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-math-errno")
#endif

#include "halfgrad/optim/rmsprop.h"

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

std::unique_ptr<OptimizerOptions> RMSpropOptions::clone() const {
  return std::make_unique<RMSpropOptions>(*this);
}

std::vector<std::pair<std::string, double>> RMSpropOptions::scalars() const {
  return {{"lr", lr_},
          {"alpha", alpha_},
          {"eps", eps_},
          {"weight_decay", weight_decay_},
          {"momentum", momentum_},
          {"centered", centered_ ? 1.0 : 0.0}};
}

void RMSpropOptions::set_scalar(const std::string& name, double value) {
  if (name == "lr") {
    lr_ = value;
  } else if (name == "alpha") {
    alpha_ = value;
  } else if (name == "eps") {
    eps_ = value;
  } else if (name == "weight_decay") {
    weight_decay_ = value;
  } else if (name == "momentum") {
    momentum_ = value;
  } else if (name == "centered") {
    centered_ = value != 0.0;
  } else {
    HG_FAIL("RMSpropOptions: no option named \"", name, "\"");
  }
}

void RMSpropOptions::validate(const std::string& optimizer) const {
  using detail::check_option;
  check_option(std::isfinite(lr_) && lr_ >= 0.0, optimizer, "lr", lr_, "must be finite and >= 0");
  check_option(alpha_ >= 0.0 && alpha_ <= 1.0, optimizer, "alpha", alpha_, "must be in [0, 1]");
  check_option(std::isfinite(eps_) && eps_ >= 0.0, optimizer, "eps", eps_,
               "must be finite and >= 0");
  check_option(std::isfinite(weight_decay_) && weight_decay_ >= 0.0, optimizer, "weight_decay",
               weight_decay_, "must be finite and >= 0");
  check_option(std::isfinite(momentum_) && momentum_ >= 0.0, optimizer, "momentum", momentum_,
               "must be finite and >= 0");
}

// ---- the update ----

namespace {

struct RMSpropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
};

// The state arrays of one parameter; grad_avg and buf are null when not used.
template <typename T>
struct RMSpropState {
  T* square_avg;
  T* grad_avg;
  T* buf;
};

kernels::FusedRmspropParams fused_params(const RMSpropHyper& h) {
  kernels::FusedRmspropParams p;
  p.lr = h.lr, p.alpha = h.alpha, p.eps = h.eps;
  p.weight_decay = h.weight_decay, p.momentum = h.momentum;
  return p;
}

// Each term in PyTorch's order (kernels/amp_math.h's rmsprop_element, which the fused kernels
// share): its addcmul computes self + (value * t1) * t2 and its addcdiv self + (value * t1) / t2,
// so the products and quotients round as in its scalar CPU loop (its vector loop fuses some
// multiply-adds: a last-bit difference on long tensors).
template <typename C>
void rmsprop_loop(const detail::ParamUpdate& u, const RMSpropHyper& h, RMSpropState<C> s) {
  const kernels::amp_math::RmspropScalars<C> scalars =
      kernels::amp_math::rmsprop_scalars<C>(fused_params(h));
  detail::for_each_element<C>(u, [=](int64_t i, C w, C g) {
    return kernels::amp_math::rmsprop_element(w, g, &s.square_avg[i],
                                              s.grad_avg ? &s.grad_avg[i] : nullptr,
                                              s.buf ? &s.buf[i] : nullptr, scalars);
  });
}

// The same math from tensor ops, for any device.
void rmsprop_tensors(const detail::ParamUpdate& u, const RMSpropHyper& h, Tensor& square_avg,
                     Tensor* grad_avg, Tensor* buf) {
  const Tensor w = u.weight.to(u.compute);
  Tensor g = detail::read_grad(u);
  if (h.weight_decay != 0.0) g = g + w * h.weight_decay;
  const Tensor sq = square_avg * h.alpha + g * (1.0 - h.alpha) * g;
  square_avg.copy_(sq);
  Tensor var = sq;
  if (grad_avg != nullptr) {
    const Tensor ga = *grad_avg * h.alpha + g * (1.0 - h.alpha);
    grad_avg->copy_(ga);
    var = sq - ga * ga;
  }
  const Tensor avg = sqrt(var) + h.eps;
  Tensor target = u.weight;  // (a handle: copy_ writes u.weight)
  if (buf == nullptr) {
    target.copy_(w + div(g * -h.lr, avg));
    return;
  }
  const Tensor b = *buf * h.momentum + div(g, avg);
  buf->copy_(b);
  target.copy_(w + b * -h.lr);
}

template <typename C>
RMSpropState<C> rmsprop_arrays(Tensor& square_avg, Tensor* grad_avg, Tensor* buf) {
  return {square_avg.data<C>(), grad_avg ? grad_avg->data<C>() : nullptr,
          buf ? buf->data<C>() : nullptr};
}

// The fused RMSprop calls of one parameter group, launched as one multi-tensor call (whether a
// parameter is centered or has momentum is told by its buffers, so groups differing only there
// could share a call; a group is one call anyway).
class RmspropBatch final : public detail::FusedCallBatch {
 public:
  RmspropBatch(const detail::ParamUpdate& u, const RMSpropHyper& h)
      : FusedCallBatch(u), params_(fused_params(h)) {}
  // Whether u's call can join: the same device, step inputs, gradient factor and options.
  bool accepts(const detail::ParamUpdate& u, const RMSpropHyper& h) const {
    const kernels::FusedRmspropParams p = fused_params(h);
    return same_inputs(u) && p.lr == params_.lr && p.alpha == params_.alpha &&
           p.eps == params_.eps && p.weight_decay == params_.weight_decay &&
           p.momentum == params_.momentum;
  }
  void add(const detail::ParamUpdate& u, const Tensor& square_avg, const Tensor* grad_avg,
           const Tensor* buf, const Tensor* out) {
    kernels::FusedRmspropTensor t;
    t.weight = kernels::view_of(u.weight);
    t.grad = kernels::view_of(u.grad);
    t.square_avg = kernels::view_of(square_avg);
    if (grad_avg != nullptr) t.grad_avg = kernels::view_of(*grad_avg);
    if (buf != nullptr) t.momentum_buffer = kernels::view_of(*buf);
    if (out != nullptr) t.param_out = kernels::view_of(*out);
    tensors_.push_back(t);
    keep({u.weight, u.grad, square_avg, grad_avg ? *grad_avg : Tensor(), buf ? *buf : Tensor(),
          out ? *out : Tensor()});
  }
  // Taken out of the batch first: a launch that throws part way (one of several dtype runs) is
  // not repeated by step_group's second launch().
  void launch() override {
    const std::vector<kernels::FusedRmspropTensor> tensors = std::exchange(tensors_, {});
    const detail::FusedInputs inputs(control_);
    kernels::fused_rmsprop(control_.weight.device())(tensors.data(),
                                                     static_cast<int64_t>(tensors.size()),
                                                     inputs.get(), control_.grad_factor, params_);
    release();
  }

 private:
  kernels::FusedRmspropParams params_;
  std::vector<kernels::FusedRmspropTensor> tensors_;
};

// The fused kernel (kernels/amp_kernels.h) on the parameter's device: the update, the state and
// the rounded parameter copy in a single pass; queued in u.batch when the step gave one.
void rmsprop_fused(detail::ParamUpdate& u, const RMSpropHyper& h, const Tensor& square_avg,
                   const Tensor* grad_avg, const Tensor* buf) {
  const Tensor* out = detail::fused_param_out(u);
  u.param_written = out != nullptr || u.weight.is_same(u.param);
  detail::queue_fused_call<RmspropBatch>(u, h, square_avg, grad_avg, buf, out);
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer("RMSprop", std::move(groups), defaults.clone()) {}

void RMSprop::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  const RMSpropHyper h{o.lr(), o.alpha(), o.eps(), o.weight_decay(), o.momentum(), o.centered()};
  Tensor& square_avg = detail::state_buffer(state, "square_avg", u);
  Tensor* grad_avg = h.centered ? &detail::state_buffer(state, "grad_avg", u) : nullptr;
  Tensor* buf = h.momentum > 0.0 ? &detail::state_buffer(state, "momentum_buffer", u) : nullptr;
  if (detail::use_fused_kernel(u)) {
    rmsprop_fused(u, h, square_avg, grad_avg, buf);
  } else if (u.found_inf != nullptr) {
    HG_FAIL("RMSprop: a device-gated step needs the fused kernel, got ", describe(u.weight));
  } else if (!u.cpu_loops) {  // another device, or the tensor-op path asked for
    rmsprop_tensors(u, h, square_avg, grad_avg, buf);
  } else if (u.compute == kFloat64) {
    rmsprop_loop<double>(u, h, rmsprop_arrays<double>(square_avg, grad_avg, buf));
  } else {
    rmsprop_loop<float>(u, h, rmsprop_arrays<float>(square_avg, grad_avg, buf));
  }
}

// The first update creates the buffers; so does the first one after momentum or centered is
// switched on for a group.
bool RMSprop::update_creates_state(const ParamState& state, const OptimizerOptions& options) const {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  return state.buffers.count("square_avg") == 0 ||
         (o.centered() && state.buffers.count("grad_avg") == 0) ||
         (o.momentum() > 0.0 && state.buffers.count("momentum_buffer") == 0);
}

}  // namespace hg::optim
