// MNIST (or Fashion-MNIST) with the mlp or cnn of shared/BENCHMARKS.md, or a small transformer or
// LSTM reading the image row by row (examples/common/models.h), on the real data set.
//
//   tools/fetch_data.sh mnist
//   build/examples/mnist/hg_mnist --model cnn --epochs 3 --data datasets/mnist
//
// One line of test accuracy per epoch; --metrics FILE appends one JSON object per epoch;
// --save/--resume write and read a full training checkpoint (model, optimizer, schedule).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include <halfgrad/halfgrad.h>

#include "../common/amp_flags.h"
#include "../common/args.h"
#include "../common/checkpoint.h"
#include "../common/graphed_step.h"
#include "../common/models.h"
#include "../common/progress.h"
#include "../common/step_readout.h"
#include "../common/train_step.h"

using namespace hg;

namespace {

examples::Args parse_args(int argc, char** argv) {
  examples::Args args("hg_mnist",
                      "Train an MLP, a CNN, a transformer or an LSTM on MNIST with halfgrad.");
  args.option("model", "cnn",
              "mlp, cnn, transformer (the rows as tokens) or lstm (the rows as a sequence)");
  args.option("epochs", "3", "training epochs");
  args.option("batch", "128", "batch size");
  args.option("lr", "0.05", "peak learning rate (SGD, nesterov momentum 0.9, one-cycle schedule)");
  args.option("weight-decay", "5e-4", "weight decay");
  args.option("seed", "1", "random seed (weights, shuffling)");
  args.option("threads", "2", "CPU threads");
  args.option("data", "datasets/mnist", "folder with the four IDX files (raw or .gz)");
  args.option("device", "cpu", "cpu or cuda");
  args.option("limit", "0", "use only the first N training images (0: all)");
  args.option("save", "", "write a checkpoint here after every epoch");
  args.option("resume", "", "continue from this checkpoint");
  args.option("stop-after", "0", "stop after this epoch (0: run all --epochs; for resume tests)");
  args.option("metrics", "", "append one JSON object per epoch to this file");
  args.flag("graph", "CUDA: capture the training step in a CUDA graph after 3 steps, replay it");
  examples::declare_amp_options(args);
  args.parse(argc, argv);
  args.require_at_least({{"epochs", 1}, {"limit", 0}, {"stop-after", 0}, {"seed", 0}});
  HG_CHECK(args.integer("stop-after") <= args.integer("epochs"), "hg_mnist: --stop-after ",
           args.integer("stop-after"), " is past --epochs ", args.integer("epochs"));
  examples::check_output_path(args.str("save"), "save", "hg_mnist");
  examples::check_output_path(args.str("metrics"), "metrics", "hg_mnist");
  return args;
}

double evaluate(nn::Module& model, const data::Dataset& test, Device device,
                const amp::AmpConfig& amp) {
  NoGradGuard no_grad;
  const auto region = amp.autocast();
  model.eval();
  data::DataLoader loader(test, {.batch_size = 1000, .shuffle = false});
  Tensor correct = zeros({}, TensorOptions(kInt64).device(device));  // read back once, at the end
  for (auto& batch : loader) {
    const Tensor logits = model(batch.data.to(device));
    correct = correct + sum(eq(argmax(logits, 1), batch.target.to(device)));
  }
  model.train();
  return static_cast<double>(correct.item<int64_t>()) / static_cast<double>(test.size());
}

data::LabeledImages first(data::LabeledImages all, int64_t limit) {
  if (limit <= 0 || limit >= all.labels.size(0)) return all;
  return {all.images.narrow(0, 0, limit).contiguous(), all.labels.narrow(0, 0, limit).contiguous()};
}

// The training and test sets, normalised with the training images' own pixel statistics
// (MNIST 0.1307/0.3081, Fashion-MNIST 0.2860/0.3530); those go into checkpoints, and a resumed
// run takes them from there (its --limit may differ), as may another program.
struct MnistData {
  data::Dataset train, test;
  double pixel_mean, pixel_std;
};

MnistData load_data(const examples::Args& args, const examples::TrainingState* resumed) {
  const data::LabeledImages train_images =
      first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  double pixel_mean = 0, pixel_std = 0;
  if (resumed && resumed->scalars.count("pixel_mean") && resumed->scalars.count("pixel_std")) {
    pixel_mean = resumed->scalars.at("pixel_mean");
    pixel_std = resumed->scalars.at("pixel_std");
  } else {
    const Tensor pixels = train_images.images.to(kFloat64) / 255.0;
    pixel_mean = mean(pixels).item<double>();
    pixel_std = std::sqrt(var(pixels).item<double>());
  }
  const std::vector<data::Transform> normalize{
      data::normalize({static_cast<float>(pixel_mean)}, {static_cast<float>(pixel_std)})};
  return {data::Dataset(train_images, normalize),
          data::Dataset(data::load_mnist(args.str("data"), false), normalize), pixel_mean,
          pixel_std};
}

// The model's index in kMnistModels (make_mnist_model has refused other names by now).
size_t model_index(const std::string& name) {
  size_t index = 0;
  while (index + 1 < std::size(examples::kMnistModels) && name != examples::kMnistModels[index])
    ++index;
  return index;
}

// A run's identity in its checkpoint: the program, the model (its index in kMnistModels) and the
// precision options.
void record_run(const examples::Args& args, const amp::AmpConfig& amp,
                std::map<std::string, double>& scalars) {
  examples::record_program(scalars, "hg_mnist");
  scalars["run.model"] = static_cast<double>(model_index(args.str("model")));
  examples::record_amp_options(amp, scalars);
}

// Refuses a checkpoint of another model or precision before loading it, naming the options
// that match it.
void check_resumable(const examples::Args& args, const examples::TrainingState& saved,
                     const amp::AmpConfig& amp) {
  examples::check_program(saved, "hg_mnist");
  const auto model = saved.scalars.find("run.model");
  if (model != saved.scalars.end()) {
    const auto index = static_cast<size_t>(model->second);
    HG_CHECK(model->second >= 0 && index < std::size(examples::kMnistModels),
             "hg_mnist: the checkpoint's model number ", model->second, " is unknown");
    const std::string saved_model = examples::kMnistModels[index];
    HG_CHECK(saved_model == args.str("model"), "hg_mnist: the checkpoint holds the ", saved_model,
             " model; resume with --model ", saved_model);
  }
  examples::check_amp_options(saved.scalars, amp, "hg_mnist");
  examples::note_resumed_loss_scale(args, saved.scalars, "loss_scale");
}

// Loads --resume (if given) into the model, optimizer and scaler, and moves the schedule to
// where it stopped; returns the number of epochs already done.
int64_t resume_if_asked(const examples::Args& args, nn::Module& model, optim::Optimizer& opt,
                        optim::LRScheduler& schedule, amp::GradScaler& scaler,
                        int64_t steps_per_epoch) {
  if (args.str("resume").empty()) return 0;
  examples::TrainingState state = examples::load_checkpoint(args.str("resume"), model, opt);
  if (state.scalars.count("loss_scale")) {
    scaler.load_state_dict({{"scale", state.scalars["loss_scale"]},
                            {"growth_tracker", state.scalars["growth_tracker"]},
                            {"overflow_streak", 0},
                            {"skipped_steps", state.scalars["skipped_steps"]}});
  }
  examples::advance_schedule(schedule, state.epoch * steps_per_epoch);
  std::printf("resumed from %s after epoch %lld\n", args.str("resume").c_str(),
              static_cast<long long>(state.epoch));
  return state.epoch;
}

struct EpochStats {
  double mean_loss = 0, seconds = 0;  // mean over the finite losses
  int64_t steps = 0, nonfinite_losses = 0;
};

// One epoch of optimizer steps, the schedule stepped after each (outside the step: between
// replays with --graph). On CUDA the losses are read back 16 steps at a time, so a step never
// waits for the device.
EpochStats train_epoch(examples::GraphedStep& train_step, optim::LRScheduler& schedule,
                       amp::GradScaler& scaler, data::DataLoader& loader, Device device,
                       int64_t epoch) {
  loader.set_epoch(epoch);
  examples::Progress progress("epoch " + std::to_string(epoch + 1), loader.size(),
                              loader.options().batch_size);
  double loss_sum = 0;
  EpochStats stats;
  auto readout = examples::StepReadout::for_device(device);
  const auto record_queued_steps = [&] {
    for (const examples::StepValues& v : readout.drain()) {
      if (std::isfinite(v.loss))
        loss_sum += v.loss;
      else
        ++stats.nonfinite_losses;  // O3 without scaling can get here: reported, not hidden
      progress.update(++stats.steps, v.loss);
    }
  };
  for (auto& batch : loader) {
    const Tensor loss = train_step(batch.data.to(device), batch.target.to(device));
    schedule.step();
    readout.push(loss, scaler);
    if (readout.due()) record_queued_steps();
  }
  record_queued_steps();
  stats.seconds = progress.finish();
  stats.mean_loss =
      loss_sum / static_cast<double>(std::max<int64_t>(stats.steps - stats.nonfinite_losses, 1));
  return stats;
}

void print_epoch(int64_t epoch, const EpochStats& s, double accuracy,
                 const amp::GradScaler& scaler) {
  std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%% (%.1f s)",
              static_cast<long long>(epoch + 1), s.mean_loss, 100 * accuracy, s.seconds);
  if (scaler.is_enabled()) {
    std::printf(", loss scale %g, %lld skipped steps", scaler.get_scale(),
                static_cast<long long>(scaler.skipped_steps()));
  }
  if (s.nonfinite_losses > 0)
    std::printf(", %lld non-finite losses", static_cast<long long>(s.nonfinite_losses));
  std::printf("\n");
}

