// An inf, -inf or NaN in any gradient never changes weights or optimizer state under a
// GradScaler: every parameter in turn, each bad value, fp32 and fp16 (O2 masters, O3 without)
// parameters and gradients, SGD with momentum, Adam and AdamW. Without a scaler the optimizer
// propagates the value (documented in docs/reliability.md and checked at the end).
#include <cmath>
#include <memory>

#include "misuse_util.h"

using namespace hg;
using hg::test::bits;

namespace {

enum class WeightSetup { Fp32, Fp16Masters, Fp16NoMasters };

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& kind,
                                                 const std::vector<Tensor>& params) {
  if (kind == "SGD")
    return std::make_unique<optim::SGD>(params, optim::SGDOptions(0.1).momentum(0.9));
  if (kind == "Adam") return std::make_unique<optim::Adam>(params, optim::AdamOptions(0.01));
  return std::make_unique<optim::AdamW>(params, optim::AdamWOptions(0.01));
}

struct Setup {
  Setup(const std::string& kind, WeightSetup weights) {
    manual_seed(3);
    model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(4, 2)});
    opt = make_optimizer(kind, model->parameters());
    if (weights != WeightSetup::Fp32) {
      model->to(kFloat16);
      opt->set_master_weights(weights == WeightSetup::Fp16Masters);
    }
    dtype = weights == WeightSetup::Fp32 ? kFloat32 : kFloat16;
    for (int i = 0; i < 2; ++i) step(-1, 0.0);  // optimizer state exists before the bad step
  }
  // One scaled step; with bad_param >= 0, element 0 of that parameter's gradient becomes `bad`.
  bool step(int bad_param, double bad) {
    opt->zero_grad();
    const Tensor x = randn({5, 3}).to(dtype);
    scaler.scale((*model)(x).to(kFloat32).pow(2.0).mean()).backward();
    if (bad_param >= 0) {
      const Tensor p = model->parameters()[static_cast<size_t>(bad_param)];
      NoGradGuard no_grad;
      p.grad().flatten().narrow(0, 0, 1).fill_(bad);
    }
    const bool stepped = scaler.step(*opt);
    scaler.update();
    return stepped;
  }
  // Weights, optimizer buffers, masters, steps and options, as bytes and numbers.
  std::vector<std::vector<uint8_t>> state_bits() const {
    std::vector<std::vector<uint8_t>> out;
    for (const Tensor& p : model->parameters()) out.push_back(bits(p));
    const optim::OptimizerStateDict dict = opt->state_dict();
    for (const auto& [name, t] : dict.tensors) out.push_back(bits(t));
    for (const auto& [name, v] : dict.scalars) {
      const auto* b = reinterpret_cast<const uint8_t*>(&v);
      out.emplace_back(b, b + sizeof v);
    }
    return out;
  }
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> opt;
  amp::GradScaler scaler{amp::GradScalerOptions().init_scale(64)};
  DType dtype = kFloat32;
};

}  // namespace

TEST_CASE("a non-finite gradient never changes weights or optimizer state under a GradScaler") {
  const WarningHandler previous = set_warning_handler([](const std::string&) {});  // skip notes
  int cases = 0;
  for (const std::string kind : {"SGD", "Adam", "AdamW"}) {
    for (WeightSetup weights :
         {WeightSetup::Fp32, WeightSetup::Fp16Masters, WeightSetup::Fp16NoMasters}) {
      for (int param = 0; param < 4; ++param) {
        for (double bad : {INFINITY, -INFINITY, NAN}) {
          CAPTURE(kind);
          CAPTURE(static_cast<int>(weights));
          CAPTURE(param);
          CAPTURE(bad);
          Setup s(kind, weights);
          const auto before = s.state_bits();
          const double scale = s.scaler.get_scale();
          CHECK_FALSE(s.step(param, bad));
          CHECK(s.state_bits() == before);
          CHECK(s.scaler.get_scale() == scale / 2);
          CHECK(s.step(-1, 0.0));  // and training goes on from the same state
          ++cases;
        }
      }
    }
  }
  set_warning_handler(previous);
  CHECK(cases == 108);
}

TEST_CASE("without a GradScaler a non-finite gradient reaches the weights (documented)") {
  for (const std::string kind : {"SGD", "Adam", "AdamW"}) {
    CAPTURE(kind);
    nn::Linear fc(3, 2);
    auto opt = make_optimizer(kind, fc.parameters());
    fc.weight.set_grad(ones({2, 3}));
    fc.bias.set_grad(ones({2}));
    Tensor g = ones({2, 3});
    g.flatten().narrow(0, 0, 1).fill_(NAN);
    fc.weight.set_grad(g);
    const auto bias_before = fc.bias.to_vector<float>();
    opt->step();
    CHECK(std::isnan(fc.weight.to_vector<float>()[0]));     // the poisoned element
    CHECK(std::isfinite(fc.weight.to_vector<float>()[1]));  // elementwise: the rest are fine
    CHECK(fc.bias.to_vector<float>() != bias_before);       // other parameters step normally
  }
}
