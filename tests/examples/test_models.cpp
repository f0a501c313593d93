// examples/common/models.h: each MNIST model maps [N, 1, 28, 28] images to [N, 10] logits, and a
// few SGD steps on one fixed batch lower its loss (in fp32 and under bf16 autocast); an unknown
// name is an error listing the known ones.
#include <doctest/doctest.h>

#include <string>

#include "common/models.h"
#include "halfgrad/halfgrad.h"
#include "test_util.h"

using namespace hg;

namespace {

// The loss on `images` before and after `steps` SGD steps on them.
std::pair<double, double> fit_one_batch(nn::Module& model, const Tensor& images,
                                        const Tensor& labels, bool autocast, int steps) {
  optim::SGD opt(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  double first = 0.0, last = 0.0;
  for (int step = 0; step <= steps; ++step) {
    opt.zero_grad();
    Tensor loss;
    {
      amp::AutocastGuard guard(kBFloat16, autocast);
      loss = cross_entropy(model.forward(images), labels);
    }
    last = loss.item<double>();
    if (step == 0) first = last;
    if (step == steps) break;
    loss.backward();
    opt.step();
  }
  return {first, last};
}

}  // namespace

TEST_CASE("MNIST models: [N, 1, 28, 28] -> [N, 10], and one batch is learnt") {
  for (const std::string name : examples::kMnistModels) {
    for (const bool autocast : {false, true}) {
      CAPTURE(name);
      CAPTURE(autocast);
      manual_seed(3);
      auto model = examples::make_mnist_model(name);
      const Tensor images = randn({16, 1, 28, 28});
      const Tensor labels = randint(0, 10, {16});
      CHECK(model->forward(images).sizes() == Shape{16, 10});
      const auto [before, after] = fit_one_batch(*model, images, labels, autocast, 30);
      CHECK(after < 0.5 * before);
    }
  }
  hg::test::expect_error([] { examples::make_mnist_model("vit"); },
                         {"unknown model \"vit\"", "mlp, cnn, transformer or lstm"});
}
