// cuda::Graph (core/cuda_graph.h): a captured training step replays exactly what the eager step
// computes, memory allocated in the capture stays the graph's, and a capture that waits for the
// device fails cleanly. Skipped without a GPU (except the error without one).
#include <doctest/doctest.h>

#include <limits>
#include <memory>
#include <utility>

#include "cuda_test_util.h"

using namespace hg;

namespace {

std::shared_ptr<nn::Sequential> small_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(12, 16), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(16, 5)});
}

// Two copies of one small mlp on the device: one trained eagerly, one through a graph.
std::pair<std::shared_ptr<nn::Sequential>, std::shared_ptr<nn::Sequential>> twin_mlps() {
  auto eager = small_mlp(), graphed = small_mlp();
  graphed->load_state_dict(eager->state_dict());
  eager->to(kCUDA), graphed->to(kCUDA);
  return {eager, graphed};
}

std::vector<double> values_of(const Tensor& t) {
  return t.detach().to(kCPU).to(kFloat64).to_vector<double>();
}

// One fp16 mixed-precision step with dynamic loss scaling (the scale lives on the device).
Tensor train_step(nn::Module& model, optim::Optimizer& opt, amp::GradScaler& scaler,
                  const Tensor& x, const Tensor& y) {
  opt.zero_grad();
  Tensor loss;
  {
    amp::AutocastGuard region(kFloat16, true);
    loss = cross_entropy(model.forward(x), y);
  }
  scaler.scale(loss).backward();
  scaler.step(opt);
  scaler.update();
  return loss;
}

}  // namespace

TEST_CASE("cuda graph: without a device, capture and replay are errors") {
  if (cuda::is_available()) return;
  cuda::Graph graph;
  hg::test::expect_error([&] { graph.capture([] {}); }, {"Graph::capture", "no CUDA device"});
  hg::test::expect_error([&] { graph.replay(); }, {"Graph::replay"});
  CHECK_FALSE(graph.captured());
  CHECK(graph.kernel_launches() == 0);
  CHECK(graph.nodes() == 0);
}

TEST_CASE("cuda graph: kernel_launches counts the kernels one replay launches") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor a = randn({1000}).to(kCUDA), b = randn({1000}).to(kCUDA);
  cuda::Graph graph;
  CHECK(graph.kernel_launches() == 0);  // nothing captured yet
  Tensor out;
  graph.capture([&] { out = relu(a + b); });  // one add kernel, one relu kernel
  CHECK(graph.kernel_launches() == 2);
}

TEST_CASE("cuda graph: replays of a captured AMP training step equal the eager steps") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(61);
  auto [eager, graphed] = twin_mlps();
  const auto options = optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4);
  optim::SGD eager_opt(eager->parameters(), options), graphed_opt(graphed->parameters(), options);
  amp::GradScaler eager_scaler, graphed_scaler;
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 6; ++i) {
    xs.push_back(randn({8, 12}).to(kCUDA));
    ys.push_back(randint(0, 5, {8}).to(kCUDA));
  }
  Tensor x = xs[0].clone(), y = ys[0].clone();  // the graph's inputs
  for (int i = 0; i < 2; ++i) {  // warm-up: optimizer state and every lazy resource exist
    (void)train_step(*eager, eager_opt, eager_scaler, xs[i], ys[i]);
    x.copy_(xs[i]), y.copy_(ys[i]);
    (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y);
  }
  cuda::Graph graph;
  Tensor loss;
  graph.capture([&] { loss = train_step(*graphed, graphed_opt, graphed_scaler, x, y); });
  CHECK(graph.captured());
  for (int i = 2; i < 6; ++i) {
    const Tensor eager_loss = train_step(*eager, eager_opt, eager_scaler, xs[i], ys[i]);
    x.copy_(xs[i]), y.copy_(ys[i]);
    graph.replay();
    CHECK(values_of(loss) == values_of(eager_loss));  // the same kernels on the same values
  }
  const auto e = eager->parameters(), g = graphed->parameters();
  for (size_t i = 0; i < e.size(); ++i) CHECK(values_of(g[i]) == values_of(e[i]));
  CHECK(graphed_scaler.get_scale() == eager_scaler.get_scale());
}

