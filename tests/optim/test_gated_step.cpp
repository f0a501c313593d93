// Optimizer::step_unless_found_inf (optim/gated_step.cpp): which steps the device decides, that
// they match host-decided steps, and the bookkeeping settled afterwards.
#include <memory>

#include "halfgrad/kernels/cpu/amp_cpu.h"
#include "halfgrad/optim/fused_batch.h"
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

namespace {
Tensor flag(bool set) { return full({1}, set ? 1.0 : 0.0); }

// Two identical parameters: one for the gated optimizer, one for a host-stepped twin.
struct Twins {
  Tensor gated = randn({40}).requires_grad_();
  Tensor host = gated.detach().clone().requires_grad_();
  void set_grads(const Tensor& g) {
    gated.set_grad(g.clone());
    host.set_grad(g.clone());
  }
};

// Parameters of the given dtypes (`first` elements, then `growth` more each) for a gated
// optimizer, and host-stepped twins of them.
struct TwinList {
  std::vector<DType> dtypes;
  std::vector<Tensor> gated, host;
  TwinList(std::vector<DType> kinds, int64_t first, int64_t growth) : dtypes(std::move(kinds)) {
    for (size_t i = 0; i < dtypes.size(); ++i) {
      gated.push_back(randn({first + growth * int64_t(i)}).to(dtypes[i]).requires_grad_());
      host.push_back(gated.back().detach().clone().requires_grad_());
    }
  }
  // Four steps with the same random gradients on both sides (parameter `late` gets none in the
  // first): the gated optimizer decides on the device and skips step `skipped`, which the host
  // optimizer does not take.
  void run(optim::Optimizer& gated_opt, optim::Optimizer& host_opt, size_t late, int skipped) {
    for (int step = 0; step < 4; ++step) {
      for (size_t i = 0; i < gated.size(); ++i) {
        const Tensor g = i == late && step == 0 ? Tensor() : randn(gated[i].sizes()).to(dtypes[i]);
        gated[i].set_grad(g.defined() ? g.clone() : g);
        host[i].set_grad(g.defined() ? g.clone() : g);
      }
      CHECK(gated_opt.step_unless_found_inf(flag(step == skipped)) == optim::GatedStep::OnDevice);
      if (step != skipped) host_opt.step();
    }
  }
};
}  // namespace

TEST_CASE("gated step: SGD decides on the device, bit-identical to host-decided steps") {
  manual_seed(7);
  for (const bool nesterov : {false, true}) {
    Twins p;
    const auto options = optim::SGDOptions(0.1).momentum(0.9).nesterov(nesterov).weight_decay(0.01);
    optim::SGD gated({p.gated}, options), host({p.host}, options);
    for (bool skip : {true, false, true, false, false}) {
      p.set_grads(randn({40}));
      CHECK(gated.step_unless_found_inf(flag(skip)) == optim::GatedStep::OnDevice);
      if (!skip) host.step();
    }
    CHECK(values(p.gated) == values(p.host));
    CHECK(gated.steps_issued() == 5);
    CHECK(gated.steps_taken() == 3);  // settles: a readback of the run's skip count
    CHECK(gated.state(p.gated)->step == 3);
    CHECK(values(gated.state(p.gated)->buffers.at("momentum_buffer")) ==
          values(host.state(p.host)->buffers.at("momentum_buffer")));
  }
}

TEST_CASE("gated step: Adam and AdamW take their step numbers from the device's skip count") {
  manual_seed(8);
  for (const bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    Twins p;
    std::unique_ptr<optim::Optimizer> gated, host;
    if (decoupled) {
      gated =
          std::make_unique<optim::AdamW>(std::vector<Tensor>{p.gated}, optim::AdamWOptions(0.01));
      host = std::make_unique<optim::AdamW>(std::vector<Tensor>{p.host}, optim::AdamWOptions(0.01));
    } else {
      const auto options = optim::AdamOptions(0.01).weight_decay(0.1).amsgrad(true);
      gated = std::make_unique<optim::Adam>(std::vector<Tensor>{p.gated}, options);
      host = std::make_unique<optim::Adam>(std::vector<Tensor>{p.host}, options);
    }
    // the bias corrections differ by step number, so a wrong count shows in every weight
    for (bool skip : {true, true, false, true, false, false, true, false}) {
      p.set_grads(randn({40}));
      CHECK(gated->step_unless_found_inf(flag(skip)) == optim::GatedStep::OnDevice);
      if (!skip) host->step();
    }
    CHECK(gated->host_readbacks() == 0);
    CHECK(values(p.gated) == values(p.host));
    CHECK(gated->state(p.gated)->step == 4);  // settles: one readback
    CHECK(gated->host_readbacks() == 1);
    for (const auto& [name, buffer] : host->state(p.host)->buffers)
      CHECK(values(gated->state(p.gated)->buffers.at(name)) == values(buffer));
    p.set_grads(randn({40}));  // a host-decided step after the settled run
    gated->step();
    host->step();
    CHECK(values(p.gated) == values(p.host));
  }
}

