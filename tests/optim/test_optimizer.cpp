// The Optimizer base: zero_grad, parameter groups, state_dict round trips, layouts, errors.
#include "optim_util.h"

using namespace hg;
using hg::optim::Adam;
using hg::optim::AdamOptions;
using hg::optim::AdamW;
using hg::optim::AdamWOptions;
using hg::optim::SGD;
using hg::optim::SGDOptions;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

// Gradient of step t for a parameter of n elements: fixed, varied values.
Tensor grad_at(int t, const Tensor& like) {
  std::vector<double> g;
  for (int64_t i = 0; i < like.numel(); ++i) g.push_back(std::sin(0.37 * (t + 1) * (i + 1)));
  return from_vector(g, like.sizes(), like.dtype());
}

void run_steps(optim::Optimizer& opt, const std::vector<Tensor>& params, int from, int to) {
  for (int t = from; t < to; ++t) {
    for (const auto& p : params) p.set_grad(grad_at(t, p));
    opt.step();
  }
}

using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Runs 6 steps straight, and 3 + save + (fresh params and optimizer) load + 3: the results
// must be identical bit for bit.
void check_resume(const Make& make, DType dtype, bool masters) {
  manual_seed(5);
  const std::vector<Tensor> init = {randn({4, 3}).to(dtype), randn({5}).to(dtype)};
  std::vector<Tensor> a, b;
  for (const auto& t : init) a.push_back(t.clone().requires_grad_());
  auto opt_a = make(a);
  opt_a->set_master_weights(masters);
  run_steps(*opt_a, a, 0, 3);
  const optim::OptimizerStateDict saved = opt_a->state_dict();
  for (const auto& p : a) b.push_back(p.detach().clone());  // the "checkpointed" model
  run_steps(*opt_a, a, 3, 6);

  for (auto& p : b) p.requires_grad_();
  auto opt_b = make(b);
  opt_b->set_master_weights(masters);
  opt_b->load_state_dict(saved);
  run_steps(*opt_b, b, 3, 6);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(values(a[i]) == values(b[i]));
    if (masters) CHECK(values(opt_a->master_weight(a[i])) == values(opt_b->master_weight(b[i])));
  }
}

}  // namespace

TEST_CASE("optimizer: state_dict round trip continues bit for bit") {
  const Make sgd = [](std::vector<Tensor> p) {
    return std::make_unique<SGD>(std::move(p), SGDOptions(0.05).momentum(0.9).weight_decay(0.01));
  };
  const Make adam = [](std::vector<Tensor> p) {
    return std::make_unique<Adam>(std::move(p), AdamOptions(0.01).amsgrad(true));
  };
  const Make adamw = [](std::vector<Tensor> p) {
    return std::make_unique<AdamW>(std::move(p), AdamWOptions(0.01));
  };
  for (const Make* make : {&sgd, &adam, &adamw}) {
    check_resume(*make, kFloat32, false);
    check_resume(*make, kFloat64, false);
    check_resume(*make, kFloat16, true);  // with fp32 masters: they are saved too
    check_resume(*make, kBFloat16, false);
  }
}

TEST_CASE("optimizer: state_dict contents, and it is a snapshot") {
  Tensor w = ones({2}).requires_grad_();
  Tensor unused = ones({3}).requires_grad_();
  Adam opt({w, unused}, AdamOptions(0.1));
  w.set_grad(ones({2}));
  opt.step();
  opt.param_groups()[0].set_lr(0.02);
  const auto dict = opt.state_dict();
  CHECK(dict.scalars.at("param_groups.0.lr") == 0.02);
  CHECK(dict.scalars.at("param_groups.0.beta2") == 0.999);
  CHECK(dict.scalars.at("param_groups.0.num_params") == 2.0);
  CHECK(dict.scalars.at("state.0.step") == 1.0);
  CHECK(dict.scalars.count("state.1.step") == 0);  // never updated
  CHECK(dict.scalars.at("master_weights") == 0.0);
  REQUIRE(dict.tensors.count("state.0.exp_avg") == 1);
  const auto before = values(dict.tensors.at("state.0.exp_avg"));
  opt.step();
  CHECK(values(dict.tensors.at("state.0.exp_avg")) == before);
}

