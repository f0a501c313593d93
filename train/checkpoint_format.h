#pragma once
// The layout of a training checkpoint file (internal to train/): which tensor and metadata
// names hold which part, and the strict text <-> number conversions of the metadata.
//
//   tensors   "model.<name>", "optim.<key>"
//   metadata  format = halfgrad-checkpoint, version = 2, contents = model,optimizer,...
//             epoch, step, train.<name> (TrainingProgress), optim.<key>, scaler.<key>,
//             sched.<key>, rng.seed, rng.offset, data.seed, data.epoch, data.next_batch,
//             data.samples, data.batch_size, data.shuffle, data.drop_last (the last four
//             absent in files from before they were recorded: then unchecked)
// A file without "contents" is a version-1 file of the examples: model and optimizer.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "halfgrad/core/random.h"
#include "halfgrad/data/dataloader.h"
#include "halfgrad/nn/serialization.h"
#include "halfgrad/optim/lr_scheduler.h"
#include "halfgrad/optim/optimizer.h"
#include "halfgrad/train/checkpoint.h"

namespace hg::train::detail {

using Metadata = std::map<std::string, std::string>;

// Everything a file holds, parsed and checked, before anything is applied.
struct CheckpointContents {
  std::set<std::string> parts;  // "model", "optimizer", "scaler", "scheduler", "generator", "data"
  std::map<std::string, Tensor> model;
  optim::OptimizerStateDict optimizer;
  std::map<std::string, double> scaler;
  optim::SchedulerStateDict scheduler;
  Generator::State generator;
  data::DataLoaderState data;
  // What the data position refers to (samples, batch_size, shuffle, drop_last of the loader that
  // saved it); absent (nullopt) in files written before it was recorded.
  std::optional<std::array<int64_t, 4>> data_layout;
  TrainingProgress progress;
};

// A loader's (samples, batch_size, shuffle, drop_last), as data_layout records it.
std::array<int64_t, 4> layout_of(const data::DataLoader& loader);

// Text that reads back as exactly v.
std::string exact_text(double v);
std::string integer_text(uint64_t v);

// Splits and checks a loaded file; errors name `where` (the file) and the offending entry.
CheckpointContents parse_contents(const nn::TensorMap& tensors, const Metadata& meta,
                                  const std::string& where);

}  // namespace hg::train::detail
