// CIFAR-10 with the ResNet-9 of shared/BENCHMARKS.md, on the real data set, in fp32 or mixed
// precision, on the CPU or (with the CUDA backend) a GPU.
//
//   tools/fetch_data.sh cifar10
//   build/examples/cifar10/hg_cifar10 --device cuda --precision fp16 --opt-level O2
//   build/examples/cifar10/hg_cifar10 --limit 5000 --test-limit 2000 --epochs 3 --batch 64 --lr 0.1
//
// The default recipe (docs/cifar10.md): 24 epochs of batch 512, SGD with nesterov momentum 0.9
// and weight decay 5e-4, the lr rising linearly to 0.4 over the first 20% of the steps and then
// falling linearly towards 0, cross-entropy with label smoothing 0.2, inputs normalised per
// channel with the training set's statistics, random 4-pixel-padded crops and horizontal flips
// (--cutout 8 adds DAWNBench's cutout; not yet part of the default, which is what was measured).
// One line of test accuracy per epoch, plain and with flip test-time augmentation (the mean of
// the logits of each image and its mirror image; --no-tta: plain only); --metrics FILE appends
// JSON lines (docs/cifar10.md); --save/--resume write and read a full training checkpoint, and
// --resume FILE --eval-only evaluates one (the checkpoint's contents: resume.h).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <halfgrad/halfgrad.h>

#include "../common/amp_flags.h"
#include "../common/args.h"
#include "../common/checkpoint.h"
#include "../common/graphed_step.h"
#include "../common/models.h"
#include "../common/progress.h"
#include "../common/step_readout.h"
#include "../common/train_step.h"
#include "cifar_data.h"
#include "evaluate.h"
#include "metrics_log.h"
#include "resume.h"

using namespace hg;

