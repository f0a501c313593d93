#pragma once
// hg_cifar10's checkpoint contents beyond weights and optimizer state (examples/cifar10/
// resume.cpp): the normalisation, the loss scaler and the precision options, and the checks and
// loading of --resume.
#include <cstdint>

#include <halfgrad/halfgrad.h>

#include "../common/args.h"
#include "../common/checkpoint.h"
#include "cifar_data.h"

namespace hg::examples {

inline constexpr const char* kCifarProgram = "hg_cifar10";

// The checkpoint's scalars after `epochs_done` epochs. No times: a resumed run must write the
// same bytes as a straight one.
TrainingState training_state(int64_t epochs_done, const ChannelStats& stats,
                             const amp::GradScaler& scaler, const amp::AmpConfig& amp);

// The normalisation a checkpoint's run used (empty when it holds none, or when saved is null).
ChannelStats saved_stats(const TrainingState* saved);

// Checks a checkpoint before it loads: the same program and precision options; whether epochs
// are left (false: nothing to do).
bool resumable(const Args& args, const TrainingState& saved, const amp::AmpConfig& amp,
               int64_t epochs);

// Loads --resume (if given) into the model, optimizer and scaler, and replays the schedule to
// where it stopped; returns the number of epochs already done.
int64_t resume_if_asked(const Args& args, nn::Module& model, optim::Optimizer& opt,
                        optim::LRScheduler& schedule, amp::GradScaler& scaler,
                        int64_t steps_per_epoch);

}  // namespace hg::examples
