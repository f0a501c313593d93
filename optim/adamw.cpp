#include "halfgrad/optim/adamw.h"

#include <utility>

namespace hg::optim {

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : AdamW(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Optimizer("AdamW", std::move(groups), defaults.clone()) {}

void AdamW::update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdamWOptions&>(options);
  detail::adam_update(u, state,
                      {o.lr(), o.betas()[0], o.betas()[1], o.eps(), o.weight_decay(), o.amsgrad(),
                       /*decoupled=*/true});
}

}  // namespace hg::optim
