#include "halfgrad/nn/batch_norm.h"

#include <algorithm>
#include <sstream>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::nn {

BatchNorm::BatchNorm(const BatchNormOptions& opts, const std::string& type_name,
                     std::vector<int64_t> ranks, std::string input_form)
    : Module(type_name),
      options(opts),
      ranks_(std::move(ranks)),
      input_form_(std::move(input_form)) {
  if (opts.affine_) {
    weight = register_parameter("weight", ones({opts.num_features}));
    bias = register_parameter("bias", zeros({opts.num_features}));
  }
  running_mean = register_buffer("running_mean", zeros({opts.num_features}));
  running_var = register_buffer("running_var", ones({opts.num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
}

Tensor BatchNorm::forward(const Tensor& x) { return run(x, false); }
Tensor BatchNorm::forward_relu(const Tensor& x) { return run(x, true); }

Tensor BatchNorm::run(const Tensor& x, bool relu) {
  HG_CHECK(std::find(ranks_.begin(), ranks_.end(), x.dim()) != ranks_.end(), type_name(),
           ": expected input ", input_form_, ", got ", hg::describe(x));
  // num_batches_tracked counts in the running statistics' kernel (no launches of its own)
  return detail::batch_norm_counted(x, running_mean, running_var, weight, bias, is_training(),
                                    options.momentum_, options.eps_, relu, num_batches_tracked);
}

// BatchNorm keeps fp32 parameters and statistics when the model goes to 16 bits (amp O2, and
// O3 here too: the kernels need wide statistics); fp64 (gradient checks) converts them.
// fp64 follows the model (gradient checks); any other dtype leaves the statistics and affine
// parameters in fp32, so a model sent to fp64 and back to fp32 or 16 bits runs again.
void BatchNorm::to(DType dtype) { Module::to(dtype == kFloat64 ? kFloat64 : kFloat32); }

std::string BatchNorm::describe() const {
  std::ostringstream out;
  out << type_name() << "(" << options.num_features << ", eps=" << options.eps_
      << ", momentum=" << options.momentum_ << ", affine=" << (options.affine_ ? "true" : "false")
      << ")";
  return out.str();
}

}  // namespace hg::nn
