// Master weights (AMP O2) versus updating 16-bit parameters in place (O3).
#include "optim_util.h"

using namespace hg;
using hg::optim::Adam;
using hg::optim::AdamOptions;
using hg::optim::SGD;
using hg::optim::SGDOptions;
using hg::test::expect_close;
using hg::test::values;

namespace {

// lr * grad = 1e-4 per step on a weight of 1.0: below half an ulp of 1.0 in fp16 (2^-12 is
// 2.4e-4) and in bf16, so every single update rounds away.
Tensor run_small_updates(DType dtype, bool masters, int steps, optim::Optimizer** out = nullptr) {
  static std::unique_ptr<SGD> keep;
  Tensor w = ones({3}, dtype).requires_grad_();
  keep = std::make_unique<SGD>(std::vector<Tensor>{w}, SGDOptions(1e-4));
  keep->set_master_weights(masters);
  for (int i = 0; i < steps; ++i) {
    w.set_grad(ones({3}, dtype));
    keep->step();
  }
  if (out != nullptr) *out = keep.get();
  return w;
}

}  // namespace

TEST_CASE("master weights: the lost-updates demonstration (fp16 and bf16)") {
  for (DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    // O3: the 16-bit weight is updated in its own dtype; every update is rounded away.
    const Tensor lost = run_small_updates(dtype, false, 200);
    CHECK(values(lost) == std::vector<double>(3, 1.0));

    // O2: the fp32 master accumulates them; the 16-bit weight follows the rounded master.
    optim::Optimizer* opt = nullptr;
    const Tensor once = run_small_updates(dtype, true, 1, &opt);
    CHECK(values(once) == std::vector<double>(3, 1.0));  // one update: still rounds to 1
    CHECK(opt->master_weight(once).dtype() == kFloat32);
    CHECK(values(opt->master_weight(once))[0] == static_cast<double>(1.0f - 1e-4f));

    const Tensor kept = run_small_updates(dtype, true, 200, &opt);
    const Tensor master = opt->master_weight(kept);
    float expected = 1.0f;
    for (int i = 0; i < 200; ++i) expected = expected + static_cast<float>(-1e-4) * 1.0f;
    CHECK(values(master) == std::vector<double>(3, static_cast<double>(expected)));  // ~0.98
    CHECK(values(kept)[0] < 0.99);  // the 16-bit weight has moved
    // ... and is exactly the master rounded to nearest even.
    CHECK(values(kept) == values(master.to(dtype)));
  }
}

TEST_CASE("master weights: the fp32 master follows exactly the fp32 run with widened grads") {
  // An fp16 parameter with masters and an fp32 parameter fed the same (fp16-representable)
  // gradients must agree bit for bit: the master update *is* the fp32 update.
  manual_seed(3);
  const Tensor init = randn({257}).to(kFloat16);
  Tensor half_w = init.clone().requires_grad_();
  Tensor float_w = init.to(kFloat32).requires_grad_();
  Adam half_opt({half_w}, AdamOptions(0.01).weight_decay(0.01).amsgrad(true));
  Adam float_opt({float_w}, AdamOptions(0.01).weight_decay(0.01).amsgrad(true));
  half_opt.set_master_weights(true);
  float_opt.set_master_weights(true);  // no effect on fp32 parameters
  CHECK(!float_opt.master_weight(float_w).defined());
  for (int t = 0; t < 20; ++t) {
    const Tensor g = (randn({257}) * 0.01).to(kFloat16);
    half_w.set_grad(g);
    float_w.set_grad(g.to(kFloat32));
    half_opt.step();
    float_opt.step();
  }
  const Tensor master = half_opt.master_weight(half_w);
  CHECK(values(master) == values(float_w));
  CHECK(values(half_w) == values(float_w.to(kFloat16)));
  CHECK(half_opt.state(half_w)->buffers.at("exp_avg").dtype() == kFloat32);
}