TEST_CASE("cuda graph: a capture that reads the device back fails and leaves eager work intact") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor a = ones({4}).to(kCUDA);
  cuda::Graph graph;
  hg::test::expect_error([&] { graph.capture([&] { (void)(a * 2.0).sum().item<float>(); }); },
                         {"Graph::capture", "waits for the device"});
  CHECK_FALSE(graph.captured());
  CHECK(values_of((a * 3.0).sum()) == std::vector<double>{12.0});  // eager work runs again
  hg::test::expect_error([&] { graph.capture([] {}); }, {"captured already"});
}

TEST_CASE("cuda graph: memory allocated in a capture is not handed to eager tensors") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor a = ones({1000}).to(kCUDA);
  Tensor out;
  cuda::Graph graph;
  graph.capture([&] {
    const Tensor scratch = a * 2.0;  // freed inside the capture: back to the graph's pool
    out = scratch + 1.0;
  });
  graph.replay();
  const Tensor eager = a * 5.0;  // the same size class as the capture's scratch block
  graph.replay();                // would overwrite `eager` if it had been given that block
  CHECK(values_of(eager) == std::vector<double>(1000, 5.0));
  CHECK(values_of(out) == std::vector<double>(1000, 3.0));
}

// This case runs in a process of its own (doctest_discover_tests), so the captured linear is
// the process's first cuBLASLt call: Graph::capture makes cuBLASLt's handle and workspace before
// capturing, so the eager call after the graph (and its memory pool) is gone does not use a
// workspace from that pool.
TEST_CASE("cuda graph: a captured linear that is the process's first cuBLASLt call") {
  if (!hg::test::cuda_or_skip()) return;
  const TensorOptions half = TensorOptions(kFloat16).device(kCUDA);
  const Tensor x = randn({128, 784}, half), w = randn({512, 784}, half), b = randn({512}, half);
  std::vector<double> captured;
  {
    cuda::Graph graph;
    Tensor out;
    graph.capture([&] { out = linear(x, w, b); });
    graph.replay();
    captured = values_of(out);
  }
  const int64_t before = cuda::cublaslt_epilogue_calls();
  const Tensor eager = linear(x, w, b);
  CHECK(cuda::cublaslt_epilogue_calls() == before + 1);
  CHECK(values_of(eager) == captured);
}

TEST_CASE("cuda graph: AdamW's step number advances through replays, skips and reads between") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(62);
  auto [eager, graphed] = twin_mlps();
  const auto options = optim::AdamWOptions(1e-2).weight_decay(0.1);
  optim::AdamW eager_opt(eager->parameters(), options), graphed_opt(graphed->parameters(), options);
  amp::GradScaler eager_scaler, graphed_scaler;
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 8; ++i) {
    Tensor xi = randn({8, 12});
    if (i == 4) xi.fill_(std::numeric_limits<double>::infinity());  // an overflow: a skip
    xs.push_back(xi.to(kCUDA));
    ys.push_back(randint(0, 5, {8}).to(kCUDA));
  }
  Tensor x = xs[0].clone(), y = ys[0].clone();
  for (int i = 0; i < 2; ++i) {  // the gated run begins eagerly
    (void)train_step(*eager, eager_opt, eager_scaler, xs[i], ys[i]);
    x.copy_(xs[i]), y.copy_(ys[i]);
    (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y);
  }
  cuda::Graph graph;
  graph.capture([&] { (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y); });
  for (int i = 2; i < 8; ++i) {  // a frozen step number would part the two from step 3 on
    (void)train_step(*eager, eager_opt, eager_scaler, xs[i], ys[i]);
    x.copy_(xs[i]), y.copy_(ys[i]);
    graph.replay();
    // read between replays: settles into the host's counts and keeps the graph's counter live
    if (i == 5) CHECK(graphed_opt.steps_taken() == eager_opt.steps_taken());
  }
  x.copy_(xs[1]), y.copy_(ys[1]);  // and one eager step after them continues the same run
  (void)train_step(*eager, eager_opt, eager_scaler, xs[1], ys[1]);
  (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y);
  const auto e = eager->parameters(), g = graphed->parameters();
  for (size_t i = 0; i < e.size(); ++i) CHECK(values_of(g[i]) == values_of(e[i]));
  CHECK(graphed_scaler.skipped_steps() == 1);
  CHECK(graphed_opt.steps_taken() == eager_opt.steps_taken());  // 8, of 9 issued
  CHECK(graphed_opt.state(g[0])->step == 8);
}

