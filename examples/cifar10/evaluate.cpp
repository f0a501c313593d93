#include "evaluate.h"

#include <cmath>
#include <cstdio>

namespace hg::examples {

// With tta, the class of an image is the argmax of its logits plus those of its mirror image,
// summed in fp32 (the sum has the argmax of the mean). Both counts stay on the device and are
// read back once, at the end.
Accuracy evaluate(nn::Module& model, const data::Dataset& test, int64_t batch, Device device,
                  const amp::AmpConfig& amp, bool tta) {
  NoGradGuard no_grad;
  const auto region = amp.autocast();
  model.eval();
  data::DataLoader loader(test, {.batch_size = batch, .shuffle = false});
  const TensorOptions counter = TensorOptions(kInt64).device(device);
  Tensor correct = zeros({}, counter), correct_tta = zeros({}, counter);
  for (auto& b : loader) {
    const Tensor target = b.target.to(device);
    const Tensor logits = model(b.data.to(device));
    correct = correct + sum(eq(argmax(logits, 1), target));
    if (!tta) continue;
    const Tensor mirrored = model(data::horizontal_flip(b.data).to(device));
    const Tensor both = logits.to(kFloat32) + mirrored.to(kFloat32);
    correct_tta = correct_tta + sum(eq(argmax(both, 1), target));
  }
  model.train();
  const auto share = [&](const Tensor& count) {
    return static_cast<double>(count.item<int64_t>()) / static_cast<double>(test.size());
  };
  Accuracy acc;
  acc.plain = share(correct);
  if (tta) acc.tta = share(correct_tta);
  return acc;
}

// "test accuracy 93.70% (flip TTA 94.01%, 10000 images)", or "not evaluated".
void print_accuracy(const Accuracy& acc, int64_t test_images) {
  if (std::isnan(acc.plain)) {
    std::printf("not evaluated");
    return;
  }
  std::printf("test accuracy %.2f%% (", 100 * acc.plain);
  if (!std::isnan(acc.tta)) std::printf("flip TTA %.2f%%, ", 100 * acc.tta);
  std::printf("%lld images)", static_cast<long long>(test_images));
}

}  // namespace hg::examples
