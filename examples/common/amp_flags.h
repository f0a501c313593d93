#pragma once
// The mixed-precision command-line options shared by the training examples:
//   --precision fp32|fp16|bf16, --opt-level O0..O3, --loss-scale dynamic|none|<number>
// and what they turn into: an amp::AmpConfig (via amp::initialize) and GradScalerOptions.
#include <string>

#include "amp/grad_scaler.h"
#include "amp/initialize.h"
#include "args.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace hg::examples {

// Declares --precision, --opt-level and --loss-scale on args.
void declare_amp_options(Args& args);

// Checks the three options and calls amp::initialize(model, opt, level, dtype): the opt level
// defaults to O0 for fp32 and O1 for fp16/bf16; fp32 with any other level is an error.
// `program` names the caller in error messages.
amp::AmpConfig setup_amp(const Args& args, nn::Module& model, optim::Optimizer& opt,
                         const std::string& program);

// --loss-scale: "dynamic" (PyTorch's defaults), "none", or a number (a static scale); empty
// means dynamic where the config needs loss scaling (fp16) and none otherwise.
amp::GradScalerOptions scaler_options(const Args& args, const amp::AmpConfig& amp);

}  // namespace hg::examples