TEST_CASE("cuda graph: the lr a scheduler sets between replays is the one the replay uses") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(64);
  auto [eager, graphed] = twin_mlps();
  const auto options = optim::SGDOptions(0.2).momentum(0.9);
  optim::SGD eager_opt(eager->parameters(), options), graphed_opt(graphed->parameters(), options);
  optim::StepLR eager_lr(eager_opt, 1, 0.7), graphed_lr(graphed_opt, 1, 0.7);
  amp::GradScaler eager_scaler, graphed_scaler;
  const Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 5, {8}).to(kCUDA);
  for (int i = 0; i < 2; ++i) {  // warm-up: the group's lr tensor exists after the first step
    (void)train_step(*eager, eager_opt, eager_scaler, x, y), eager_lr.step();
    (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y), graphed_lr.step();
  }
  cuda::Graph graph;
  graph.capture([&] { (void)train_step(*graphed, graphed_opt, graphed_scaler, x, y); });
  for (int i = 0; i < 4; ++i) {  // a frozen lr would part the two at the first replay
    (void)train_step(*eager, eager_opt, eager_scaler, x, y), eager_lr.step();
    graph.replay(), graphed_lr.step();
  }
  const auto e = eager->parameters(), g = graphed->parameters();
  for (size_t i = 0; i < e.size(); ++i) CHECK(values_of(g[i]) == values_of(e[i]));
  cuda::Graph second;  // a scheduler step or set_lr inside a capture would be frozen: refused
  hg::test::expect_error([&] { second.capture([&] { graphed_lr.step(); }); },
                         {"Graph::capture", "StepLR.step", "between replays"});
  cuda::Graph third;
  hg::test::expect_error(
      [&] { third.capture([&] { graphed_opt.param_groups()[0].set_lr(0.01); }); },
      {"Graph::capture", "set_lr", "outside the capture"});
}

TEST_CASE("cuda graph: a plain fp32 Adam step is counted on the device, so replays count") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(66);
  auto [eager, graphed] = twin_mlps();
  optim::Adam eager_opt(eager->parameters(), optim::AdamOptions(1e-2)),
      graphed_opt(graphed->parameters(), optim::AdamOptions(1e-2));
  const Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 5, {8}).to(kCUDA);
  const auto step = [&](nn::Module& model, optim::Optimizer& opt) {
    opt.zero_grad();
    cross_entropy(model.forward(x), y).backward();
    opt.step();  // no scaler: the step number must still advance with each replay
  };
  for (int i = 0; i < 2; ++i) step(*eager, eager_opt), step(*graphed, graphed_opt);
  CHECK(graphed_opt.host_readbacks() == 0);
  cuda::Graph graph;
  graph.capture([&] { step(*graphed, graphed_opt); });
  for (int i = 0; i < 4; ++i) step(*eager, eager_opt), graph.replay();
  const auto e = eager->parameters(), g = graphed->parameters();
  for (size_t i = 0; i < e.size(); ++i) CHECK(values_of(g[i]) == values_of(e[i]));
  CHECK(graphed_opt.steps_taken() == 6);
  CHECK(eager_opt.steps_taken() == 6);
}

TEST_CASE("cuda graph: an SGD step is one launch, its count included, and scale() one product") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(67);
  auto [model, unused] = twin_mlps();
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  amp::GradScaler scaler;
  const Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 5, {8}).to(kCUDA);
  for (int i = 0; i < 2; ++i) {  // plain steps: momentum buffers, then a run to continue
    opt.zero_grad();
    cross_entropy(model->forward(x), y).backward();
    opt.step();
  }
  cuda::Graph step_graph;
  step_graph.capture([&] { opt.step(); });
  CHECK(step_graph.kernel_launches() == 1);  // the update and the run's count in sgd_kernel
  for (int i = 0; i < 3; ++i) step_graph.replay();
  CHECK(opt.steps_taken() == 2 + 3);  // the capture records the step, replays apply it
  const Tensor loss = cross_entropy(model->forward(x), y).detach();
  Tensor scaled = scaler.scale(loss);  // the scaler's device state exists from here
  cuda::Graph scale_graph;
  scale_graph.capture([&] { scaled = scaler.scale(loss); });
  CHECK(scale_graph.kernel_launches() == 1);  // no cast of the scale: update() keeps it in fp32
  scale_graph.replay();
  CHECK(scaled.to(kCPU).item<float>() == loss.to(kCPU).item<float>() * 65536.0f);
}

