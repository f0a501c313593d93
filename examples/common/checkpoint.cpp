#include "checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <iterator>

#include "halfgrad/core/error.h"
#include "halfgrad/train/checkpoint.h"

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

TrainingState peek_checkpoint(const std::string& path) {
  const train::TrainingProgress progress = train::read_progress(path);
  return {progress.epoch, progress.scalars};
}

void check_output_path(const std::string& path, const std::string& option,
                       const std::string& program) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  HG_CHECK(parent.empty() || fs::is_directory(parent, ec), program, ": --", option, " ", path,
           ": the folder ", parent.string(), " does not exist");
  HG_CHECK(!fs::is_directory(path, ec), program, ": --", option, " ", path,
           " is a folder; give a file name");
}

namespace {
// Checkpoint scalars are numbers: each example program has one.
constexpr const char* kPrograms[] = {"hg_mnist", "hg_cifar10"};

double program_code(const std::string& program) {
  for (std::size_t i = 0; i < std::size(kPrograms); ++i)
    if (program == kPrograms[i]) return static_cast<double>(i + 1);
  HG_FAIL("record_program: unknown program ", program);
}
}  // namespace

void record_program(std::map<std::string, double>& scalars, const std::string& program) {
  scalars["run.program"] = program_code(program);
}

void check_program(const TrainingState& saved, const std::string& program) {
  const auto found = saved.scalars.find("run.program");
  if (found == saved.scalars.end() || found->second == program_code(program)) return;
  const double code = found->second;
  const bool known = code >= 1 && code <= static_cast<double>(std::size(kPrograms)) &&
                     code == static_cast<double>(static_cast<std::size_t>(code));
  HG_CHECK(!known, program, ": the checkpoint was written by ",
           kPrograms[static_cast<std::size_t>(code) - 1], "; resume it with that program");
  HG_FAIL(program, ": the checkpoint was written by another program (run.program ", code, ")");
}

bool epochs_left(const TrainingState& saved, int64_t epochs, const std::string& program) {
  HG_CHECK(saved.epoch <= epochs, program, ": the checkpoint has done ", saved.epoch,
           " epochs, more than --epochs ", epochs,
           " (resume with the --epochs of the run that saved it)");
  if (saved.epoch < epochs) return true;
  std::printf("the checkpoint has done all %lld epochs: nothing left to train\n",
              static_cast<long long>(epochs));
  return false;
}

void advance_schedule(optim::LRScheduler& schedule, int64_t steps) {
  optim::SchedulerStateDict state = schedule.state_dict();
  state["last_epoch"] += static_cast<double>(steps);
  schedule.load_state_dict(state);  // sets every group's lr to that step's value
}

}  // namespace hg::examples
