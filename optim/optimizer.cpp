#include "halfgrad/optim/optimizer.h"

#include <cmath>
#include <set>
#include <typeinfo>
#include <utility>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/optim/fused_batch.h"

namespace hg::optim {

void detail::check_option(bool ok, const std::string& optimizer, const char* option, double value,
                          const char* requirement) {
  HG_CHECK(ok, optimizer, ": invalid ", option, ": ", value, " (", requirement, ")");
}

// ---- construction and groups ----

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups,
                     std::unique_ptr<OptimizerOptions> defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {
  defaults_->validate(name_);
  size_t count = 0;
  for (const auto& g : groups) count += g.params.size();
  HG_CHECK(count > 0, name_, ": got an empty parameter list");
  for (const auto& g : groups) add_param_group(g);
}

void Optimizer::add_param_group(const ParamGroup& group) {
  const std::string who = name() + ".add_param_group";
  ParamGroup added = group;
  if (!added.options) added.options = defaults_->clone();
  const OptimizerOptions& o = *added.options;
  HG_CHECK(typeid(o) == typeid(*defaults_), who,
           ": the group's options belong to another optimizer than ", name());
  added.options->validate(name());
  std::set<const TensorImpl*> seen, in_this_group;
  for (const auto& g : groups_) {
    for (const auto& p : g.params) seen.insert(p.impl());
  }
  for (size_t i = 0; i < added.params.size(); ++i) {
    const Tensor& p = added.params[i];
    HG_CHECK(p.defined(), who, ": parameter ", i, " is an undefined tensor");
    HG_CHECK(p.is_floating_point(), who, ": parameter ", i, " is ", describe(p),
             "; only floating-point tensors can be optimized");
    HG_CHECK(p.is_leaf(), who, ": parameter ", i, " ", describe(p),
             " is not a leaf (use detach() to make one)");
    HG_CHECK(in_this_group.insert(p.impl()).second, who, ": parameter ", i, " ", describe(p),
             " appears twice in this parameter group");
    HG_CHECK(seen.insert(p.impl()).second, who, ": parameter ", i, " ", describe(p),
             " appears in more than one parameter group");
  }
  groups_.push_back(std::move(added));
  if (master_weights_) sync_masters();
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (const auto& g : groups_) all.insert(all.end(), g.params.begin(), g.params.end());
  return all;
}

const ParamState* Optimizer::state(const Tensor& param) const {
  settle_gated_steps(/*keep_current_run=*/true);
  auto it = state_.find(param.impl());
  return it == state_.end() ? nullptr : &it->second;
}

// ---- master weights ----

bool Optimizer::wants_master(const Tensor& param) const {
  return master_weights_ && is_low_precision(param.dtype());
}

void Optimizer::mark_synced(const Tensor& param, ParamState& st) const {
  st.synced_storage = param.storage()->id();
  st.synced_version = param.version();
}

// Seeds a master for every 16-bit parameter without one or modified outside the optimizer,
// and drops masters that are not wanted (master weights off, or the parameter is no longer
// 16-bit).
void Optimizer::sync_masters() {
  NoGradGuard no_grad;
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      if (!wants_master(p)) {
        auto it = state_.find(p.impl());
        if (it != state_.end()) it->second.master = Tensor();
        continue;
      }
      ParamState& st = state_[p.impl()];
      const bool stale = !st.master.defined() || st.master.sizes() != p.sizes() ||
                         st.synced_storage != p.storage()->id() || st.synced_version != p.version();
      if (stale) {
        st.master = p.detach().to(kFloat32);  // a copy: p is 16-bit
        mark_synced(p, st);
      }
    }
  }
}

void Optimizer::mark_masters_synced() {
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      auto it = state_.find(p.impl());
      if (it != state_.end() && it->second.master.defined()) mark_synced(p, it->second);
    }
  }
}

void Optimizer::set_master_weights(bool enabled) {
  master_weights_ = enabled;
  if (enabled) {  // reseed every master from its parameter as it is now
    for (auto& [impl, st] : state_) st.synced_storage = 0;
  }
  sync_masters();
}