TEST_CASE("optimizer: load_state_dict checks the layout and changes nothing on error") {
  Tensor w = ones({2}).requires_grad_();
  SGD opt({w}, SGDOptions(0.1).momentum(0.9));
  w.set_grad(ones({2}));
  opt.step();
  const auto dict = opt.state_dict();

  Tensor x = ones({3}).requires_grad_();
  SGD other({x}, SGDOptions(0.5));
  expect_error([&] { other.load_state_dict(dict); },
               {"SGD.load_state_dict", "state.0.momentum_buffer", "[2] float32", "[3] float32"});
  CHECK(other.param_groups()[0].lr() == 0.5);  // unchanged
  CHECK(other.state(x) == nullptr);

  SGD two({ones({2}).requires_grad_(), ones({2}).requires_grad_()}, SGDOptions(0.1));
  expect_error([&] { two.load_state_dict(dict); }, {"group 0 has 2 parameters", "state dict 1"});
  Adam adam({ones({2}).requires_grad_()}, AdamOptions());
  expect_error([&] { adam.load_state_dict(dict); }, {"Adam.load_state_dict", "beta1"});
  SGD masters({ones({2}).requires_grad_()}, SGDOptions(0.1));
  masters.set_master_weights(true);
  expect_error([&] { masters.load_state_dict(dict); }, {"master weights", "set_master_weights"});
  auto bad_lr = dict;
  bad_lr.scalars["param_groups.0.lr"] = -1;
  expect_error([&] { other.load_state_dict(bad_lr); },
               {"SGD.load_state_dict", "group 0 of the state dict", "lr"});
}

TEST_CASE("optimizer: load_state_dict restores steps_taken (older dicts without it keep it)") {
  Tensor w = ones({2}).requires_grad_();
  SGD opt({w}, SGDOptions(0.1));
  for (int i = 0; i < 5; ++i) {
    w.set_grad(ones({2}));
    opt.step();
  }
  auto dict = opt.state_dict();
  CHECK(dict.scalars.at("steps_taken") == 5.0);
  SGD resumed({ones({2}).requires_grad_()}, SGDOptions(0.1));
  resumed.load_state_dict(dict);
  CHECK(resumed.steps_taken() == 5);
  dict.scalars.erase("steps_taken");
  SGD older({ones({2}).requires_grad_()}, SGDOptions(0.1));
  older.load_state_dict(dict);
  CHECK(older.steps_taken() == 0);
  dict.scalars["steps_taken"] = 2.5;
  expect_error([&] { older.load_state_dict(dict); }, {"steps_taken", "2.5", "whole number"});
}

TEST_CASE("optimizer: zero_grad sets gradients to none, or zeroes them in place") {
  Tensor w = ones({3}).requires_grad_();
  Tensor v = ones({2}).requires_grad_();
  SGD opt({w, v}, SGDOptions(0.1));
  sum(w * w).backward();
  REQUIRE(w.grad().defined());
  const Tensor g = w.grad();
  opt.zero_grad(false);
  CHECK(w.grad().is_same(g));
  CHECK(values(w.grad()) == std::vector<double>(3, 0.0));
  CHECK(!v.grad().defined());  // had none: stays none
  opt.zero_grad();
  CHECK(!w.grad().defined());
  sum(w * 3.0).backward();  // accumulates into a fresh gradient
  CHECK(values(w.grad()) == std::vector<double>(3, 3.0));
}

