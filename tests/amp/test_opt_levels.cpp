// Master weights and the opt levels: value/update > 2^11 leaves an fp16 weight unchanged (O3)
// while the O2 master moves; initialize() sets the model and optimizer up per level.
#include <cmath>

#include "test_util.h"

using namespace hg;
using hg::test::values;

TEST_CASE("opt levels: value/update > 2^11 is lost in fp16 without masters, kept with them") {
  for (amp::OptLevel level : {amp::OptLevel::O3, amp::OptLevel::O2}) {
    CAPTURE(amp::opt_level_name(level));
    nn::Linear fc(nn::LinearOptions(1, 1).bias(false));
    {
      NoGradGuard no_grad;
      fc.weight.fill_(1.0);
    }
    optim::SGD opt(fc.parameters(), optim::SGDOptions(1.0));
    const amp::AmpConfig amp = amp::initialize(fc, opt, level, kFloat16);
    CHECK(fc.weight.dtype() == kFloat16);
    CHECK(amp.master_weights == (level == amp::OptLevel::O2));
    for (int step = 0; step < 64; ++step) {
      fc.weight.set_grad(full({1, 1}, -std::ldexp(1.0, -12), kFloat16));  // update 2^-12 = ulp/4
      opt.step();
    }
    if (level == amp::OptLevel::O3) {
      CHECK(fc.weight.item<float>() == 1.0f);  // every update was rounded away
    } else {
      CHECK(opt.master_weight(fc.weight).item<float>() == 1.0f + 64 * std::ldexp(1.0f, -12));
      CHECK(fc.weight.item<float>() == 1.015625f);  // 1 + 2^-6: the 16-bit copy moved too
    }
  }
}

TEST_CASE("opt levels: initialize sets autocast, masters and BatchNorm per level") {
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 2, 3)),
        std::make_shared<nn::BatchNorm2d>(2)});
  };
  auto m1 = make();
  optim::SGD o1(m1->parameters(), optim::SGDOptions(0.1));
  const amp::AmpConfig c1 = amp::initialize(*m1, o1, amp::OptLevel::O1, kFloat16);
  CHECK(c1.use_autocast);
  CHECK_FALSE(c1.master_weights);
  CHECK(m1->parameters()[0].dtype() == kFloat32);
  auto m2 = make();
  optim::SGD o2(m2->parameters(), optim::SGDOptions(0.1));
  const amp::AmpConfig c2 = amp::initialize(*m2, o2, amp::OptLevel::O2, kBFloat16);
  CHECK(c2.master_weights);
  CHECK_FALSE(c2.needs_loss_scaling);
  CHECK(m2->parameters()[0].dtype() == kBFloat16);              // conv weight
  CHECK(m2->named_parameters()[2].second.dtype() == kFloat32);  // BatchNorm weight
  Tensor y;
  {
    auto region = c2.autocast();
    y = (*m2)(randn({2, 1, 5, 5}));
  }
  // BatchNorm keeps fp32 statistics and parameters but returns its input's dtype, as PyTorch's
  // autocast (batch_norm is on none of its lists)
  CHECK(y.dtype() == kBFloat16);
  y.sum().backward();
  o2.step();
  CHECK(m2->parameters()[0].dtype() == kBFloat16);
  CHECK(c2.describe().find("master weights") != std::string::npos);
  auto m3 = make();
  optim::SGD o3(m3->parameters(), optim::SGDOptions(0.1));
  const amp::AmpConfig c3 = amp::initialize(*m3, o3, amp::OptLevel::O3, kFloat16);
  CHECK(m3->named_parameters()[2].second.dtype() == kFloat32);  // BatchNorm stays fp32 in O3
  CHECK(c3.describe().find("float16 model (BatchNorm float32), no master weights") !=
        std::string::npos);  // it said "pure float16 model"
}

TEST_CASE("opt levels: initialize runs once, on a float32 model") {
  auto model = std::make_shared<nn::Linear>(4, 3);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  (void)amp::initialize(*model, opt, amp::OptLevel::O2, kFloat16);
  hg::test::expect_error([&] { (void)amp::initialize(*model, opt, amp::OptLevel::O2, kFloat16); },
                         {"amp::initialize", "weight", "[3, 4] float16", "float32 model", "once"});
  hg::test::expect_error([&] { (void)amp::initialize(*model, opt, amp::OptLevel::O1, kFloat16); },
                         {"amp::initialize", "float32 model"});
}
