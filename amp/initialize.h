#pragma once
// Optimization levels, named after apex's (docs/amp.md: where they differ from apex's):
//   O0  fp32 everything (the reference)
//   O1  autocast: fp32 weights, ops cast per the policy table; loss scaling for fp16
//   O2  16-bit model (BatchNorm stays fp32) + fp32 master weights and optimizer state in the
//       optimizer, which writes rounded values back; autocast still picks fp32 for softmax,
//       losses and reductions (apex's O2 patches no functions); loss scaling for fp16
//   O3  16-bit model without masters (BatchNorm still fp32 and autocast still on, unlike apex's
//       O3): the baseline that shows why masters exist (updates below half an ulp of a weight
//       are lost)
// initialize() is called once per model and optimizer: a model that is not fp32 (already
// initialized, or converted by hand) is refused.
//
//   amp::AmpConfig amp = amp::initialize(*model, opt, amp::OptLevel::O2, hg::kFloat16);
//   { auto region = amp.autocast(); loss = cross_entropy((*model)(x), y); }
#include <memory>
#include <string>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/nn/module.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::amp {

enum class OptLevel { O0, O1, O2, O3 };

OptLevel parse_opt_level(const std::string& text);  // "O0".."O3"
std::string_view opt_level_name(OptLevel level);

struct AmpConfig {
  OptLevel level = OptLevel::O0;
  DType dtype = kFloat32;           // the 16-bit dtype (kFloat32 for O0)
  bool use_autocast = false;        // forward passes run inside autocast()
  bool master_weights = false;      // the optimizer keeps fp32 masters
  bool needs_loss_scaling = false;  // fp16 at O1..O3 (bf16 does not need it)

  // The region guard for one forward pass (disabled at O0).
  [[nodiscard("the region lasts while the guard lives: auto region = config.autocast();")]] std::
      unique_ptr<AutocastGuard>
      autocast() const;
  std::string describe() const;
};

// Prepares model and optimizer for `level` in `dtype` (float16 or bfloat16). Call before
// training, after the optimizer is built (its parameter handles stay valid).
AmpConfig initialize(nn::Module& model, optim::Optimizer& optimizer, OptLevel level,
                     DType dtype = kFloat16);

}  // namespace hg::amp
