#include "halfgrad/optim/lambda_lr.h"

#include <cmath>
#include <utility>

#include "halfgrad/core/error.h"

namespace hg::optim {

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lambda)) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas)
    : LRScheduler(optimizer, "LambdaLR"), lambdas_(std::move(lambdas)) {
  HG_CHECK(lambdas_.size() == optimizer.param_groups().size(), name_, ": got ", lambdas_.size(),
           " functions for ", optimizer.param_groups().size(), " parameter groups");
  for (size_t g = 0; g < lambdas_.size(); ++g)
    HG_CHECK(static_cast<bool>(lambdas_[g]), name_, ": the function of group ", g, " is empty");
  initial_step();
}

double LambdaLR::lr_at(int64_t epoch, size_t g, double base_lr) const {
  const double factor = lambdas_[g](epoch);
  HG_CHECK(std::isfinite(factor) && factor >= 0.0, name_, ": the function of group ", g,
           " returned ", factor, " at epoch ", epoch, " (a factor must be finite and >= 0)");
  return base_lr * factor;
}

}  // namespace hg::optim