TEST_CASE("gated step: an Adam run settles before its parameter set changes") {
  Tensor a = ones({3}).requires_grad_(), b = ones({3}).requires_grad_();
  Tensor a2 = ones({3}).requires_grad_(), b2 = ones({3}).requires_grad_();
  optim::Adam gated({a, b}, optim::AdamOptions(0.1)), host({a2, b2}, optim::AdamOptions(0.1));
  a.set_grad(ones({3})), a2.set_grad(ones({3}));
  (void)gated.step_unless_found_inf(flag(true));  // a only: skipped, then applied twice
  (void)gated.step_unless_found_inf(flag(false));
  (void)gated.step_unless_found_inf(flag(false));
  host.step(), host.step();
  b.set_grad(full({3}, -2.0)), b2.set_grad(full({3}, -2.0));
  CHECK(gated.host_readbacks() == 0);
  (void)gated.step_unless_found_inf(flag(false));  // a and b: a new run, a's count settled
  CHECK(gated.host_readbacks() == 1);
  (void)gated.step_unless_found_inf(flag(true));
  (void)gated.step_unless_found_inf(flag(false));
  host.step(), host.step();
  CHECK(values(a) == values(a2));
  CHECK(values(b) == values(b2));
  CHECK(gated.state(a)->step == 4);
  CHECK(gated.state(b)->step == 2);
  CHECK(gated.steps_taken() == 4);
}

TEST_CASE("gated step: reading the state settles the run and lets it go on, exactly") {
  manual_seed(9);
  Twins p;
  optim::Adam gated({p.gated}, optim::AdamOptions(0.01)), host({p.host}, optim::AdamOptions(0.01));
  const auto run = [&](std::initializer_list<bool> skips) {
    for (bool skip : skips) {
      p.set_grads(randn({40}));
      CHECK(gated.step_unless_found_inf(flag(skip)) == optim::GatedStep::OnDevice);
      if (!skip) host.step();
    }
  };
  run({true, false, false});
  CHECK(gated.state(p.gated)->step == 2);  // settles: one readback
  CHECK(gated.steps_taken() == 2);         // nothing new: no readback
  CHECK(gated.host_readbacks() == 1);
  run({false, true, false});  // the same run: its step numbers count on from the settled 2
  CHECK(gated.host_readbacks() == 1);
  CHECK(values(p.gated) == values(p.host));
  CHECK(gated.steps_taken() == 4);
  CHECK(gated.host_readbacks() == 2);
  for (const auto& [name, buffer] : host.state(p.host)->buffers)
    CHECK(values(gated.state(p.gated)->buffers.at(name)) == values(buffer));
}

TEST_CASE("gated step: a parameter read while its steps were all skipped has no state yet") {
  Tensor a = ones({3}).requires_grad_();
  optim::SGD sgd({a}, optim::SGDOptions(0.5).momentum(0.9));
  a.set_grad(ones({3}));
  (void)sgd.step_unless_found_inf(flag(true));
  CHECK(sgd.state(a) == nullptr);                // as a host-decided skip leaves it
  (void)sgd.step_unless_found_inf(flag(false));  // the run goes on: a first step, buf = d
  CHECK(sgd.state(a)->step == 1);
  CHECK(values(a) == std::vector<double>(3, 0.5));
  CHECK(values(sgd.state(a)->buffers.at("momentum_buffer")) == std::vector<double>(3, 1.0));
}

TEST_CASE("gated step: the lr set by a scheduler or by the options reaches the fused kernel") {
  manual_seed(10);
  Twins p;
  const auto options = optim::SGDOptions(0.1).momentum(0.9);
  optim::SGD gated({p.gated}, options), host({p.host}, options);
  optim::StepLR gated_schedule(gated, 1, 0.5), host_schedule(host, 1, 0.5);
  for (int i = 0; i < 4; ++i) {
    p.set_grads(randn({40}));
    CHECK(gated.step_unless_found_inf(flag(false)) == optim::GatedStep::OnDevice);
    host.step();
    gated_schedule.step(), host_schedule.step();  // set_lr: rewrites the lr tensor
  }
  gated.param_groups()[0].options_as<optim::SGDOptions>().lr(0.3);  // not through set_lr
  host.param_groups()[0].options_as<optim::SGDOptions>().lr(0.3);
  p.set_grads(randn({40}));
  (void)gated.step_unless_found_inf(flag(false));
  host.step();
  CHECK(values(p.gated) == values(p.host));
}

