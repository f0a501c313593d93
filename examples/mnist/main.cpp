// MNIST (or Fashion-MNIST) with the mlp or cnn of shared/BENCHMARKS.md, on the real data set.
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

#include <halfgrad/halfgrad.h>

#include "../common/amp_flags.h"
#include "../common/args.h"
#include "../common/checkpoint.h"
#include "../common/graphed_step.h"
#include "../common/models.h"
#include "../common/progress.h"
#include "../common/step_readout.h"

using namespace hg;

namespace {

examples::Args parse_args(int argc, char** argv) {
  examples::Args args("hg_mnist", "Train an MLP or a CNN on MNIST with halfgrad.");
  args.option("model", "cnn", "mlp or cnn");
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

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args = parse_args(argc, argv);
  set_num_threads(static_cast<int>(args.integer("threads")));
  const Device device = args.str("device") == "cuda" ? kCUDA : kCPU;
  HG_CHECK(args.str("device") == "cpu" || args.str("device") == "cuda",
           "hg_mnist: --device must be cpu or cuda, got ", args.str("device"));
  HG_CHECK(device.is_cpu() || cuda::is_available(), "hg_mnist: --device cuda, but ",
           "no CUDA device is available (or halfgrad was built without CUDA)");
  HG_CHECK(!args.on("graph") || device.is_cuda(), "hg_mnist: --graph needs --device cuda");
  manual_seed(static_cast<uint64_t>(args.integer("seed")));

  // Normalise with the training set's own pixel statistics (MNIST 0.1307/0.3081, Fashion-MNIST
  // 0.2860/0.3530); they go into checkpoints so another program can reproduce the inputs.
  const data::LabeledImages train_images =
      first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const Tensor pixels = train_images.images.to(kFloat64) / 255.0;
  const double pixel_mean = mean(pixels).item<double>(),
               pixel_std = std::sqrt(var(pixels).item<double>());
  const std::vector<data::Transform> normalize{
      data::normalize({static_cast<float>(pixel_mean)}, {static_cast<float>(pixel_std)})};
  const data::Dataset train(train_images, normalize);
  const data::Dataset test(data::load_mnist(args.str("data"), false), normalize);
  data::DataLoader loader(train, {.batch_size = args.integer("batch"),
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
  amp::GradScaler scaler(examples::scaler_options(args, amp));
  scaler.set_parameter_names(model->named_parameters());
  examples::TrainingState state;
  if (!args.str("resume").empty()) {
    state = examples::load_checkpoint(args.str("resume"), *model, opt);
    if (state.scalars.count("loss_scale")) {
      scaler.load_state_dict({{"scale", state.scalars["loss_scale"]},
                              {"growth_tracker", state.scalars["growth_tracker"]},
                              {"overflow_streak", 0},
                              {"skipped_steps", state.scalars["skipped_steps"]}});
    }
    examples::advance_schedule(schedule, state.epoch * loader.size());
    std::printf("resumed from %s after epoch %lld\n", args.str("resume").c_str(),
                static_cast<long long>(state.epoch));
  }
  std::printf("%s on %lld MNIST images (%s%s), %lld steps per epoch, %s; %s\n",
              args.str("model").c_str(), static_cast<long long>(train.size()), device.str().c_str(),
              args.on("graph") ? ", step in a CUDA graph" : "",
              static_cast<long long>(loader.size()), amp.describe().c_str(), blas_info().c_str());

  // One step; with --graph, captured after the first three and replayed (examples/common/
  // graphed_step.h). The schedule steps outside it, between replays.
  examples::GraphedStep train_step(
      [&](const Tensor& x, const Tensor& y) {
        opt.zero_grad();
        Tensor loss;
        {
          const auto region = amp.autocast();
          loss = cross_entropy((*model)(x), y);
        }
        scaler.scale(loss).backward();
        scaler.step(opt);
        scaler.update();
        return loss;
      },
      args.on("graph"));
  for (int64_t epoch = state.epoch; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    examples::Progress progress("epoch " + std::to_string(epoch + 1), loader.size(),
                                args.integer("batch"));
    double loss_sum = 0;
    int64_t step = 0, nonfinite_losses = 0;
    // on CUDA the losses are read back 16 steps at a time, so a step never waits for the device
    auto readout = examples::StepReadout::for_device(device);
    const auto record_queued_steps = [&] {
      for (const examples::StepValues& v : readout.drain()) {
        if (std::isfinite(v.loss))
          loss_sum += v.loss;
        else
          ++nonfinite_losses;  // O3 without scaling can get here: reported, not hidden
        progress.update(++step, v.loss);
      }
    };
    for (auto& batch : loader) {
      const Tensor loss = train_step(batch.data.to(device), batch.target.to(device));
      schedule.step();
      readout.push(loss, scaler);
      if (readout.due()) record_queued_steps();
    }
    record_queued_steps();
    const double seconds = progress.finish();
    const double accuracy = evaluate(*model, test, device, amp);
    std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%% (%.1f s)",
                static_cast<long long>(epoch + 1),
                loss_sum / static_cast<double>(std::max<int64_t>(step - nonfinite_losses, 1)),
                100 * accuracy, seconds);
    if (scaler.is_enabled()) {
      std::printf(", loss scale %g, %lld skipped steps", scaler.get_scale(),
                  static_cast<long long>(scaler.skipped_steps()));
    }
    if (nonfinite_losses > 0)
      std::printf(", %lld non-finite losses", static_cast<long long>(nonfinite_losses));
    std::printf("\n");
    if (!args.str("metrics").empty()) {
      std::ofstream(args.str("metrics"), std::ios::app)
          << "{\"epoch\":" << epoch + 1
          << ",\"train_loss\":" << loss_sum / static_cast<double>(step)
          << ",\"test_acc\":" << accuracy << ",\"seconds\":" << seconds << ",\"precision\":\""
          << args.str("precision") << "\",\"opt_level\":\"" << amp::opt_level_name(amp.level)
          << "\",\"loss_scale\":" << scaler.get_scale()
          << ",\"skipped_steps\":" << scaler.skipped_steps() << "}\n";
    }
    if (!args.str("save").empty()) {
      const auto scaler_state = scaler.state_dict();
      examples::save_checkpoint(args.str("save"), *model, opt,
                                {epoch + 1,
                                 {{"pixel_mean", pixel_mean},
                                  {"pixel_std", pixel_std},
                                  {"loss_scale", scaler_state.at("scale")},
                                  {"growth_tracker", scaler_state.at("growth_tracker")},
                                  {"skipped_steps", scaler_state.at("skipped_steps")}}});
    }
    if (args.integer("stop-after") == epoch + 1) break;
  }
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
