#include "halfgrad/optim/sgd.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "halfgrad/optim/cpu_update.h"
#include "halfgrad/optim/fused_batch.h"
#include "halfgrad/optim/fused_inputs.h"

namespace hg::optim {

// ---- options ----

std::unique_ptr<OptimizerOptions> SGDOptions::clone() const {
  return std::make_unique<SGDOptions>(*this);
}

std::vector<std::pair<std::string, double>> SGDOptions::scalars() const {
  return {{"lr", lr_},
          {"momentum", momentum_},
          {"dampening", dampening_},
          {"nesterov", nesterov_ ? 1.0 : 0.0},
          {"weight_decay", weight_decay_}};
}

void SGDOptions::set_scalar(const std::string& name, double value) {
  if (name == "lr") {
    lr_ = value;
  } else if (name == "momentum") {
    momentum_ = value;
  } else if (name == "dampening") {
    dampening_ = value;
  } else if (name == "nesterov") {
    nesterov_ = value != 0.0;
  } else if (name == "weight_decay") {
    weight_decay_ = value;
  } else {
    HG_FAIL("SGDOptions: no option named \"", name, "\"");
  }
}

void SGDOptions::validate(const std::string& optimizer) const {
  using detail::check_option;
  check_option(std::isfinite(lr_) && lr_ >= 0.0, optimizer, "lr", lr_, "must be finite and >= 0");
  check_option(std::isfinite(momentum_) && momentum_ >= 0.0, optimizer, "momentum", momentum_,
               "must be finite and >= 0");
  check_option(std::isfinite(dampening_), optimizer, "dampening", dampening_, "must be finite");
  check_option(std::isfinite(weight_decay_) && weight_decay_ >= 0.0, optimizer, "weight_decay",
               weight_decay_, "must be finite and >= 0");
  HG_CHECK(!nesterov_ || (momentum_ > 0.0 && dampening_ == 0.0), optimizer,
           ": nesterov momentum requires momentum > 0 and dampening == 0, got momentum ", momentum_,
           " and dampening ", dampening_);
}

// ---- the update ----

namespace {

struct SGDHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

template <typename C>
void sgd_loop(const detail::ParamUpdate& u, C* buf, bool first, const SGDHyper& h) {
  const C neg_lr = static_cast<C>(-h.lr);
  const C wd = static_cast<C>(h.weight_decay);
  const C momentum = static_cast<C>(h.momentum);
  const C keep = static_cast<C>(1.0 - h.dampening);
  const bool decay = h.weight_decay != 0.0;
  const bool nesterov = h.nesterov;
  detail::for_each_element<C>(u, [=](int64_t i, C w, C g) {
    C d = decay ? g + wd * w : g;
    if (buf != nullptr) {
      const C b = first ? d : momentum * buf[i] + keep * d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    return w + neg_lr * d;
  });
}

// The same math from tensor ops, for any device.
void sgd_tensors(const detail::ParamUpdate& u, Tensor* buf, bool first, const SGDHyper& h) {
  const Tensor w = u.weight.to(u.compute);
  Tensor d = detail::read_grad(u);
  if (h.weight_decay != 0.0) d = d + w * h.weight_decay;
  if (buf != nullptr) {
    const Tensor b = first ? d : *buf * h.momentum + d * (1.0 - h.dampening);
    buf->copy_(b);
    d = h.nesterov ? d + b * h.momentum : b;
  }
  Tensor target = u.weight;  // (a handle: copy_ writes u.weight)
  target.copy_(w + d * -h.lr);
}

kernels::FusedSgdParams fused_params(const SGDHyper& h) {
  kernels::FusedSgdParams p;
  p.lr = h.lr, p.momentum = h.momentum, p.dampening = h.dampening;
  p.weight_decay = h.weight_decay, p.nesterov = h.nesterov;
  return p;
}

// The fused SGD calls of one parameter group, launched as one multi-tensor call.
class SgdBatch final : public detail::FusedCallBatch {
 public:
  SgdBatch(const detail::ParamUpdate& u, const SGDHyper& h)
      : FusedCallBatch(u), params_(fused_params(h)) {}
  // Whether u's call can join: the same device, step inputs, gradient factor and options.
  bool accepts(const detail::ParamUpdate& u, const SGDHyper& h) const {
    const kernels::FusedSgdParams p = fused_params(h);
    return same_inputs(u) && p.lr == params_.lr && p.momentum == params_.momentum &&
           p.dampening == params_.dampening && p.weight_decay == params_.weight_decay &&
           p.nesterov == params_.nesterov;
  }
  void add(const detail::ParamUpdate& u, const Tensor* buf, const Tensor* out, bool first) {
    kernels::FusedSgdTensor t;
    t.weight = kernels::view_of(u.weight);
    t.grad = kernels::view_of(u.grad);
    if (buf != nullptr) t.momentum_buffer = kernels::view_of(*buf);
    if (out != nullptr) t.param_out = kernels::view_of(*out);
    t.first_step = first;
    tensors_.push_back(t);
    keep({u.weight, u.grad, buf ? *buf : Tensor(), out ? *out : Tensor()});
  }
  // Taken out of the batch first: a launch that throws part way (one of several dtype runs) is
  // not repeated by step_group's second launch().
  void launch() override {
    const std::vector<kernels::FusedSgdTensor> tensors = std::exchange(tensors_, {});
    const detail::FusedInputs inputs(control_);
    kernels::fused_sgd(control_.weight.device())(tensors.data(),
                                                 static_cast<int64_t>(tensors.size()), inputs.get(),
                                                 control_.grad_factor, params_);
    release();
  }

 private:
  kernels::FusedSgdParams params_;
  std::vector<kernels::FusedSgdTensor> tensors_;
};

// The fused kernel (kernels/amp_kernels.h) on the parameter's device: the update, the state and
// the rounded parameter copy in a single pass; queued in u.batch when the step gave one.
void sgd_fused(detail::ParamUpdate& u, Tensor* buf, bool first, const SGDHyper& h) {
  const Tensor* out = detail::fused_param_out(u);
  u.param_written = out != nullptr || u.weight.is_same(u.param);
  detail::queue_fused_call<SgdBatch>(u, h, buf, out, first);
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer("SGD", std::move(groups), defaults.clone()) {}

void SGD::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const SGDOptions&>(options);
  const SGDHyper h{o.lr(), o.momentum(), o.dampening(), o.weight_decay(), o.nesterov()};
  Tensor* buf = nullptr;
  bool first = false;
  if (h.momentum != 0.0) {
    first = state.buffers.count("momentum_buffer") == 0;
    buf = &detail::state_buffer(state, "momentum_buffer", u);
  }
  if (detail::use_fused_kernel(u)) {
    sgd_fused(u, buf, first, h);
  } else if (u.found_inf != nullptr) {
    HG_FAIL("SGD: a device-gated step needs the fused kernel, got ", describe(u.weight));
  } else if (!u.cpu_loops) {
    sgd_tensors(u, buf, first, h);
  } else if (u.compute == kFloat64) {
    sgd_loop<double>(u, buf ? buf->data<double>() : nullptr, first, h);
  } else {
    sgd_loop<float>(u, buf ? buf->data<float>() : nullptr, first, h);
  }
}

// A skipped step leaves the momentum buffer as the zeros it was created as, and the next step
// then computes momentum * 0 + (1 - dampening) * d where the host would compute d itself (the
// first step): the same value when dampening == 0 (up to the sign of a zero), not otherwise.
// Nothing else of SGD depends on whether a step happened (it never reads ParamState::step).
bool SGD::skips_exactly_on_device(const ParamState* state, const OptimizerOptions& options) const {
  const auto& o = static_cast<const SGDOptions&>(options);
  if (o.momentum() == 0.0 || o.dampening() == 0.0) return true;
  return state != nullptr && state->buffers.count("momentum_buffer") != 0;
}

bool SGD::update_creates_state(const ParamState& state, const OptimizerOptions& options) const {
  return static_cast<const SGDOptions&>(options).momentum() != 0.0 &&
         state.buffers.count("momentum_buffer") == 0;
}

}  // namespace hg::optim