Tensor Optimizer::master_weight(const Tensor& param) const {
  auto it = state_.find(param.impl());  // a master never waits for pending gated steps
  return it == state_.end() ? Tensor() : it->second.master;
}

// ---- the step ----

void Optimizer::step() { step_scaled(1.0); }

// Every gradient is checked before any parameter changes: a step either happens or not.
void Optimizer::check_step_inputs() const {
  for (const auto& group : groups_) group.options->validate(name());
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      const Tensor g = p.grad();
      HG_CHECK(!g.defined() || (g.sizes() == p.sizes() && g.is_floating_point()), name(),
               ".step: gradient ", describe(g), " does not match parameter ", describe(p));
    }
  }
}

void Optimizer::step_scaled(double grad_scale) {
  HG_CHECK(std::isfinite(grad_scale) && grad_scale > 0.0, name(),
           ".step_scaled: invalid grad_scale: ", grad_scale, " (must be finite and > 0)");
  NoGradGuard no_grad;
  check_step_inputs();
  // On CUDA a plain step is a device-gated one whose flag is never set: counted on the device,
  // with no readback, so a cuda::Graph replay of it counts too (optim/gated_step.cpp).
  const Tensor* never_set = grad_scale == 1.0 ? never_set_flag() : nullptr;
  if (never_set != nullptr && can_gate_on_device(*never_set)) {
    step_gated_on_device(*never_set);
    return;
  }
  HG_CHECK(!cuda::is_capturing(), name(),
           ".step inside cuda::Graph::capture: this step is decided on the host (a loss scale "
           "divided on the host, lost-update counting, or parameters the fused kernels do not "
           "take), so its step counts would stay those of the capture at every replay");
  settle_gated_steps();  // an update may read ParamState::step (Adam's bias corrections)
  if (master_weights_) sync_masters();
  if (count_lost_) last_lost_ = {};
  for (auto& group : groups_) {
    detail::step_group(group, [&](const Tensor& p, std::unique_ptr<detail::FusedBatch>* batch) {
      if (count_lost_ && is_low_precision(p.dtype())) {
        step_param_counting(p, group, 1.0 / grad_scale);
      } else {
        step_param(p, group, 1.0 / grad_scale, nullptr, batch);
      }
    });
  }
  if (count_lost_) total_lost_ += last_lost_;
  // Recorded after all the write-backs, so parameters sharing a storage (views of one flat
  // buffer) do not see each other's write-back as an outside change.
  if (master_weights_) mark_masters_synced();
  ++steps_taken_;
  ++steps_issued_;
}

detail::ParamUpdate Optimizer::prepare(const Tensor& param, ParamState& st,
                                       double grad_factor) const {
  detail::ParamUpdate u;
  u.param = param;
  u.grad_factor = grad_factor;
  u.compute = param.dtype() == kFloat64 ? kFloat64 : kFloat32;
  u.cpu_loops = cpu_loops_ && param.device().is_cpu();
  Tensor g = param.grad();
  HG_CHECK(g.sizes() == param.sizes() && g.is_floating_point(), name(), ".step: gradient ",
           describe(g), " does not match parameter ", describe(param));
  const bool readable = u.compute == kFloat64 ? g.dtype() == kFloat64 : g.dtype() != kFloat64;
  if (!readable) g = g.to(u.compute);
  u.grad = g.contiguous();
  if (st.master.defined()) {
    u.weight = st.master;
  } else {
    u.weight = (u.cpu_loops && !param.is_contiguous()) ? param.contiguous() : param;
  }
  return u;
}