TEST_CASE("optimizer: add_param_group validates the group") {
  Tensor w = ones({2}).requires_grad_();
  SGD opt({w}, SGDOptions(0.1));
  Tensor b = zeros({2}).requires_grad_();
  opt.add_param_group(optim::ParamGroup({b}, SGDOptions(0.01).momentum(0.5)));
  CHECK(opt.param_groups().size() == 2);
  CHECK(opt.parameters().size() == 2);
  CHECK(opt.param_groups()[1].lr() == 0.01);
  expect_error([&] { opt.add_param_group(optim::ParamGroup({w})); },
               {"SGD.add_param_group", "more than one parameter group"});
  Tensor twice = ones({2}).requires_grad_();
  expect_error(
      [&] {
        opt.add_param_group(optim::ParamGroup({twice, twice}));
      },
      {"SGD.add_param_group", "parameter 1", "appears twice in this parameter group"});
  expect_error([&] { opt.add_param_group(optim::ParamGroup({zeros({2}, kInt64)})); },
               {"floating-point", "int64"});
  Tensor leaf = ones({2}).requires_grad_();
  expect_error([&] { opt.add_param_group(optim::ParamGroup({leaf * 2.0})); }, {"not a leaf"});
  expect_error([&] { opt.add_param_group(optim::ParamGroup({ones({1})}, AdamOptions())); },
               {"another optimizer"});
  expect_error([&] { opt.param_groups()[0].options_as<AdamOptions>(); }, {"another optimizer"});
  expect_error([] { optim::ParamGroup(std::vector<Tensor>{}).lr(); }, {"no options"});
}

TEST_CASE("optimizer: invalid options in any group stop the step before any update") {
  Tensor a = ones({2}).requires_grad_();
  Tensor b = ones({2}).requires_grad_();
  SGD opt({optim::ParamGroup({a}), optim::ParamGroup({b})}, SGDOptions(0.1));
  opt.param_groups()[1].options_as<SGDOptions>().weight_decay(-1.0);
  a.set_grad(ones({2}));
  b.set_grad(ones({2}));
  expect_error([&] { opt.step(); }, {"SGD", "weight_decay", "-1"});
  CHECK(values(a) == std::vector<double>{1.0, 1.0});
}

TEST_CASE("optimizer: step bumps the parameter's version counter") {
  Tensor w = ones({2}).requires_grad_();
  SGD opt({w}, SGDOptions(0.1));
  w.set_grad(ones({2}));
  const uint64_t before = w.version();
  opt.step();
  CHECK(w.version() > before);
}

TEST_CASE("optimizer: non-contiguous parameters and gradients") {
  const Tensor base = arange(6).to(kFloat32).reshape({2, 3});
  Tensor w = base.clone().t().detach().requires_grad_();  // [3, 2] with strides {1, 3}
  REQUIRE(!w.is_contiguous());
  SGD opt({w}, SGDOptions(0.5).momentum(0.9));
  w.set_grad(ones({1, 2}).expand({3, 2}));  // a broadcast gradient
  opt.step();
  opt.step();
  // two steps: buf = 1, then 1.9; w -= 0.5 * 1 + 0.5 * 1.9
  std::vector<double> expected;
  for (double v : values(base.t())) expected.push_back(v - 1.45);
  expect_close(values(w), expected, 1e-6, 0.0);
  CHECK(w.strides() == Shape{1, 3});
}

TEST_CASE("optimizer: the parallel CPU loops and the tensor-op path agree on large params") {
  manual_seed(9);
  for (DType dtype : {kFloat32, kFloat16, kFloat64}) {
    CAPTURE(dtype);
    const Tensor init = randn({100003}).to(dtype);
    std::vector<std::vector<double>> out;
    for (bool loops : {true, false}) {
      Tensor w = init.clone().requires_grad_();
      AdamW opt({w}, AdamWOptions(0.01).amsgrad(true));
      opt.set_cpu_loops(loops);
      run_steps(opt, {w}, 0, 3);
      out.push_back(values(w));
    }
    expect_close(out[0], out[1], dtype == kFloat16 ? 1e-3 : 1e-6, 1e-6);
  }
}
