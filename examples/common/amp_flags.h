#pragma once
// The mixed-precision command-line options shared by the training examples:
//   --precision fp32|fp16|bf16, --opt-level O0..O3, --loss-scale dynamic|none|<number>
// and what they turn into: an amp::AmpConfig (via amp::initialize) and GradScalerOptions.
#include <map>
#include <string>

#include "args.h"
#include "halfgrad/amp/grad_scaler.h"
#include "halfgrad/amp/initialize.h"
#include "halfgrad/nn/module.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::examples {

// Declares --precision, --opt-level and --loss-scale on args.
void declare_amp_options(Args& args);

// Checks the three options and calls amp::initialize(model, opt, level, dtype): the opt level
// defaults to O0 for fp32 and O1 for fp16/bf16; fp32 with any other level is an error.
// `program` names the caller in error messages.
amp::AmpConfig setup_amp(const Args& args, nn::Module& model, optim::Optimizer& opt,
                         const std::string& program);

// --loss-scale: "dynamic" (PyTorch's defaults), "none", or a number (a static scale); empty
// means dynamic where the config needs loss scaling (fp16) and none otherwise. fp32 with a
// scale is an error; bf16 with one says once that it is not needed. `program` names the caller
// in error messages.
amp::GradScalerOptions scaler_options(const Args& args, const amp::AmpConfig& amp,
                                      const std::string& program);
// "dynamic loss scaling from 65536", "static loss scale 8" or "no loss scaling": what the run
// does.
std::string describe_scaling(const amp::GradScalerOptions& options);
// The header line's account of the precision: the config's description, then the scaling that
// runs unless that is "none" where none is needed ("O0: float32 weights and math, no loss
// scaling needed"; "O1: ..., needs loss scaling; dynamic loss scaling from 65536"), and where
// --loss-scale goes against the config, that it does ("...; but no loss scaling (--loss-scale)").
std::string describe_precision(const amp::AmpConfig& amp, const amp::GradScalerOptions& scaling);

// The run's precision and opt level as checkpoint scalars ("run.precision": 0 fp32, 1 fp16,
// 2 bf16; "run.opt_level": 0..3), and the check that a resumed run uses the same: it names the
// options to give (the load would otherwise fail on every parameter's dtype).
void record_amp_options(const amp::AmpConfig& amp, std::map<std::string, double>& scalars);
void check_amp_options(const std::map<std::string, double>& saved, const amp::AmpConfig& amp,
                       const std::string& program);
// Says so when a resume replaces an explicit --loss-scale with the checkpoint's scale (saved
// under `key`).
void note_resumed_loss_scale(const Args& args, const std::map<std::string, double>& saved,
                             const std::string& key);

}  // namespace hg::examples
