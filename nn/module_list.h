#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "halfgrad/nn/module.h"

namespace hg::nn {

// Modules in order, registered as the children "0", "1", ... (PyTorch's nn.ModuleList), so that
// parameters(), to(), train()/eval(), zero_grad() and state dicts reach them. A ModuleList has no
// forward of its own: the module that owns one decides how its layers are called. (Sequential,
// a ModuleList too, calls them one after the other.)
//
//   auto blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
//   for (int i = 0; i < depth; ++i) blocks->push_back(std::make_shared<nn::Linear>(64, 64));
//   for (const auto& block : *blocks) x = x + relu(block->forward(x));
class ModuleList : public Module {
 public:
  ModuleList() : ModuleList("ModuleList") {}
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);
  // std::make_shared<nn::ModuleList>(a, b, c): modules of any types, in order
  template <typename... M>
  requires(sizeof...(M) > 0 &&
           (std::is_base_of_v<Module, M> && ...)) explicit ModuleList(std::shared_ptr<M>... modules)
      : ModuleList() {
    (push_back(std::move(modules)), ...);
  }

  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  int64_t size() const { return static_cast<int64_t>(modules_.size()); }
  bool empty() const { return modules_.empty(); }
  // The index-th module; negative indices count from the end (list[-1] is the last).
  std::shared_ptr<Module> operator[](int64_t index) const;
  // The index-th module as the layer type it is (list.at<nn::Linear>(0)->weight); an hg::Error
  // names the module when it is of another type.
  template <typename M>
  std::shared_ptr<M> at(int64_t index) const {
    std::shared_ptr<Module> module = (*this)[index];
    std::shared_ptr<M> typed = std::dynamic_pointer_cast<M>(module);
    if (typed == nullptr) fail_cast(index, *module);
    return typed;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 protected:
  // For subclasses (Sequential): their own name in messages and printouts.
  explicit ModuleList(std::string type_name) : Module(std::move(type_name)) {}

 private:
  [[noreturn]] void fail_cast(int64_t index, const Module& module) const;

  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace hg::nn