// --metrics: one JSON object per epoch, appended (docs/mnist.md).
void append_metrics(const examples::Args& args, int64_t epoch, const EpochStats& s, double accuracy,
                    const amp::AmpConfig& amp, const amp::GradScaler& scaler) {
  if (args.str("metrics").empty()) return;
  std::ofstream out(args.str("metrics"), std::ios::app);
  out << "{\"epoch\":" << epoch + 1 << ",\"train_loss\":" << s.mean_loss
      << ",\"test_acc\":" << accuracy << ",\"seconds\":" << s.seconds << ",\"precision\":\""
      << args.str("precision") << "\",\"opt_level\":\"" << amp::opt_level_name(amp.level)
      << "\",\"loss_scale\":" << scaler.get_scale()
      << ",\"skipped_steps\":" << scaler.skipped_steps() << "}\n";
  out.flush();
  HG_CHECK(out.good(), "hg_mnist: cannot write the metrics file ", args.str("metrics"));
}

// --save: the model, the optimizer, the normalisation, the loss scaler and the run's model and
// precision after `epochs_done`.
void save_if_asked(const examples::Args& args, const nn::Module& model, const optim::Optimizer& opt,
                   const MnistData& data, const amp::GradScaler& scaler, const amp::AmpConfig& amp,
                   int64_t epochs_done) {
  if (args.str("save").empty()) return;
  const auto scaler_state = scaler.state_dict();
  examples::TrainingState state{epochs_done,
                                {{"pixel_mean", data.pixel_mean},
                                 {"pixel_std", data.pixel_std},
                                 {"loss_scale", scaler_state.at("scale")},
                                 {"growth_tracker", scaler_state.at("growth_tracker")},
                                 {"skipped_steps", scaler_state.at("skipped_steps")}}};
  record_run(args, amp, state.scalars);
  examples::save_checkpoint(args.str("save"), model, opt, state);
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args = parse_args(argc, argv);
  set_num_threads(static_cast<int>(args.integer("threads")));
  const Device device = examples::parse_device(args, "hg_mnist");
  manual_seed(static_cast<uint64_t>(args.integer("seed")));
  std::optional<examples::TrainingState> saved;
  if (!args.str("resume").empty()) saved = examples::peek_checkpoint(args.str("resume"));

  const MnistData data = load_data(args, saved ? &*saved : nullptr);
  data::DataLoader loader(data.train, {.batch_size = args.integer("batch"),
                                       .shuffle = true,
                                       .seed = static_cast<uint64_t>(args.integer("seed"))});
  auto model = examples::make_mnist_model(args.str("model"));
  model->to(device);
  optim::SGD opt(model->parameters(), optim::SGDOptions(args.number("lr"))
                                          .momentum(0.9)
                                          .nesterov(true)
                                          .weight_decay(args.number("weight-decay")));
  const int64_t epochs = args.integer("epochs");
  optim::OneCycleLR schedule(opt, args.number("lr"), epochs * loader.size());
  const amp::AmpConfig amp = examples::setup_amp(args, *model, opt, "hg_mnist");
  const amp::GradScalerOptions scaling = examples::scaler_options(args, amp, "hg_mnist");
  amp::GradScaler scaler(scaling);
  scaler.set_parameter_names(model->named_parameters());
  if (saved) {
    check_resumable(args, *saved, amp);
    if (!examples::epochs_left(*saved, epochs, "hg_mnist")) return 0;
  }
  const int64_t first_epoch = resume_if_asked(args, *model, opt, schedule, scaler, loader.size());
  std::printf("%s on %lld training images of %s (%s%s), %lld steps per epoch, %s; %s\n",
              args.str("model").c_str(), static_cast<long long>(data.train.size()),
              args.str("data").c_str(), device.str().c_str(),
              args.on("graph") ? ", step in a CUDA graph" : "",
              static_cast<long long>(loader.size()),
              examples::describe_precision(amp, scaling).c_str(), blas_info().c_str());

  // With --graph, the step is captured after the first three and replayed
  // (examples/common/graphed_step.h).
  examples::GraphedStep train_step(examples::amp_train_step(*model, opt, scaler, amp),
                                   args.on("graph"));
  for (int64_t epoch = first_epoch; epoch < epochs; ++epoch) {
    const EpochStats stats = train_epoch(train_step, schedule, scaler, loader, device, epoch);
    const double accuracy = evaluate(*model, data.test, device, amp);
    print_epoch(epoch, stats, accuracy, scaler);
    append_metrics(args, epoch, stats, accuracy, amp, scaler);
    save_if_asked(args, *model, opt, data, scaler, amp, epoch + 1);
    if (args.integer("stop-after") == epoch + 1) break;
  }
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
