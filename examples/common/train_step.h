#pragma once
// Two pieces every training example repeats: the --device option, and one mixed-precision
// training step (the step examples::GraphedStep runs eagerly or captures).
#include <string>

#include <halfgrad/halfgrad.h>

#include "amp_flags.h"
#include "args.h"
#include "graphed_step.h"

namespace hg::examples {

// --device cpu|cuda (and --graph, which needs cuda), checked: an hg::Error names `program` and
// says what is wrong (an unknown device, cuda without a CUDA device, --graph on the CPU).
// Expects args to have a "device" option and a "graph" flag.
Device parse_device(const Args& args, const std::string& program);

// zero_grad, forward and cross-entropy (with label smoothing) under the config's autocast, the
// scaled backward, the scaler's step and update; returns the unscaled loss, on the device. The
// objects are held by reference: they must outlive the step.
GraphedStep::Step amp_train_step(nn::Module& model, optim::Optimizer& opt, amp::GradScaler& scaler,
                                 const amp::AmpConfig& amp, double label_smoothing = 0.0);

}  // namespace hg::examples
