#include "nn/batch_norm2d.h"

#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/factories.h"

namespace hg::nn {

BatchNorm2d::BatchNorm2d(const BatchNormOptions& opts) : Module("BatchNorm2d"), options(opts) {
  if (opts.affine_) {
    weight = register_parameter("weight", ones({opts.num_features}));
    bias = register_parameter("bias", zeros({opts.num_features}));
  }
  running_mean = register_buffer("running_mean", zeros({opts.num_features}));
  running_var = register_buffer("running_var", ones({opts.num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  HG_CHECK(x.dim() == 4, "BatchNorm2d: expected input [N, C, H, W], got ", hg::describe(x));
  if (is_training()) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(ones({}, num_batches_tracked.options()));  // on its device
  }
  return batch_norm(x, running_mean, running_var, weight, bias, is_training(), options.momentum_,
                    options.eps_);
}

// BatchNorm keeps fp32 parameters and statistics when the model goes to 16 bits (amp O2, and
// O3 here too: the kernels need wide statistics); fp64 (gradient checks) converts them.
void BatchNorm2d::to(DType dtype) {
  if (dtype == kFloat64) Module::to(dtype);
}

std::string BatchNorm2d::describe() const {
  std::ostringstream out;
  out << "BatchNorm2d(" << options.num_features << ", eps=" << options.eps_
      << ", momentum=" << options.momentum_ << ", affine=" << (options.affine_ ? "true" : "false")
      << ")";
  return out.str();
}

}  // namespace hg::nn