void Optimizer::step_param(const Tensor& param, ParamGroup& group, double grad_factor,
                           DeviceGate* gate, std::unique_ptr<detail::FusedBatch>* batch) {
  ParamState& st = state_[param.impl()];
  detail::ParamUpdate u = prepare(param, st, grad_factor);
  u.batch = batch;
  if (gate != nullptr) {  // a gated step is counted when settled
    u.found_inf = gate->found_inf;
    u.applied_before = gate->applied_before;
    u.gated_step = st.step - gate->folded + 1;  // the step number at the run's start
    u.count_applied = std::exchange(gate->count_applied, nullptr);
  } else {
    ++st.step;
  }
  if (detail::use_fused_kernel(u)) u.lr_tensor = &group.lr_tensor_on(u.weight.device(), name());
  update(u, st, *group.options);
  if (u.param_written) {
    param.storage()->bump_version();  // the fused kernel wrote it in the same pass
  } else if (st.master.defined()) {
    param.detach().copy_(st.master);  // round (RNE) the fp32 master into the 16-bit parameter
  } else if (!u.weight.is_same(param)) {
    param.detach().copy_(u.weight);  // a staging copy of a non-contiguous parameter
  } else if (u.cpu_loops) {
    param.storage()->bump_version();  // written in place through raw pointers
  }
}

bool detail::use_fused_kernel(const ParamUpdate& u) {
  const bool device_takes_it = u.param.device().is_cuda() || u.found_inf != nullptr;
  return device_takes_it && u.weight.is_contiguous() && u.grad.is_contiguous();
}

const Tensor* detail::fused_param_out(const ParamUpdate& u) {
  return !u.weight.is_same(u.param) && u.param.is_contiguous() ? &u.param : nullptr;
}

Tensor detail::read_grad(const ParamUpdate& u) {
  const Tensor g = u.grad.to(u.compute);
  return u.grad_factor == 1.0 ? g : g * u.grad_factor;
}

Tensor& detail::state_buffer(ParamState& st, const std::string& key, const ParamUpdate& u,
                             double initial) {
  auto it = st.buffers.find(key);
  if (it == st.buffers.end()) {
    const TensorOptions options = TensorOptions(u.compute).device(u.param.device());
    it = st.buffers.emplace(key, full(u.param.sizes(), initial, options)).first;
  } else if (it->second.dtype() != u.compute || it->second.device() != u.param.device()) {
    it->second = it->second.to(u.param.device()).to(u.compute);  // the parameter moved (Module::to)
  }
  return it->second;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        grad.zero_();
      }
    }
  }
}

// ---- state_dict ----

OptimizerStateDict Optimizer::state_dict() const {
  NoGradGuard no_grad;
  settle_gated_steps(/*keep_current_run=*/true);
  OptimizerStateDict dict;
  dict.scalars["master_weights"] = master_weights_ ? 1.0 : 0.0;
  dict.scalars["steps_taken"] = static_cast<double>(steps_taken_);  // settled above
  size_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string group_key = "param_groups." + std::to_string(g) + ".";
    for (const auto& [option, value] : groups_[g].options->scalars()) {
      dict.scalars[group_key + option] = value;
    }
    dict.scalars[group_key + "num_params"] = static_cast<double>(groups_[g].params.size());
    for (const auto& p : groups_[g].params) {
      const std::string key = "state." + std::to_string(index++) + ".";
      const auto found = state_.find(p.impl());  // settled above: no readback per parameter
      if (found == state_.end()) continue;
      const ParamState* st = &found->second;
      dict.scalars[key + "step"] = static_cast<double>(st->step);
      for (const auto& [buffer_name, t] : st->buffers) dict.tensors[key + buffer_name] = t.clone();
      if (st->master.defined()) dict.tensors[key + "master"] = st->master.clone();
    }
  }
  return dict;
}

namespace {
double scalar_at(const OptimizerStateDict& dict, const std::string& key, const std::string& who) {
  auto it = dict.scalars.find(key);
  HG_CHECK(it != dict.scalars.end(), who, ": the state dict has no \"", key,
           "\" (a state dict of another kind of optimizer, or of another group layout?)");
  return it->second;
}
}  // namespace