TEST_CASE("gated step: lost-update counting and strided parameters read the flag back") {
  manual_seed(8);
  Twins p;
  optim::SGD counting({p.host}, optim::SGDOptions(0.1));
  counting.count_lost_updates(true);
  CHECK(counting.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);

  Tensor strided = randn({8, 2}).requires_grad_();
  Tensor column = strided.detach().select(1, 0).requires_grad_();  // a strided leaf
  optim::SGD sgd({column}, optim::SGDOptions(0.1));
  column.set_grad(ones({8}));
  CHECK(sgd.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);
  expect_error([&] { (void)sgd.step_unless_found_inf(zeros({1}, kFloat64)); },
               {"step_unless_found_inf", "float32"});
}

TEST_CASE("gated step: dampening decides a first step on the host, later steps on the device") {
  Tensor p = ones({4}).requires_grad_();
  optim::SGD sgd({p}, optim::SGDOptions(0.1).momentum(0.9).dampening(0.5));
  p.set_grad(ones({4}));
  CHECK(sgd.step_unless_found_inf(flag(true)) == optim::GatedStep::Skipped);   // no buffer yet
  CHECK(sgd.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);  // creates it
  CHECK(sgd.step_unless_found_inf(flag(true)) == optim::GatedStep::OnDevice);
  CHECK(sgd.steps_taken() == 1);
}

TEST_CASE("gated step: parameter sets that change start new runs, all settled exactly") {
  Tensor a = ones({3}).requires_grad_(), b = ones({3}).requires_grad_();
  optim::SGD sgd({a, b}, optim::SGDOptions(0.5).momentum(0.9));
  a.set_grad(ones({3}));
  (void)sgd.step_unless_found_inf(flag(true));  // a only, skipped twice
  (void)sgd.step_unless_found_inf(flag(true));
  b.set_grad(ones({3}));
  (void)sgd.step_unless_found_inf(flag(false));  // both, applied
  a.set_grad(Tensor());
  (void)sgd.step_unless_found_inf(flag(false));  // b only
  CHECK(sgd.state(a)->step == 1);
  CHECK(sgd.state(b)->step == 2);
  CHECK(sgd.steps_taken() == 2);
  CHECK(sgd.steps_issued() == 4);
  // a's first applied step was a first step on the host's terms: buf = d, w = 1 - 0.5
  CHECK(values(a) == std::vector<double>(3, 0.5));
  CHECK(values(sgd.state(a)->buffers.at("momentum_buffer")) == std::vector<double>(3, 1.0));
}

// A gated step queues its fused SGD calls per group and launches each group's as one
// multi-tensor call (kernels/amp_kernels.h): every parameter must come out as a host step
// leaves it, whatever its dtype, master, momentum history or group.
TEST_CASE("gated step: a group's SGD updates in one multi-tensor call match host steps") {
  manual_seed(9);
  TwinList p({kFloat32, kFloat16, kFloat64, kBFloat16, kFloat32}, 7, 5);
  auto groups = [](const std::vector<Tensor>& t) {
    const auto other = optim::SGDOptions(0.05).momentum(0.5).weight_decay(0.1);
    return std::vector<optim::ParamGroup>{optim::ParamGroup({t[0], t[1], t[2], t[3]}),
                                          optim::ParamGroup({t[4]}, other)};
  };
  const auto options = optim::SGDOptions(0.1).momentum(0.9).nesterov(true);
  optim::SGD g_opt(groups(p.gated), options), h_opt(groups(p.host), options);
  g_opt.set_master_weights(true);
  h_opt.set_master_weights(true);
  p.run(g_opt, h_opt, 2, 1);  // parameter 2's momentum starts a step later
  const std::vector<Tensor>& gated = p.gated;
  const std::vector<Tensor>& host = p.host;
  for (size_t i = 0; i < gated.size(); ++i) {
    CAPTURE(i);
    CHECK(values(gated[i]) == values(host[i]));
    CHECK(values(g_opt.state(gated[i])->buffers.at("momentum_buffer")) ==
          values(h_opt.state(host[i])->buffers.at("momentum_buffer")));
  }
}

namespace {
// Counts the calls and tensors of kernels::fused_adam's CPU column while it lives.
struct CountFusedAdam {
  static inline int calls = 0, tensors = 0;
  kernels::FusedAdamFn real = kernels::fused_adam.fns[static_cast<int>(DeviceType::CPU)];
  CountFusedAdam() {
    calls = tensors = 0;
    kernels::fused_adam.set(DeviceType::CPU, &counting);
  }
  ~CountFusedAdam() { kernels::fused_adam.set(DeviceType::CPU, real); }
  CountFusedAdam(const CountFusedAdam&) = delete;
  CountFusedAdam& operator=(const CountFusedAdam&) = delete;
  static void counting(const kernels::FusedAdamTensor* t, int64_t count,
                       const kernels::FusedStepInputs& in, double factor,
                       const kernels::FusedAdamParams& p) {
    ++calls, tensors += static_cast<int>(count);
    kernels::cpu::fused_adam(t, count, in, factor, p);
  }
};
}  // namespace