TEST_CASE("without masters a 16-bit parameter is read, updated in float, rounded once") {
  const float w0 = 0.3f, g0 = 0.7f;
  Tensor w = full({2}, w0, kFloat16).requires_grad_();
  SGD opt({w}, SGDOptions(0.05).weight_decay(0.1));
  w.set_grad(full({2}, g0, kFloat16));
  opt.step();
  const float wf = static_cast<float>(Half(w0)), gf = static_cast<float>(Half(g0));
  const float d = gf + 0.1f * wf;
  const float expected = static_cast<float>(Half(wf + static_cast<float>(-0.05) * d));
  CHECK(values(w) == std::vector<double>(2, static_cast<double>(expected)));
  CHECK(!opt.master_weight(w).defined());
}

TEST_CASE("master weights: reseeded when the parameter is changed outside the optimizer") {
  Tensor w = ones({2}, kFloat16).requires_grad_();
  SGD opt({w}, SGDOptions(1e-4));
  opt.set_master_weights(true);
  w.set_grad(ones({2}, kFloat16));
  opt.step();
  CHECK(values(opt.master_weight(w))[0] == static_cast<double>(1.0f - 1e-4f));
  {
    NoGradGuard no_grad;
    w.copy_(full({2}, 2.0));  // e.g. loading model weights after amp::initialize
  }
  opt.step();
  CHECK(values(opt.master_weight(w))[0] == static_cast<double>(2.0f - 1e-4f));
  CHECK(values(w) == std::vector<double>{2.0, 2.0});
  opt.set_master_weights(false);
  CHECK(!opt.master_weight(w).defined());
  CHECK(!opt.master_weights());
}

TEST_CASE("master weights: the CPU loops and the tensor-op path agree (bf16, parallel)") {
  manual_seed(11);
  const Tensor init = randn({40000}).to(kBFloat16);  // above the parallel grain
  const Tensor grad = (randn({40000}) * 0.1).to(kBFloat16);
  std::vector<std::vector<double>> results;
  for (bool loops : {true, false}) {
    Tensor w = init.clone().requires_grad_();
    SGD opt({w}, SGDOptions(0.01).momentum(0.9).nesterov(true));
    opt.set_master_weights(true);
    opt.set_cpu_loops(loops);
    for (int t = 0; t < 3; ++t) {
      w.set_grad(grad);
      opt.step();
    }
    results.push_back(values(opt.master_weight(w)));
    results.push_back(values(w));
  }
  // Not bit for bit: the compiler may fuse a multiply-add in the loops (FMA) that the tensor
  // ops round twice.
  expect_close(results[0], results[2], 1e-6, 1e-6);
  expect_close(results[1], results[3], 0.0, 1.0 / 128);  // at most one bf16 ulp apart
}

TEST_CASE("master weights: parameters sharing one storage keep their masters") {
  // Two parameters that are views of one flat fp16 buffer: each write-back bumps the shared
  // version counter, which must not read as an outside change (that would reseed the masters
  // from fp16 and lose the small updates again).
  const Tensor flat = ones({4}, kFloat16);
  Tensor a = flat.slice(0, 0, 2).detach().requires_grad_();
  Tensor b = flat.slice(0, 2, 4).detach().requires_grad_();
  REQUIRE(a.storage() == b.storage());
  SGD opt({a, b}, SGDOptions(1e-4));
  opt.set_master_weights(true);
  for (int i = 0; i < 100; ++i) {
    a.set_grad(ones({2}, kFloat16));
    b.set_grad(ones({2}, kFloat16));
    opt.step();
  }
  for (const Tensor& p : {a, b}) {
    CHECK(values(opt.master_weight(p))[0] == doctest::Approx(0.99).epsilon(1e-5));
    CHECK(values(p) == values(opt.master_weight(p).to(kFloat16)));
  }
  CHECK(values(flat)[0] < 0.995);
}