// Reads group g and its parameters' state from dict into `loaded`; changes nothing else, so
// a failing load leaves the optimizer as it was.
std::unique_ptr<OptimizerOptions> Optimizer::load_group(size_t g, size_t& index,
                                                        const OptimizerStateDict& dict,
                                                        StateMap& loaded) const {
  const std::string who = name() + ".load_state_dict";
  const std::string group_key = "param_groups." + std::to_string(g) + ".";
  const auto& params = groups_[g].params;
  const double count = scalar_at(dict, group_key + "num_params", who);
  HG_CHECK(count == static_cast<double>(params.size()), who, ": group ", g, " has ", params.size(),
           " parameters, the state dict ", count);
  auto options = groups_[g].options->clone();
  for (const auto& [option, value] : options->scalars()) {
    options->set_scalar(option, scalar_at(dict, group_key + option, who));
  }
  try {
    options->validate(name());
  } catch (const Error& e) {
    HG_FAIL(who, ": group ", g, " of the state dict: ", e.what());
  }
  for (const auto& p : params) {
    const std::string key = "state." + std::to_string(index++) + ".";
    auto step = dict.scalars.find(key + "step");
    if (step == dict.scalars.end()) continue;
    ParamState& st = loaded[p.impl()];
    HG_CHECK(step->second >= 0 && step->second <= 9007199254740992.0 &&
                 step->second == std::floor(step->second),
             who, ": \"", key, "step\" is ", step->second,
             ", expected a whole number in [0, 2^53]");
    st.step = static_cast<int64_t>(step->second);
    const DType compute = p.dtype() == kFloat64 ? kFloat64 : kFloat32;
    for (auto it = dict.tensors.lower_bound(key);
         it != dict.tensors.end() && it->first.compare(0, key.size(), key) == 0; ++it) {
      HG_CHECK(it->second.sizes() == p.sizes(), who, ": \"", it->first, "\" is ",
               describe(it->second), " but the parameter is ", describe(p));
      const std::string buffer_name = it->first.substr(key.size());
      Tensor copy = it->second.to(p.device()).to(buffer_name == "master" ? kFloat32 : compute);
      copy = copy.is_same(it->second) ? copy.clone() : copy.contiguous();
      (buffer_name == "master" ? st.master : st.buffers[buffer_name]) = copy;
    }
    if (st.master.defined()) mark_synced(p, st);
  }
  return options;
}

void Optimizer::load_state_dict(const OptimizerStateDict& dict) {
  NoGradGuard no_grad;
  const std::string who = name() + ".load_state_dict";
  const bool masters = scalar_at(dict, "master_weights", who) != 0.0;
  HG_CHECK(masters == master_weights_, who, ": the state dict was saved with master weights ",
           masters ? "on" : "off", " but this optimizer has them ", master_weights_ ? "on" : "off",
           " (call set_master_weights first)");
  size_t groups = 0;
  while (dict.scalars.count("param_groups." + std::to_string(groups) + ".num_params")) ++groups;
  HG_CHECK(groups == groups_.size(), who, ": the optimizer has ", groups_.size(),
           " parameter groups, the state dict ", groups);
  const auto taken = dict.scalars.find("steps_taken");  // absent from older state dicts
  HG_CHECK(
      taken == dict.scalars.end() || (taken->second >= 0 && taken->second <= 9007199254740992.0 &&
                                      taken->second == std::floor(taken->second)),
      who, ": \"steps_taken\" is ", taken == dict.scalars.end() ? 0.0 : taken->second,
      ", expected a whole number in [0, 2^53]");
  settle_gated_steps();  // the pending steps count before the state is replaced
  StateMap loaded;
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  size_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) options.push_back(load_group(g, index, dict, loaded));
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = std::move(options[g]);
  state_ = std::move(loaded);
  if (taken != dict.scalars.end()) steps_taken_ = static_cast<int64_t>(taken->second);
  if (master_weights_) sync_masters();  // seeds the masters the dict lacks
  for (auto& group : groups_)           // the lr a graph's next replay reads
    if (group.lr_tensor_.defined()) group.write_lr_tensor(group.lr(), "load_state_dict");
}

}  // namespace hg::optim
