#pragma once
// hg::train::Checkpoint: the whole state of a training run in one file, so that a run stopped
// (or killed) and resumed in a new process continues exactly as if it had never stopped: on the
// CPU the resumed run's weights are bit-identical to an uninterrupted run's.
//
//   train::Checkpoint ckpt;
//   ckpt.model(*model).optimizer(opt).scaler(scaler).scheduler(sched).loader(loader)
//       .generator(default_generator());
//   ...                                        // between iterations (after scaler.update()):
//   ckpt.save("run.ckpt", {.epoch = e, .step = step});
//   // later, in a new process that built the same objects (and called amp::initialize):
//   train::TrainingProgress at = ckpt.load("run.ckpt");
//   for (auto& batch : loader) ...             // continues at the batch after the saved one
//
// What is stored, one part per registered object:
//   model      every parameter and buffer in its dtype ("model.<name>" tensors)
//   optimizer  per-parameter buffers, fp32 master weights, step counts, group options
//              ("optim.<key>" tensors and metadata)
//   scaler     the GradScaler's state_dict: scale, growth tracker, overflow streak, skip count
//              and the options that drive the scale (loading applies them)
//   scheduler  the LR scheduler's epoch counter and base lrs, or ReduceLROnPlateau's epoch,
//              best metric and counters (its lrs are the optimizer's)
//   generator  a random Generator's (seed, offset): dropout and init draw the same numbers
//   data       a DataLoader's seed, epoch and next batch: same order, same augmentation
// plus the caller's TrainingProgress (epoch, step, named scalars).
//
// The file is safetensors (nn/serialization.h), written atomically: a save interrupted at any
// point, even by SIGKILL or a power loss, leaves the previous file intact. The scalars live in
// the metadata as text that round-trips exactly.
//
// load() is all or nothing. It first parses and checks the whole file, then applies the parts;
// should applying any part fail, every registered object is restored to what it was. The file's
// parts and the registered objects must match one to one: a registered object whose part the
// file lacks, or a part nobody registered, is an error naming it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "halfgrad/amp/grad_scaler.h"
#include "halfgrad/core/random.h"
#include "halfgrad/data/dataloader.h"
#include "halfgrad/nn/module.h"
#include "halfgrad/optim/lr_scheduler.h"
#include "halfgrad/optim/optimizer.h"
#include "halfgrad/optim/reduce_lr_on_plateau.h"

namespace hg::train {

// Where the training loop stands; the checkpoint stores it as given.
struct TrainingProgress {
  int64_t epoch = 0;                        // the caller's epoch counter (e.g. epochs completed)
  int64_t step = 0;                         // the caller's step counter (e.g. iterations done)
  std::map<std::string, double> scalars{};  // anything else: best accuracy, normalisation, ...
};

// The progress a checkpoint file holds (checked as load() checks it), without loading anything
// into objects: a program can decide how to resume (options, epochs left) before it builds them.
TrainingProgress read_progress(const std::string& path);

class Checkpoint {
 public:
  // Registers the objects to save and restore; each is optional. The objects must outlive
  // the Checkpoint's save/load calls (it keeps references).
  Checkpoint& model(nn::Module& model);
  Checkpoint& optimizer(optim::Optimizer& optimizer);
  Checkpoint& scaler(amp::GradScaler& scaler);
  Checkpoint& scheduler(optim::LRScheduler& scheduler);
  Checkpoint& scheduler(optim::ReduceLROnPlateau& scheduler);
  Checkpoint& generator(Generator& generator);
  Checkpoint& loader(data::DataLoader& loader);

  void save(const std::string& path, const TrainingProgress& progress = {}) const;
  TrainingProgress load(const std::string& path) const;
  // The same from a whole file's bytes in memory; `name` stands for the file in messages.
  TrainingProgress load_from_memory(const uint8_t* data, size_t size,
                                    const std::string& name) const;

 private:
  nn::Module* model_ = nullptr;
  optim::Optimizer* optimizer_ = nullptr;
  amp::GradScaler* scaler_ = nullptr;
  // Either kind of scheduler, through its state dict.
  struct SchedulerAccess {
    std::function<optim::SchedulerStateDict()> state_dict;
    std::function<void(const optim::SchedulerStateDict&)> load_state_dict;
  };
  template <typename Scheduler>
  static SchedulerAccess access(Scheduler& scheduler) {
    return {
        [&scheduler] { return scheduler.state_dict(); },
        [&scheduler](const optim::SchedulerStateDict& dict) { scheduler.load_state_dict(dict); }};
  }
  std::optional<SchedulerAccess> scheduler_;
  Generator* generator_ = nullptr;
  data::DataLoader* loader_ = nullptr;
};

}  // namespace hg::train