// Adam's fused calls are queued too: one multi-tensor call per group and step number (a
// parameter whose first gradient came a step late has its own bias corrections).
TEST_CASE("gated step: a group's Adam updates in one multi-tensor call match host steps") {
  manual_seed(10);
  TwinList p({kFloat32, kFloat16, kBFloat16, kFloat32}, 9, 4);
  const auto options = optim::AdamWOptions(0.01).weight_decay(0.1).amsgrad(true);
  optim::AdamW g_opt(p.gated, options), h_opt(p.host, options);
  g_opt.set_master_weights(true);
  h_opt.set_master_weights(true);
  const CountFusedAdam counter;
  p.run(g_opt, h_opt, 3, 2);  // parameter 3's step number lags one behind
  const std::vector<Tensor>& gated = p.gated;
  const std::vector<Tensor>& host = p.host;
  // (the host steps take the CPU loops, not the kernel) step 0: one call of three parameters;
  // steps 1-3: three parameters in one call, parameter 3 in another
  CHECK(CountFusedAdam::calls == 7);
  CHECK(CountFusedAdam::tensors == 15);
  for (size_t i = 0; i < gated.size(); ++i) {
    CAPTURE(i);
    CHECK(values(gated[i]) == values(host[i]));
    for (const auto& [name, buffer] : h_opt.state(host[i])->buffers)
      CHECK(values(g_opt.state(gated[i])->buffers.at(name)) == values(buffer));
  }
}

// RMSprop and Adagrad take the same path (kernels/amp_kernels.h: fused_rmsprop, fused_adagrad):
// every parameter comes out as a host step leaves it, Adagrad's late parameter with its own
// step number (so its own call).
TEST_CASE("gated step: RMSprop and Adagrad groups decide on the device, as host steps") {
  manual_seed(11);
  for (const bool adagrad : {false, true}) {
    CAPTURE(adagrad);
    TwinList p({kFloat32, kFloat16, kBFloat16, kFloat64}, 9, 4);
    auto make = [&](const std::vector<Tensor>& params) -> std::unique_ptr<optim::Optimizer> {
      if (adagrad)
        return std::make_unique<optim::Adagrad>(
            params, optim::AdagradOptions(0.1).lr_decay(0.2).weight_decay(0.05));
      return std::make_unique<optim::RMSprop>(
          params, optim::RMSpropOptions(0.01).momentum(0.5).centered(true).weight_decay(0.1));
    };
    const auto g_opt = make(p.gated), h_opt = make(p.host);
    g_opt->set_master_weights(true);
    h_opt->set_master_weights(true);
    p.run(*g_opt, *h_opt, 3, 2);  // parameter 3 starts a step late
    for (size_t i = 0; i < p.gated.size(); ++i) {
      CAPTURE(i);
      CHECK(values(p.gated[i]) == values(p.host[i]));
      CHECK(g_opt->state(p.gated[i])->step == h_opt->state(p.host[i])->step);
      for (const auto& [name, buffer] : h_opt->state(p.host[i])->buffers)
        CHECK(values(g_opt->state(p.gated[i])->buffers.at(name)) == values(buffer));
    }
  }
}

// detail::step_group launches what the group's updates queued, also when a later update throws
// (the parameters before it are then stepped, as they would be without queuing).
TEST_CASE("step_group: queued updates are launched even when a later one throws") {
  struct CountingBatch final : optim::detail::FusedBatch {
    int* launches;
    explicit CountingBatch(int* n) : launches(n) {}
    void launch() override { ++*launches; }
  };
  Tensor a = zeros({2}).requires_grad_(), b = zeros({2}).requires_grad_();
  Tensor c = zeros({2}).requires_grad_();
  for (Tensor* p : {&a, &b, &c}) p->set_grad(ones({2}));
  const optim::ParamGroup group({a, b, c});
  int launches = 0, stepped = 0;
  auto queue_then_throw = [&](const Tensor& p, std::unique_ptr<optim::detail::FusedBatch>* batch) {
    if (p.is_same(c)) HG_FAIL("step_group test: the third update fails");
    if (!*batch) *batch = std::make_unique<CountingBatch>(&launches);
    ++stepped;
  };
  expect_error([&] { optim::detail::step_group(group, queue_then_throw); }, {"third update"});
  CHECK(stepped == 2);
  CHECK(launches == 1);
  launches = stepped = 0;
  c.set_grad(Tensor());  // no gradient: not stepped, so nothing throws
  optim::detail::step_group(group, queue_then_throw);
  CHECK(stepped == 2);
  CHECK(launches == 1);
}