TEST_CASE("step_scaled: a scaled fp16 gradient is unscaled in fp32, not in fp16") {
  // True gradient 1e-8: zero in fp16 (below its smallest subnormal, 6e-8), so unscaling the
  // fp16 gradient in place would lose it; scaled by 2^16 it is a normal fp16 number.
  const double scale = 65536.0;
  const float scaled = static_cast<float>(Half(static_cast<float>(1e-8 * scale)));
  CHECK(static_cast<float>(Half(1e-8f)) == 0.0f);
  for (bool loops : {true, false}) {
    CAPTURE(loops);
    Tensor w = ones({2}, kFloat16).requires_grad_();
    Tensor ref = ones({2}, kFloat32).requires_grad_();
    Adam opt({w}, AdamOptions(0.1).eps(1e-12));
    Adam ref_opt({ref}, AdamOptions(0.1).eps(1e-12));
    opt.set_master_weights(true);
    opt.set_cpu_loops(loops);
    ref_opt.set_cpu_loops(loops);
    for (int t = 0; t < 3; ++t) {
      w.set_grad(full({2}, scaled, kFloat16));
      ref.set_grad(full({2}, scaled / scale, kFloat32));  // exact: scale is a power of two
      opt.step_scaled(scale);
      ref_opt.step();
    }
    CHECK(values(opt.master_weight(w)) == values(ref));
    CHECK(values(ref)[0] < 0.75);  // Adam normalises: ~lr per step despite the tiny gradient
  }
  Tensor w = ones({2}, kFloat16).requires_grad_();
  Adam opt({w}, AdamOptions(0.1));
  hg::test::expect_error([&] { opt.step_scaled(0.0); }, {"Adam.step_scaled", "grad_scale", "0"});
}

TEST_CASE("master weights: the O2 flow with an nn module converted in place") {
  // Optimizer built on an fp64 model, stepped, then the model is cast to fp16 in place
  // (same parameter handles, new storage): the state follows, masters seed from fp16.
  manual_seed(1);
  auto lin = std::make_shared<nn::Linear>(4, 3);
  lin->to(kFloat64);
  Adam opt(lin->parameters(), AdamOptions(1e-3));
  const Tensor x = randn({8, 4}).to(kFloat64);
  sum(lin->forward(x)).backward();
  opt.step();
  lin->to(kFloat16);
  opt.set_master_weights(true);
  REQUIRE(opt.master_weight(lin->weight).defined());
  CHECK(values(opt.master_weight(lin->weight)) == values(lin->weight));
  for (int t = 0; t < 3; ++t) {
    opt.zero_grad();
    sum(lin->forward(x.to(kFloat16))).backward();
    CHECK(lin->weight.grad().dtype() == kFloat16);
    opt.step();
  }
  CHECK(lin->weight.dtype() == kFloat16);
  CHECK(opt.state(lin->weight)->step == 4);
  CHECK(opt.state(lin->weight)->buffers.at("exp_avg").dtype() == kFloat32);
  CHECK(values(lin->weight) == values(opt.master_weight(lin->weight).to(kFloat16)));
}

TEST_CASE("master weights: a storage swapped by to() reseeds the master, whatever its address") {
  // Module::to gives the weight a new storage whose version restarts at 0, and the allocator may
  // hand it the freed address: the master must follow the new weight, not the old one
  auto lin = std::make_shared<nn::Linear>(nn::LinearOptions(4, 8).bias(false));
  SGD opt(lin->parameters(), hg::optim::SGDOptions(0.1));
  (void)amp::initialize(*lin, opt, amp::OptLevel::O2);
  for (int round = 0; round < 3; ++round) {
    lin->to(kFloat64);
    lin->load_state_dict({{"weight", full({8, 4}, 0.5, kFloat64)}});
    lin->to(kFloat16);
    lin->weight.set_grad(zeros({8, 4}, kFloat16));
    opt.step();
    CHECK(values(lin->weight) == std::vector<double>(32, 0.5));
  }
}
