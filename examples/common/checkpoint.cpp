#include "checkpoint.h"

#include "train/checkpoint.h"

namespace hg::examples {

// Thin wrappers over train::Checkpoint with a model and an optimizer registered; the files are
// the library's (version 2) and version-1 files of earlier examples still load.
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& opt,
                     const TrainingState& state) {
  // save() only reads the objects; the builder takes them by reference for load()'s sake.
  train::Checkpoint ckpt;
  ckpt.model(const_cast<nn::Module&>(model)).optimizer(const_cast<optim::Optimizer&>(opt));
  ckpt.save(path, {.epoch = state.epoch, .step = 0, .scalars = state.scalars});
}

TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt) {
  train::Checkpoint ckpt;
  ckpt.model(model).optimizer(opt);
  const train::TrainingProgress progress = ckpt.load(path);
  return {progress.epoch, progress.scalars};
}

void advance_schedule(optim::LRScheduler& schedule, int64_t steps) {
  optim::SchedulerStateDict state = schedule.state_dict();
  state["last_epoch"] += static_cast<double>(steps);
  schedule.load_state_dict(state);  // sets every group's lr to that step's value
}

}  // namespace hg::examples
