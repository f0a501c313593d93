// nn/loss.h: each loss module gives its functional form's bits with the options it was built
// with, has no parameters, prints its options, and drives a training step.
#include <sstream>

#include "test_util.h"

using namespace hg;
using hg::test::values;

TEST_CASE("loss modules: the functional forms' bits, with their options") {
  manual_seed(4);
  const Tensor logits = randn({6, 5});
  const Tensor target = from_vector<int64_t>({0, 4, -100, 2, 2, 1}, {6});
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().label_smoothing(0.1));
  CHECK(values(ce(logits, target)) ==
        values(cross_entropy(logits, target, Reduction::Mean, -100, 0.1)));
  nn::CrossEntropyLoss per_sample(
      nn::CrossEntropyLossOptions().reduction(Reduction::None).ignore_index(2));
  const Tensor valid = from_vector<int64_t>({0, 4, 1, 2, 2, 1}, {6});
  CHECK(values(per_sample(logits, valid)) ==
        values(cross_entropy(logits, valid, Reduction::None, 2)));
  nn::NLLLoss nll(Reduction::Sum);
  const Tensor log_probs = log_softmax(logits, 1);
  CHECK(values(nll(log_probs, target)) == values(nll_loss(log_probs, target, Reduction::Sum)));
  const Tensor a = randn({3, 4}), b = randn({3, 4});
  nn::MSELoss mse;
  CHECK(values(mse(a, b)) == values(mse_loss(a, b)));
  nn::BCEWithLogitsLoss bce(Reduction::None);
  const Tensor probs = rand({3, 4});
  CHECK(values(bce(a, probs)) ==
        values(binary_cross_entropy_with_logits(a, probs, Reduction::None)));
  CHECK(bce(a, probs).sizes() == Shape{3, 4});
  CHECK(values(nn::L1Loss(Reduction::Sum)(a, b)) == values(l1_loss(a, b, Reduction::Sum)));
  CHECK(values(nn::SmoothL1Loss(Reduction::Mean, 0.5)(a, b)) ==
        values(smooth_l1_loss(a, b, Reduction::Mean, 0.5)));
  CHECK(values(nn::HuberLoss(Reduction::None, 2.0)(a, b)) ==
        values(huber_loss(a, b, Reduction::None, 2.0)));
  CHECK(ce.parameters().empty());
  CHECK(ce.reduction() == Reduction::Mean);
}

TEST_CASE("loss modules: printed with their options, PyTorch's spelling") {
  CHECK(nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().label_smoothing(0.1)).describe() ==
        "CrossEntropyLoss(reduction=mean, ignore_index=-100, label_smoothing=0.1)");
  CHECK(nn::NLLLoss(Reduction::Sum, 3).describe() == "NLLLoss(reduction=sum, ignore_index=3)");
  CHECK(nn::MSELoss(Reduction::None).describe() == "MSELoss(reduction=none)");
  CHECK(nn::BCEWithLogitsLoss().describe() == "BCEWithLogitsLoss(reduction=mean)");
  CHECK(nn::L1Loss().describe() == "L1Loss(reduction=mean)");
  CHECK(nn::SmoothL1Loss(Reduction::Mean, 0.5).describe() ==
        "SmoothL1Loss(reduction=mean, beta=0.5)");
  CHECK(nn::HuberLoss(Reduction::Sum, 2).describe() == "HuberLoss(reduction=sum, delta=2)");
}

TEST_CASE("loss modules: a criterion drives a training step") {
  manual_seed(5);
  nn::Linear fc(4, 3);
  nn::CrossEntropyLoss criterion;
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.5));
  const Tensor x = randn({16, 4});
  const Tensor y = randint(0, 3, {16});
  const float before = criterion(fc(x), y).item<float>();
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    criterion(fc(x), y).backward();
    opt.step();
  }
  CHECK(criterion(fc(x), y).item<float>() < before);
}