namespace {

constexpr const char* kProgram = examples::kCifarProgram;

// --crop-padding as random_crop's Padding.
data::Padding crop_padding(const examples::Args& args) {
  const std::string mode = args.str("crop-padding");
  HG_CHECK(mode == "zeros" || mode == "reflect", kProgram,
           ": --crop-padding must be zeros or reflect, got ", mode);
  return mode == "reflect" ? data::Padding::Reflect : data::Padding::Zeros;
}

examples::Args parse_args(int argc, char** argv) {
  examples::Args args(kProgram, "Train ResNet-9 on CIFAR-10 with halfgrad.");
  args.option("epochs", "24", "training epochs");
  args.option("batch", "512", "batch size (each epoch drops its last, incomplete batch)");
  args.option("lr", "0.4", "peak learning rate (SGD, nesterov momentum 0.9)");
  args.option("warmup", "0.2",
              "fraction of the steps in which the lr rises linearly to --lr (then falls linearly)");
  args.option("weight-decay", "5e-4", "weight decay (on every parameter)");
  args.option("label-smoothing", "0.2", "label smoothing of the cross-entropy loss");
  args.option("seed", "1", "random seed (weights, shuffling, augmentation)");
  args.option("threads", "2", "CPU threads");
  args.option("data", "datasets/cifar10", "folder with the CIFAR-10 binary batches");
  args.option("device", "cpu", "cpu or cuda");
  args.option("limit", "0", "use only the first N training images (0: all 50000)");
  args.option("test-limit", "0", "evaluate on the first N test images only (0: all 10000)");
  args.option("eval-batch", "500", "batch size of the evaluation");
  args.option("eval-every", "1", "evaluate after every Nth epoch (and always after the last)");
  args.flag("no-augment", "train without random crops, flips or cutout");
  args.option("crop-padding", "zeros",
              "what the random crops pad the image with: zeros (torchvision's default) or "
              "reflect (the DAWNBench ResNet-9 code's)");
  args.option("cutout", "0",
              "side of the square cut out of each training image after normalisation, at a "
              "random place inside it (the DAWNBench ResNet-9 code's 8; 0: none)");
  args.flag("no-tta",
            "report only the plain test accuracy, not also the one with flip "
            "test-time augmentation (each image's logits averaged with its mirror image's)");
  args.flag("eval-only", "evaluate the --resume checkpoint on the test set and exit");
  args.option("save", "", "write a checkpoint here after every epoch");
  args.option("resume", "", "continue from this checkpoint");
  args.option("stop-after", "0", "stop after this epoch (0: run all --epochs; for resume tests)");
  args.option("metrics", "", "append JSON lines (steps, loss-scale changes, epochs) to this file");
  args.option("log-every", "50", "write a step record to --metrics every N steps (0: none)");
  args.flag("graph", "CUDA: capture the training step in a CUDA graph after 3 steps, replay it");
  examples::declare_amp_options(args);
  args.parse(argc, argv);
  args.require_at_least({{"epochs", 1},
                         {"limit", 0},
                         {"test-limit", 0},
                         {"stop-after", 0},
                         {"seed", 0},
                         {"log-every", 0},
                         {"eval-batch", 1},
                         {"eval-every", 1},
                         {"cutout", 0}});
  HG_CHECK(args.integer("cutout") <= 32, kProgram, ": --cutout ", args.integer("cutout"),
           " is larger than the 32x32 images");
  HG_CHECK(args.integer("stop-after") <= args.integer("epochs"), kProgram, ": --stop-after ",
           args.integer("stop-after"), " is past --epochs ", args.integer("epochs"));
  const double smoothing = args.number("label-smoothing");
  HG_CHECK(smoothing >= 0 && smoothing <= 1, kProgram,
           ": --label-smoothing must be in [0, 1], got ", smoothing);
  (void)crop_padding(args);  // checked before any data is read
  examples::check_output_path(args.str("save"), "save", kProgram);
  examples::check_output_path(args.str("metrics"), "metrics", kProgram);
  HG_CHECK(!args.on("eval-only") || !args.str("resume").empty(), kProgram,
           ": --eval-only needs a checkpoint to evaluate (--resume FILE)");
  return args;
}

// Everything one training epoch touches.
struct Trainer {
  examples::GraphedStep& step;  // the optimizer step on one batch, graphed or not
  optim::LRScheduler& schedule;
  amp::GradScaler& scaler;
  data::DataLoader& loader;
  Device device;
  examples::MetricsLog& log;
  int64_t log_every;
};

struct EpochStats {
  double mean_loss = 0, seconds = 0;
  int64_t steps = 0, nonfinite_losses = 0;
};

// One optimizer step on one batch, then the schedule's; returns the (unscaled) loss, where it
// was computed.
Tensor train_step(Trainer& t, const data::Batch& batch) {
  const Tensor loss = t.step(batch.data.to(t.device), batch.target.to(t.device));
  t.schedule.step();  // outside the step: between replays with --graph
  return loss;
}

// An epoch's steps as they are read back (examples::StepReadout: the loop never waits for a
// CUDA device to read a loss), and the host-side values of the steps still queued.
struct EpochBook {
  int64_t epoch, steps_per_epoch;
  examples::Progress progress;
  examples::StepReadout readout;
  std::vector<double> queued_lrs;
  double last_scale;  // the scale the next step to record was computed with
  double loss_sum = 0;
  EpochStats stats;
};

void record_queued_steps(Trainer& t, EpochBook& book) {
  const std::vector<examples::StepValues> steps = book.readout.drain();
  for (size_t i = 0; i < steps.size(); ++i) {
    const examples::StepValues& v = steps[i];
    const int64_t global_step = book.epoch * book.steps_per_epoch + (++book.stats.steps);
    if (v.loss_scale != book.last_scale)
      t.log.loss_scale_change(global_step, book.last_scale, v.loss_scale, v.skipped_steps);
    book.last_scale = v.loss_scale;
    if (t.log_every > 0 && global_step % t.log_every == 0)
      t.log.step(
          {book.epoch + 1, global_step, v.loss, book.queued_lrs[i], v.loss_scale, v.skipped_steps});
    if (std::isfinite(v.loss))
      book.loss_sum += v.loss;
    else
      ++book.stats.nonfinite_losses;  // O3 without scaling can get here: reported, not hidden
    book.progress.update(book.stats.steps, v.loss);
  }
  book.queued_lrs.clear();
}

EpochStats train_epoch(Trainer& t, int64_t epoch) {
  t.loader.set_epoch(epoch);
  const int64_t steps = t.loader.size(), batch = t.loader.options().batch_size;
  EpochBook book{epoch,
                 steps,
                 examples::Progress("epoch " + std::to_string(epoch + 1), steps, batch),
                 examples::StepReadout::for_device(t.device),
                 {},
                 t.scaler.get_scale(),
                 0.0,
                 EpochStats{}};
  for (auto& b : t.loader) {
    book.queued_lrs.push_back(t.schedule.get_last_lr().front());
    book.readout.push(train_step(t, b), t.scaler);
    if (book.readout.due()) record_queued_steps(t, book);
  }
  record_queued_steps(t, book);
  EpochStats& stats = book.stats;
  stats.seconds = book.progress.finish();
  stats.mean_loss = book.loss_sum /
                    static_cast<double>(std::max<int64_t>(stats.steps - stats.nonfinite_losses, 1));
  return stats;
}

void print_epoch(int64_t epoch, const EpochStats& s, const examples::Accuracy& accuracy,
                 int64_t test_images, const amp::GradScaler& scaler) {
  std::printf("epoch %lld: train loss %.4f, ", static_cast<long long>(epoch + 1), s.mean_loss);
  examples::print_accuracy(accuracy, test_images);
  std::printf(", %.1f s (%.1f ms/step)", s.seconds,
              1000 * s.seconds / static_cast<double>(std::max<int64_t>(s.steps, 1)));
  if (scaler.is_enabled())
    std::printf(", loss scale %g, %lld skipped steps", scaler.get_scale(),
                static_cast<long long>(scaler.skipped_steps()));
  if (s.nonfinite_losses > 0)
    std::printf(", %lld non-finite losses", static_cast<long long>(s.nonfinite_losses));
  std::printf("\n");
  std::fflush(stdout);
}

// What runs, on what, with which numerics and inputs: the first lines of the output.
void print_run_header(const examples::Args& args, const examples::CifarData& data,
                      int64_t steps_per_epoch, Device device, const amp::AmpConfig& amp,
                      const amp::GradScalerOptions& scaling) {
  std::printf("resnet9 on %lld CIFAR-10 images (%s%s), %lld steps of %lld per epoch, %s; %s\n",
              static_cast<long long>(data.train.size()), device.str().c_str(),
              args.on("graph") ? ", step in a CUDA graph" : "",
              static_cast<long long>(steps_per_epoch),
              static_cast<long long>(args.integer("batch")),
              examples::describe_precision(amp, scaling).c_str(), blas_info().c_str());

  const auto& st = data.stats;
  std::printf(
      "inputs normalised with the training images' channel mean (%.4f, %.4f, %.4f), std (%.4f, "
      "%.4f, %.4f)\n",
      st.mean[0], st.mean[1], st.mean[2], st.std[0], st.std[1], st.std[2]);
}

optim::SGDOptions sgd_options(const examples::Args& args) {
  return optim::SGDOptions(args.number("lr"))
      .momentum(0.9)
      .nesterov(true)
      .weight_decay(args.number("weight-decay"));
}

// Linear up from lr/100, linear down to lr/1e6: the piecewise-linear DAWNBench schedule. Its
// length is one more than the optimizer steps, so the decay reaches lr/1e6 at the scheduler
// step after the last optimizer step (which runs one decay step above it). Written when
// OneCycleLR refused a last step past the end; kept because every run in docs/cifar10.md used it.
optim::OneCycleLR dawnbench_schedule(optim::Optimizer& opt, const examples::Args& args,
                                     int64_t total_steps) {
  return optim::OneCycleLR(opt, args.number("lr"), total_steps + 1, args.number("warmup"),
                           optim::AnnealStrategy::Linear, 100.0, 1e4);
}

examples::EpochRecord epoch_record(const examples::Args& args, int64_t epoch,
                                   const EpochStats& stats, const examples::Accuracy& accuracy,
                                   int64_t train_images, double elapsed, const amp::AmpConfig& amp,
                                   Device device, const amp::GradScaler& scaler) {
  return {epoch + 1,
          stats.steps,
          train_images,
          args.integer("batch"),
          stats.mean_loss,
          accuracy.plain,
          accuracy.tta,
          stats.seconds,
          elapsed,
          args.str("precision"),
          std::string(amp::opt_level_name(amp.level)),
          device.str(),
          scaler.get_scale(),
          scaler.skipped_steps(),
          stats.nonfinite_losses};
}

// What the epochs read besides the Trainer (the model and optimizer go into checkpoints).
struct RunParts {
  nn::Module& model;
  optim::Optimizer& opt;
  const examples::CifarData& data;
  const amp::AmpConfig& amp;
  std::function<examples::Accuracy()> test_accuracy;
};

// Epochs [first_epoch, --epochs): train, evaluate every --eval-every epochs and after the last,
// print and log each, save a checkpoint after each with --save, stop early at --stop-after.
void train_epochs(const examples::Args& args, Trainer& t, const RunParts& run,
                  int64_t first_epoch) {
  const int64_t epochs = args.integer("epochs"), stop_after = args.integer("stop-after");
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch < epochs; ++epoch) {
    const EpochStats stats = train_epoch(t, epoch);
    const bool last = epoch + 1 == epochs || stop_after == epoch + 1;
    const examples::Accuracy accuracy = last || (epoch + 1) % args.integer("eval-every") == 0
                                            ? run.test_accuracy()
                                            : examples::Accuracy{};
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    print_epoch(epoch, stats, accuracy, run.data.test.size(), t.scaler);
    t.log.epoch(epoch_record(args, epoch, stats, accuracy, run.data.train.size(), elapsed.count(),
                             run.amp, t.device, t.scaler));
    if (!args.str("save").empty())
      examples::save_checkpoint(
          args.str("save"), run.model, run.opt,
          examples::training_state(epoch + 1, run.data.stats, t.scaler, run.amp));
    if (stop_after == epoch + 1) break;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args = parse_args(argc, argv);
  set_num_threads(static_cast<int>(args.integer("threads")));
  const Device device = examples::parse_device(args, kProgram);
  const auto seed = static_cast<uint64_t>(args.integer("seed"));
  manual_seed(seed);
  std::optional<examples::TrainingState> saved;
  if (!args.str("resume").empty()) saved = examples::peek_checkpoint(args.str("resume"));

  const examples::CifarData data = examples::load_cifar_data(
      {args.str("data"), args.integer("limit"), args.integer("test-limit"), !args.on("no-augment"),
       crop_padding(args), args.integer("cutout"),
       examples::saved_stats(saved ? &*saved : nullptr)});
  data::DataLoader loader(
      data.train,
      {.batch_size = args.integer("batch"), .shuffle = true, .drop_last = true, .seed = seed});
  HG_CHECK(loader.size() > 0 || args.on("eval-only"), kProgram, ": ", data.train.size(),
           " training images make no batch of ", args.integer("batch"));

  auto model = examples::make_resnet9();
  model->to(device);
  optim::SGD opt(model->parameters(), sgd_options(args));
  const int64_t epochs = args.integer("epochs");
  optim::OneCycleLR schedule = dawnbench_schedule(opt, args, epochs * loader.size());
  const amp::AmpConfig amp = examples::setup_amp(args, *model, opt, kProgram);
  const amp::GradScalerOptions scaling = examples::scaler_options(args, amp, kProgram);
  amp::GradScaler scaler(scaling);
  scaler.set_parameter_names(model->named_parameters());
  if (saved && !examples::resumable(args, *saved, amp, epochs)) return 0;
  const int64_t first_epoch =
      examples::resume_if_asked(args, *model, opt, schedule, scaler, loader.size());
  const auto test_accuracy = [&] {
    return examples::evaluate(*model, data.test, args.integer("eval-batch"), device, amp,
                              !args.on("no-tta"));
  };
  if (args.on("eval-only")) {
    examples::print_accuracy(test_accuracy(), data.test.size());
    std::printf("\n");
    return 0;
  }
  print_run_header(args, data, loader.size(), device, amp, scaling);
  examples::MetricsLog log(args.str("metrics"));
  examples::GraphedStep step(
      examples::amp_train_step(*model, opt, scaler, amp, args.number("label-smoothing")),
      args.on("graph"));
  Trainer trainer{step, schedule, scaler, loader, device, log, args.integer("log-every")};
  train_epochs(args, trainer, {*model, opt, data, amp, test_accuracy}, first_epoch);
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
