#include "halfgrad/train/checkpoint.h"

#include <fstream>
#include <optional>
#include <vector>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/error.h"
#include "halfgrad/nn/serialization.h"
#include "halfgrad/train/checkpoint_format.h"

namespace hg::train {
namespace {

using detail::CheckpointContents;
using detail::exact_text;
using detail::integer_text;
using detail::Metadata;

// What the registered objects hold now, deep-copied: a failed load puts it back.
struct Snapshot {
  std::map<std::string, Tensor> model;
  std::optional<optim::OptimizerStateDict> optimizer;
  std::map<std::string, double> scaler;
  optim::SchedulerStateDict scheduler;
  Generator::State generator;
  data::DataLoaderState data;
};

void check_registered(bool registered, const CheckpointContents& c, const std::string& part,
                      const std::string& where) {
  HG_CHECK(!registered || c.parts.count(part), where, "the checkpoint has no ", part,
           " state, but ", part[0] == 'o' ? "an " : "a ", part, " was registered to load it");
  HG_CHECK(registered || !c.parts.count(part), where, "the checkpoint has ", part,
           " state, but no ", part,
           " was registered to receive it (register one, or load "
           "with a Checkpoint that names what to restore)");
}

// Where `loader` resumes. A position in another loader's pass would visit other samples,
// silently: refused. At a pass's boundary (its first batch, or past its last) only the sample
// order matters (samples and shuffle): batch_size and drop_last may change between epochs, and
// "past the last batch" becomes the registered loader's own pass end.
data::DataLoaderState resume_position(const CheckpointContents& c, const data::DataLoader& loader,
                                      const std::string& where) {
  data::DataLoaderState position = c.data;
  if (!c.data_layout) return position;  // a file from before the layout was recorded
  std::array<int64_t, 4> saved = *c.data_layout;
  const std::array<int64_t, 4> now = detail::layout_of(loader);
  HG_CHECK(saved[1] >= 1, where, "data.batch_size must be >= 1, got ", saved[1]);
  const int64_t saved_batches =
      saved[3] ? saved[0] / saved[1] : (saved[0] + saved[1] - 1) / saved[1];
  const bool at_end = position.next_batch == saved_batches;
  if (position.next_batch == 0 || at_end) {
    saved[1] = now[1], saved[3] = now[3];
    if (at_end) position.next_batch = loader.size();
  }
  const auto text = [](const std::array<int64_t, 4>& l) {
    return hg::detail::concat(l[0], " samples, batch_size ", l[1], ", shuffle ",
                              l[2] ? "on" : "off", ", drop_last ", l[3] ? "on" : "off");
  };
  HG_CHECK(saved == now, where, "the data position was saved by a loader over ", text(saved),
           "; the registered loader has ", text(now),
           ", so the resumed pass would visit other samples: resume with the same data set and "
           "loader options");
  return position;
}

}  // namespace

Checkpoint& Checkpoint::model(nn::Module& model) {
  model_ = &model;
  return *this;
}
Checkpoint& Checkpoint::optimizer(optim::Optimizer& optimizer) {
  optimizer_ = &optimizer;
  return *this;
}
Checkpoint& Checkpoint::scaler(amp::GradScaler& scaler) {
  scaler_ = &scaler;
  return *this;
}
Checkpoint& Checkpoint::scheduler(optim::LRScheduler& scheduler) {
  scheduler_ = access(scheduler);
  return *this;
}
Checkpoint& Checkpoint::scheduler(optim::ReduceLROnPlateau& scheduler) {
  scheduler_ = access(scheduler);
  return *this;
}
Checkpoint& Checkpoint::generator(Generator& generator) {
  generator_ = &generator;
  return *this;
}
Checkpoint& Checkpoint::loader(data::DataLoader& loader) {
  loader_ = &loader;
  return *this;
}

void Checkpoint::save(const std::string& path, const TrainingProgress& progress) const {
  HG_CHECK(progress.epoch >= 0 && progress.step >= 0, "Checkpoint.save: ", path,
           ": epoch and step must be >= 0, got ", progress.epoch, " and ", progress.step);
  nn::TensorMap tensors;
  Metadata meta{{"format", "halfgrad-checkpoint"},
                {"version", "2"},
                {"epoch", std::to_string(progress.epoch)},
                {"step", std::to_string(progress.step)}};
  std::string contents;
  auto add_part = [&](const char* part) {
    contents += (contents.empty() ? "" : ",") + std::string(part);
  };
  if (model_) {
    add_part("model");
    for (const auto& [name, t] : model_->state_dict()) tensors["model." + name] = t;
  }
  if (optimizer_) {
    add_part("optimizer");
    const optim::OptimizerStateDict state = optimizer_->state_dict();
    for (const auto& [key, t] : state.tensors) tensors["optim." + key] = t;
    for (const auto& [key, v] : state.scalars) meta["optim." + key] = exact_text(v);
  }
  if (scaler_) {
    add_part("scaler");
    for (const auto& [key, v] : scaler_->state_dict()) meta["scaler." + key] = exact_text(v);
  }
  if (scheduler_) {
    add_part("scheduler");
    for (const auto& [key, v] : scheduler_->state_dict()) meta["sched." + key] = exact_text(v);
  }
  if (generator_) {
    add_part("generator");
    const Generator::State s = generator_->state();
    meta["rng.seed"] = integer_text(s.seed);
    meta["rng.offset"] = integer_text(s.offset);
  }
  if (loader_) {
    add_part("data");
    const data::DataLoaderState s = loader_->state();
    meta["data.seed"] = integer_text(s.seed);
    meta["data.epoch"] = std::to_string(s.epoch);
    meta["data.next_batch"] = std::to_string(s.next_batch);
    const std::array<int64_t, 4> layout = detail::layout_of(*loader_);
    meta["data.samples"] = std::to_string(layout[0]);
    meta["data.batch_size"] = std::to_string(layout[1]);
    meta["data.shuffle"] = std::to_string(layout[2]);
    meta["data.drop_last"] = std::to_string(layout[3]);
  }
  for (const auto& [name, v] : progress.scalars) meta["train." + name] = exact_text(v);
  meta["contents"] = contents;
  nn::save_safetensors(tensors, path, meta);
}

TrainingProgress Checkpoint::load(const std::string& path) const {
  const std::vector<uint8_t> bytes = nn::read_file_bytes("Checkpoint.load", path);
  return load_from_memory(bytes.data(), bytes.size(), path);
}

TrainingProgress read_progress(const std::string& path) {
  const std::vector<uint8_t> bytes = nn::read_file_bytes("read_progress", path);
  Metadata meta;
  const nn::TensorMap tensors = nn::parse_safetensors(bytes.data(), bytes.size(), path, &meta);
  return detail::parse_contents(tensors, meta, "read_progress: " + path + ": ").progress;
}

TrainingProgress Checkpoint::load_from_memory(const uint8_t* data, size_t size,
                                              const std::string& name) const {
  Metadata meta;
  const nn::TensorMap tensors = nn::parse_safetensors(data, size, name, &meta);
  const std::string where = "Checkpoint.load: " + name + ": ";
  const CheckpointContents c = detail::parse_contents(tensors, meta, where);
  check_registered(model_ != nullptr, c, "model", where);
  check_registered(optimizer_ != nullptr, c, "optimizer", where);
  check_registered(scaler_ != nullptr, c, "scaler", where);
  check_registered(scheduler_.has_value(), c, "scheduler", where);
  check_registered(generator_ != nullptr, c, "generator", where);
  check_registered(loader_ != nullptr, c, "data", where);
  const data::DataLoaderState position =
      loader_ ? resume_position(c, *loader_, where) : data::DataLoaderState{};

  Snapshot before;
  if (model_) {
    NoGradGuard no_grad;
    for (const auto& [key, t] : model_->state_dict()) before.model[key] = t.clone();
  }
  if (optimizer_) before.optimizer = optimizer_->state_dict();
  if (scaler_) before.scaler = scaler_->state_dict();
  if (scheduler_) before.scheduler = scheduler_->state_dict();
  if (generator_) before.generator = generator_->state();
  if (loader_) before.data = loader_->state();
  try {
    // The model before the optimizer: loading weights after the optimizer would reseed its
    // fp32 masters from the 16-bit weights (optim/optimizer.h).
    if (model_) model_->load_state_dict(c.model);
    if (optimizer_) optimizer_->load_state_dict(c.optimizer);
    if (scheduler_) scheduler_->load_state_dict(c.scheduler);
    if (scaler_) scaler_->load_state_dict(c.scaler);
    if (generator_) generator_->set_state(c.generator);
    if (loader_) loader_->set_state(position);
  } catch (...) {
    if (model_) model_->load_state_dict(before.model);
    if (optimizer_) optimizer_->load_state_dict(*before.optimizer);
    if (scheduler_) scheduler_->load_state_dict(before.scheduler);
    if (scaler_) scaler_->load_state_dict(before.scaler);
    if (generator_) generator_->set_state(before.generator);
    // the loader is applied last and set_state checks before it changes anything: a failed
    // load left it as it was (and restoring it would stop a pass in progress)
    throw;
  }
  return c.progress;
}

}  // namespace hg::train
