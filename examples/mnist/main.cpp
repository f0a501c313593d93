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

#include "../common/args.h"
#include "../common/checkpoint.h"
#include "../common/models.h"
#include "../common/progress.h"

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
  args.option("metrics", "", "append one JSON object per epoch to this file");
  args.parse(argc, argv);
  return args;
}

double evaluate(nn::Module& model, const data::Dataset& test, Device device) {
  NoGradGuard no_grad;
  model.eval();
  data::DataLoader loader(test, {.batch_size = 1000, .shuffle = false});
  int64_t correct = 0;
  for (auto& batch : loader) {
    const Tensor logits = model(batch.data.to(device));
    correct += sum(eq(argmax(logits, 1), batch.target.to(device))).item<int64_t>();
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(test.size());
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
  manual_seed(static_cast<uint64_t>(args.integer("seed")));

  const std::vector<data::Transform> normalize{data::normalize({0.1307f}, {0.3081f})};
  const data::Dataset train(first(data::load_mnist(args.str("data"), true), args.integer("limit")), normalize);
  const data::Dataset test(data::load_mnist(args.str("data"), false), normalize);
  data::DataLoader loader(train, {.batch_size = args.integer("batch"), .shuffle = true,
                                  .seed = static_cast<uint64_t>(args.integer("seed"))});

  auto model = examples::make_mnist_model(args.str("model"));
  model->to(device);
  optim::SGD opt(model->parameters(), optim::SGDOptions(args.number("lr")).momentum(0.9).nesterov(true)
                                          .weight_decay(args.number("weight-decay")));
  const int64_t epochs = args.integer("epochs");
  optim::OneCycleLR schedule(opt, args.number("lr"), epochs * loader.size());
  examples::TrainingState state;
  if (!args.str("resume").empty()) {
    state = examples::load_checkpoint(args.str("resume"), *model, opt);
    for (int64_t s = 0; s < state.epoch * loader.size(); ++s) schedule.step();
    std::printf("resumed from %s after epoch %lld\n", args.str("resume").c_str(),
                static_cast<long long>(state.epoch));
  }
  std::printf("%s on %lld MNIST images (%s), %lld steps per epoch, %s\n", args.str("model").c_str(),
              static_cast<long long>(train.size()), device.str().c_str(),
              static_cast<long long>(loader.size()), blas_info().c_str());

  for (int64_t epoch = state.epoch; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    examples::Progress progress("epoch " + std::to_string(epoch + 1), loader.size(), args.integer("batch"));
    double loss_sum = 0;
    int64_t step = 0;
    for (auto& batch : loader) {
      opt.zero_grad();
      const Tensor loss = cross_entropy((*model)(batch.data.to(device)), batch.target.to(device));
      loss.backward();
      opt.step();
      schedule.step();
      const double l = loss.item<double>();
      HG_CHECK(std::isfinite(l), "hg_mnist: the loss became ", l, " at epoch ", epoch + 1, " step ", step + 1);
      loss_sum += l;
      progress.update(++step, l);
    }
    const double seconds = progress.finish();
    const double accuracy = evaluate(*model, test, device);
    std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%% (%.1f s)\n",
                static_cast<long long>(epoch + 1), loss_sum / static_cast<double>(step), 100 * accuracy, seconds);
    if (!args.str("metrics").empty()) {
      std::ofstream(args.str("metrics"), std::ios::app)
          << "{\"epoch\":" << epoch + 1 << ",\"train_loss\":" << loss_sum / static_cast<double>(step)
          << ",\"test_acc\":" << accuracy << ",\"seconds\":" << seconds << "}\n";
    }
    if (!args.str("save").empty()) {
      examples::save_checkpoint(args.str("save"), *model, opt, {epoch + 1, {}});
    }
  }
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