TEST_CASE("cuda graph: a capture that would make optimizer state fails before changing any") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(65);
  auto model = small_mlp();
  model->to(kCUDA);
  const Tensor w = model->parameters()[0];
  optim::AdamW opt(model->parameters(), optim::AdamWOptions(1e-2));
  const Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 5, {8}).to(kCUDA);
  amp::GradScaler overflowing(amp::GradScalerOptions().init_scale(1e38)), scaler, after;
  (void)train_step(*model, opt, overflowing, x, y);  // 16-bit gradients overflow: skipped
  optim::SGD warm(model->parameters(), optim::SGDOptions(0.0));
  (void)train_step(*model, warm, scaler, x, y);  // scaler's device state exists
  CHECK(opt.steps_taken() == 0);  // settles: the never-updated parameters lose their zeros
  CHECK(opt.state(w) == nullptr);
  cuda::Graph graph;  // the run goes on, but its step would make exp_avg: refused
  hg::test::expect_error(
      [&] { graph.capture([&] { (void)train_step(*model, opt, scaler, x, y); }); },
      {"Graph::capture", "AdamW.step", "state buffers", "warm up"});
  (void)train_step(*model, opt, after, x, y);  // eager: the first applied step, counted once
  CHECK(opt.steps_taken() == 1);
  CHECK(opt.state(w)->step == 1);
}

TEST_CASE("cuda graph: a gated run begun inside the capture, or a host copy, fails the capture") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(63);
  auto model = small_mlp();
  model->to(kCUDA);
  optim::AdamW opt(model->parameters(), optim::AdamWOptions(1e-2));
  amp::GradScaler scaler;
  const Tensor x = randn({8, 12}).to(kCUDA), y = randint(0, 5, {8}).to(kCUDA);
  optim::SGD warm(model->parameters(), optim::SGDOptions(0.0));
  (void)train_step(*model, warm, scaler, x, y);  // the scaler's device state exists; AdamW's not
  cuda::Graph first;
  hg::test::expect_error(
      [&] { first.capture([&] { (void)train_step(*model, opt, scaler, x, y); }); },
      {"Graph::capture", "AdamW", "before the capture"});
  const Tensor big = randn({1 << 20});  // 4 MiB: the pinned staging path
  cuda::Graph second;
  hg::test::expect_error([&] { second.capture([&] { (void)big.to(kCUDA); }); },
                         {"Graph::capture", "4194304 bytes", "from the host"});
  CHECK(values_of(big.to(kCUDA)) == values_of(big));  // eager staging copies still work
}

TEST_CASE("cuda graph: a captured loss is its kernels alone, and its target check stays eager") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor x = randn({3, 10}).to(kCUDA);
  const Tensor good = from_vector<int64_t>({1, 2, 3}, {3}, kInt64).to(kCUDA);
  Tensor targets = good.clone(), loss = cross_entropy(x, targets);
  cuda::Graph graph;
  graph.capture([&] { loss = cross_entropy(x, targets); });
  CHECK(graph.kernel_launches() == 1);  // the rows' losses, and their mean in the last block
  CHECK(graph.nodes() == 1);  // no reset or copy of the bad-target slot: replays never report
  targets.copy_(from_vector<int64_t>({1, 2, 10}, {3}, kInt64).to(kCUDA));
  graph.replay();  // leaves row 2 in the device slot
  CHECK(std::isnan(loss.to(kCPU).item<float>()));
  cuda::synchronize();  // nothing was queued by the replay
  // an eager loss resets the slot before its kernel, so the replay's finding is not its own
  const Tensor eager = cross_entropy(x, good);
  cuda::synchronize();
  CHECK(std::isfinite(eager.to(kCPU).item<float>()));
}
