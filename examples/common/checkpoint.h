#pragma once
// Training checkpoints for the examples: model weights, optimizer state and the scheduler and
// loop counters in one safetensors file ("model.<name>", "optim.<key>" tensors; scalars in the
// metadata), saved atomically. Thin wrappers over hg::train::Checkpoint (train/checkpoint.h),
// which also saves the GradScaler, LR scheduler, random generator and DataLoader position.
#include <cstdint>
#include <map>
#include <string>

#include "halfgrad/nn/module.h"
#include "halfgrad/optim/lr_scheduler.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::examples {

struct TrainingState {
  int64_t epoch = 0;                      // epochs completed
  std::map<std::string, double> scalars;  // scheduler step, seed, ...
};

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& opt,
                     const TrainingState& state);
// Loads into model and opt (which must have the same architecture and groups).
TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt);
// The epoch count and scalars a checkpoint holds, read without loading anything into a model:
// a resumed run checks them first (options that do not match, nothing left to train) and takes
// its input normalisation from them.
TrainingState peek_checkpoint(const std::string& path);
// Fails before any training when `path` (an output option such as --save or --metrics) cannot
// be written: its folder is missing, or it names a folder.
void check_output_path(const std::string& path, const std::string& option,
                       const std::string& program);
// The program that writes a checkpoint ("run.program" among its scalars: hg_mnist, hg_cifar10),
// and the check that a resume reads one of its own program's (files without it are older ones).
void record_program(std::map<std::string, double>& scalars, const std::string& program);
void check_program(const TrainingState& saved, const std::string& program);
// Refuses a resume whose --epochs is below the epochs the checkpoint already did; returns
// whether any epoch is left to train (and says so when none is).
bool epochs_left(const TrainingState& saved, int64_t epochs, const std::string& program);

// Moves a per-step schedule `steps` steps on, to where a resumed run left it, without stepping
// it `steps` times (each of which would warn that the optimizer took no step).
void advance_schedule(optim::LRScheduler& schedule, int64_t steps);

}  // namespace hg::examples
