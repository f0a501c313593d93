// hg_cifar10's checkpoints: what a run stores beside the weights and optimizer state, and how a
// resumed run checks and loads it (examples/common/checkpoint.h does the file format).
#include "resume.h"

#include <cstdio>
#include <map>
#include <string>

#include "../common/amp_flags.h"

namespace hg::examples {

// The checkpoint's scalars: the normalisation (a resumed run and other programs rebuild the
// inputs with it), the loss scaler's state and the precision options. No times: a resumed run
// must write the same bytes as a straight one.
TrainingState training_state(int64_t epochs_done, const ChannelStats& stats,
                             const amp::GradScaler& scaler, const amp::AmpConfig& amp) {
  TrainingState state{epochs_done, {}};
  record_program(state.scalars, kCifarProgram);
  record_amp_options(amp, state.scalars);
  for (size_t c = 0; c < stats.mean.size(); ++c) {
    state.scalars["mean." + std::to_string(c)] = stats.mean[c];
    state.scalars["std." + std::to_string(c)] = stats.std[c];
  }
  for (const auto& [key, value] : scaler.state_dict()) state.scalars["scaler." + key] = value;
  return state;
}

// The normalisation a checkpoint's run used (empty when it holds none).
ChannelStats saved_stats(const TrainingState* saved) {
  ChannelStats stats;
  for (int c = 0; saved && c < 3; ++c) {
    const auto mean = saved->scalars.find("mean." + std::to_string(c));
    const auto std = saved->scalars.find("std." + std::to_string(c));
    if (mean == saved->scalars.end() || std == saved->scalars.end()) return {};
    stats.mean.push_back(static_cast<float>(mean->second));
    stats.std.push_back(static_cast<float>(std->second));
  }
  return stats;
}

// Checks a checkpoint before it loads: the same program and precision options; whether epochs
// are left.
bool resumable(const Args& args, const TrainingState& saved, const amp::AmpConfig& amp,
               int64_t epochs) {
  check_program(saved, kCifarProgram);
  check_amp_options(saved.scalars, amp, kCifarProgram);
  note_resumed_loss_scale(args, saved.scalars, "scaler.scale");
  return args.on("eval-only") || epochs_left(saved, epochs, kCifarProgram);
}

// Loads --resume (if given) into the model, optimizer and scaler, and replays the schedule to
// where it stopped; returns the number of epochs already done.
int64_t resume_if_asked(const Args& args, nn::Module& model, optim::Optimizer& opt,
                        optim::LRScheduler& schedule, amp::GradScaler& scaler,
                        int64_t steps_per_epoch) {
  if (args.str("resume").empty()) return 0;
  TrainingState state = load_checkpoint(args.str("resume"), model, opt);
  std::map<std::string, double> scaler_state;
  for (const auto& [key, value] : state.scalars)
    if (key.rfind("scaler.", 0) == 0) scaler_state[key.substr(7)] = value;
  scaler.load_state_dict(scaler_state);
  advance_schedule(schedule, state.epoch * steps_per_epoch);
  std::printf("resumed from %s after epoch %lld\n", args.str("resume").c_str(),
              static_cast<long long>(state.epoch));
  return state.epoch;
}

}  // namespace hg::examples
