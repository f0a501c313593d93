#pragma once
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "halfgrad/nn/module.h"

namespace hg::nn {

// Runs its modules in order; children are named "0", "1", ... like PyTorch. A BatchNorm1d/2d
// directly followed by a ReLU runs as one fused op (BatchNorm::forward_relu; the same bits).
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  // std::make_shared<nn::Sequential>(conv, relu, pool): modules of any types, in order
  template <typename... M>
  requires(sizeof...(M) > 0 &&
           (std::is_base_of_v<Module, M> && ...)) explicit Sequential(std::shared_ptr<M>... modules)
      : Sequential() {
    (push_back(std::move(modules)), ...);
  }
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(size_++), std::move(module));
  }
  Tensor forward(const Tensor& x) override;
  int64_t size() const { return size_; }
  // The index-th module; negative indices count from the end (net[-1] is the last).
  std::shared_ptr<Module> operator[](int64_t index) const;

 private:
  int64_t size_ = 0;
};

}  // namespace hg::nn
