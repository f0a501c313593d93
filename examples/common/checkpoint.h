#pragma once
// Training checkpoints for the examples: model weights, optimizer state and the scheduler and
// loop counters in one safetensors file ("model.<name>", "optim.<key>" tensors; scalars in the
// metadata), saved atomically. Thin wrappers over hg::train::Checkpoint (train/checkpoint.h),
// which also saves the GradScaler, LR scheduler, random generator and DataLoader position.
#include <cstdint>
#include <map>
#include <string>

#include "nn/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace hg::examples {

struct TrainingState {
  int64_t epoch = 0;                      // epochs completed
  std::map<std::string, double> scalars;  // scheduler step, seed, ...
};

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& opt,
                     const TrainingState& state);
// Loads into model and opt (which must have the same architecture and groups).
TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt);

// Moves a per-step schedule `steps` steps on, to where a resumed run left it, without stepping
// it `steps` times (each of which would warn that the optimizer took no step).
void advance_schedule(optim::LRScheduler& schedule, int64_t steps);

}  // namespace hg::examples
