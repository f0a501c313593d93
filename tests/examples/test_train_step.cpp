// examples/common/train_step: the --device option and the examples' AMP training step.
#include "common/train_step.h"

#include <vector>

#include "examples/parse_words.h"
#include "test_util.h"

using namespace hg;

namespace {

examples::Args device_args(std::vector<std::string> words) {
  examples::Args args("prog", "test");
  args.option("device", "cpu", "cpu or cuda");
  args.flag("graph", "capture");
  hg::test::parse_words(args, std::move(words));
  return args;
}

}  // namespace

TEST_CASE("parse_device: cpu by default, and errors that name the program and the mistake") {
  CHECK(examples::parse_device(device_args({}), "prog") == kCPU);
  hg::test::expect_error(
      [] {
        examples::parse_device(device_args({"--device", "tpu"}), "prog");
      },
      {"prog", "--device must be cpu or cuda", "tpu"});
  hg::test::expect_error(
      [] {
        examples::parse_device(device_args({"--device", "cpu", "--graph"}), "prog");
      },
      {"prog", "--graph needs --device cuda"});
  if (!cuda::is_available())
    hg::test::expect_error(
        [] {
          examples::parse_device(device_args({"--device", "cuda"}), "prog");
        },
        {"prog", "no CUDA device"});
}

TEST_CASE("amp_train_step: in fp32 it is the plain step (a power-of-two loss scale is exact)") {
  for (const bool scaled : {false, true}) {
    CAPTURE(scaled);
    manual_seed(3);
    auto model = std::make_shared<nn::Linear>(4, 3), twin = std::make_shared<nn::Linear>(4, 3);
    twin->load_state_dict(model->state_dict());
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    optim::SGD twin_opt(twin->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    const amp::AmpConfig amp = amp::initialize(*model, opt, amp::OptLevel::O0, kFloat32);
    amp::GradScaler scaler(amp::GradScalerOptions().enabled(scaled));
    const Tensor x = randn({5, 4});
    const Tensor y = from_vector(std::vector<int64_t>{0, 2, 1, 1, 0}, TensorOptions(kInt64));
    examples::GraphedStep step(examples::amp_train_step(*model, opt, scaler, amp, 0.1), false);
    for (int i = 0; i < 3; ++i) {
      const Tensor loss = step(x, y);  // the loss before this step's update, unscaled
      twin_opt.zero_grad();
      const Tensor expected = cross_entropy((*twin)(x), y, Reduction::Mean, -100, 0.1);
      expected.backward();
      twin_opt.step();
      CHECK(loss.item<float>() == expected.item<float>());
    }
    const auto a = model->parameters(), b = twin->parameters();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_vector<float>() == b[i].to_vector<float>());
  }
}
