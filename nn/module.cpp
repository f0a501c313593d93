#include "halfgrad/nn/module.h"

#include <set>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/error.h"

namespace hg::nn {

namespace {

void check_name(const std::string& name, const std::string& owner, const char* what) {
  HG_CHECK(!name.empty() && name.find('.') == std::string::npos, owner, ": invalid ", what,
           " name \"", name, "\" (non-empty, no dots)");
}

template <typename Entry>
bool has_name(const std::vector<std::pair<std::string, Entry>>& entries, const std::string& name) {
  for (const auto& [n, e] : entries)
    if (n == name) return true;
  return false;
}

}  // namespace

// One namespace for parameters, buffers and children, as PyTorch's attributes: a parameter and
// a buffer of one name would share a state_dict key, and one of them would be lost.
void Module::check_unique(const std::string& name) const {
  const char* taken = has_name(parameters_, name) ? "a parameter"
                      : has_name(buffers_, name)  ? "a buffer"
                      : has_name(children_, name) ? "a module"
                                                  : nullptr;
  HG_CHECK(taken == nullptr, type_name_, ": \"", name, "\" is already registered (as ", taken, ")");
}

Tensor Module::forward(const Tensor&) {
  HG_FAIL(type_name_, ": this module has no unary forward(Tensor)");
}

Tensor& Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_name(name, type_name_, "parameter");
  check_unique(name);
  HG_CHECK(tensor.defined(), type_name_, ": parameter \"", name, "\" is undefined");
  if (requires_grad) tensor.requires_grad_(true);
  parameters_.emplace_back(name, std::move(tensor));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor tensor) {
  check_name(name, type_name_, "buffer");
  check_unique(name);
  HG_CHECK(tensor.defined(), type_name_, ": buffer \"", name, "\" is undefined");
  buffers_.emplace_back(name, std::move(tensor));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, type_name_, "module");
  check_unique(name);
  HG_CHECK(module != nullptr, type_name_, ": module \"", name, "\" is null");
  // A module inside itself would make every walk over the tree (state_dict, to, train) endless.
  bool cycle = module.get() == this;
  for (const auto& [n, m] : module->named_modules()) cycle = cycle || m.get() == this;
  HG_CHECK(!cycle, type_name_, ": module \"", name, "\" (", module->type_name(),
           ") contains this module; a module cannot be registered inside itself");
  children_.emplace_back(name, std::move(module));
}

Tensor& Module::parameter(const std::string& name) {
  for (auto& [n, t] : parameters_)
    if (n == name) return t;
  HG_FAIL(type_name_, ": no parameter \"", name, "\"");
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  HG_FAIL(type_name_, ": no buffer \"", name, "\"");
}

void Module::collect(NamedTensors& out, const std::string& prefix, bool parameters) const {
  for (const auto& [n, t] : parameters ? parameters_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [child_name, child] : children_)
    child->collect(out, prefix + child_name + ".", parameters);
}

namespace {

// The first entry of each tensor (by TensorImpl: a tied weight is one tensor).
NamedTensors without_duplicates(NamedTensors all) {
  std::set<const TensorImpl*> seen;
  NamedTensors out;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) out.push_back(std::move(entry));
  return out;
}

}  // namespace

NamedTensors Module::named(bool parameters, bool recurse, bool remove_duplicate) const {
  NamedTensors out;
  if (recurse)
    collect(out, "", parameters);
  else
    out = parameters ? parameters_ : buffers_;
  return remove_duplicate ? without_duplicates(std::move(out)) : out;
}

NamedTensors Module::named_parameters(bool recurse, bool remove_duplicate) const {
  return named(true, recurse, remove_duplicate);
}

NamedTensors Module::named_buffers(bool recurse, bool remove_duplicate) const {
  return named(false, recurse, remove_duplicate);
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, child] : children_) out.push_back(child);
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (const auto& [name, module] : named_modules()) fn(*module);
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::set<const Module*> seen;
  for (const auto& [name, child] : children_) {
    if (seen.insert(child.get()).second) out.emplace_back(name, child);
    for (auto& [n, m] : child->named_modules())
      if (seen.insert(m.get()).second) out.emplace_back(name + "." + n, m);
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, child] : children_) child->train(on);
}

void assign_in_place(const Tensor& t, const Tensor& value) {
  HG_CHECK(t.sizes() == value.sizes(), "assign_in_place: ", describe(t), " vs ", describe(value));
  const Tensor fresh = value.contiguous().detach();
  TensorImpl& impl = *t.impl();
  impl.storage = fresh.storage();
  impl.sizes = fresh.sizes();
  impl.strides = fresh.strides();
  impl.offset = fresh.storage_offset();
  impl.dtype = fresh.dtype();
  // the gradient follows the value's dtype and device, as PyTorch's Module.to converts .grad
  Tensor& grad = impl.autograd.grad;
  if (grad.defined() && (grad.dtype() != fresh.dtype() || grad.device() != fresh.device()))
    grad = grad.to(fresh.device()).to(fresh.dtype());
}

void Module::to(DType dtype) {
  HG_CHECK(is_floating(dtype), type_name_, ".to: expected a floating dtype, got ",
           dtype_name(dtype));
  NoGradGuard no_grad;
  for (auto& [n, t] : parameters_)
    if (t.is_floating_point() && t.dtype() != dtype) assign_in_place(t, t.to(dtype));
  for (auto& [n, t] : buffers_)
    if (t.is_floating_point() && t.dtype() != dtype) assign_in_place(t, t.to(dtype));
  for (auto& [n, child] : children_) child->to(dtype);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto* list : {&parameters_, &buffers_})
    for (auto& [n, t] : *list)
      if (t.device() != device) assign_in_place(t, t.to(device));
  for (auto& [n, child] : children_) child->to(device);
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none)
      p.set_grad(Tensor());
    else
      p.grad().zero_();
  }
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters(true, false)) out[n] = t;
  for (auto& [n, t] : named_buffers(true, false)) out[n] = t;
  return out;
}

void Module::print(std::ostream& out, int indent) const {
  out << describe();
  if (children_.empty()) return;
  out << " {\n";
  for (const auto& [name, child] : children_) {
    out << std::string(indent + 2, ' ') << '(' << name << "): ";
    child->print(out, indent + 2);
    out << '\n';
  }
  out << std::string(indent, ' ') << '}';
}

std::ostream& operator<<(std::ostream& out, const Module& module) {
  module.print(out);
  return out;
}

}  // namespace hg::nn
