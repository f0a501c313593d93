#pragma once
// nn::Module, as in libtorch: a module owns named parameters, buffers and child modules.
// Layers are held as std::shared_ptr (register_module returns the pointer you registered),
// and to(DType)/to(Device) convert parameters in place, so an optimizer built earlier keeps
// pointing at the same tensors.
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The unary forward used by Sequential and operator(); modules with other signatures
  // define their own forward and leave this one throwing.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  Tensor& register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Dotted names: a module's own in registration order, then each child's in the same way, in
  // the children's registration order ("fc.weight", "layer1.0.weight"). A tensor registered
  // under several names (tied weights, a child registered twice) is listed once, under its
  // first name, unless remove_duplicate is false (as in PyTorch), so an optimizer gets each
  // parameter once.
  NamedTensors named_parameters(bool recurse = true, bool remove_duplicate = true) const;
  NamedTensors named_buffers(bool recurse = true, bool remove_duplicate = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }
  // Every descendant by dotted name, depth first; a module reachable twice is listed once.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  std::vector<std::shared_ptr<Module>> children() const;  // the direct ones, in order
  // fn(m) for this module, then for every descendant once, parents before their children, as
  // libtorch's apply: the place for a custom initialisation, e.g.
  //   model->apply([](nn::Module& m) {
  //     if (auto* conv = dynamic_cast<nn::Conv2d*>(&m)) nn::init::kaiming_normal_(conv->weight);
  //   });
  void apply(const std::function<void(Module&)>& fn);

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Converts floating parameters and buffers in place (same Tensor handles); gradients are
  // converted too (as PyTorch's Module.to).
  virtual void to(DType dtype);
  void to(Device device);
  void zero_grad(bool set_to_none = true);

  // Parameters and buffers by dotted name (the safetensors checkpoint content); a tied tensor
  // appears under each of its names, as in PyTorch.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in; names, shapes and dtypes must match (strict: no missing/unexpected keys).
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  const std::string& type_name() const { return type_name_; }
  // One line describing the layer's configuration, e.g. "Linear(in_features=784, out_features=10,
  // bias=true)".
  virtual std::string describe() const { return type_name_ + "()"; }
  void print(std::ostream& out, int indent = 0) const;

 protected:
  Tensor& parameter(const std::string& name);
  Tensor& buffer(const std::string& name);
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  // Throws unless `name` is free among the parameters, buffers and children.
  void check_unique(const std::string& name) const;
  // Appends this module's parameters (or buffers), then its children's, under `prefix`.
  void collect(NamedTensors& out, const std::string& prefix, bool parameters) const;
  // named_parameters (parameters true) or named_buffers.
  NamedTensors named(bool parameters, bool recurse, bool remove_duplicate) const;

  std::string type_name_;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& out, const Module& module);

// Replaces t's contents with `value` (converted, same shape) in place: every Tensor handle of
// t sees the new dtype/device/data, and its .grad is converted the same way. Used by Module::to
// and by amp to keep identity.
void assign_in_place(const Tensor& t, const Tensor& value);

}  // namespace hg::nn
