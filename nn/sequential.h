#pragma once
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "halfgrad/nn/module_list.h"

namespace hg::nn {

// Runs its modules in order; children are named "0", "1", ... like PyTorch. push_back, size,
// net[i] (net[-1] is the last), net.at<nn::Linear>(i) and iteration come from ModuleList. A
// BatchNorm1d/2d directly followed by a ReLU runs as one fused op (BatchNorm::forward_relu; the
// same bits).
class Sequential : public ModuleList {
 public:
  Sequential() : ModuleList("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  // std::make_shared<nn::Sequential>(conv, relu, pool): modules of any types, in order
  template <typename... M>
  requires(sizeof...(M) > 0 &&
           (std::is_base_of_v<Module, M> && ...)) explicit Sequential(std::shared_ptr<M>... modules)
      : Sequential() {
    (push_back(std::move(modules)), ...);
  }
  Tensor forward(const Tensor& x) override;
  // Modules [begin, end) only (forward is forward_range(x, 0, size())).
  Tensor forward_range(const Tensor& x, int64_t begin, int64_t end);
};

// torch.utils.checkpoint.checkpoint_sequential: the modules in `segments` consecutive groups of
// (nearly) equal size; every group but the last runs under autograd::checkpoint
// (autograd/activation_checkpoint.h), so only the groups' boundaries stay in memory until the
// backward reruns each group. The rerun puts the group's buffers back as the first run left them,
// so a BatchNorm's running statistics take each batch once (torch's updates them twice).
Tensor checkpoint_sequential(const std::shared_ptr<Sequential>& net, int64_t segments,
                             const Tensor& input, bool preserve_rng_state = true);

}  // namespace hg::nn
