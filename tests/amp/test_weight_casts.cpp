// amp::cache_weight_casts (amp/weight_casts.cpp): a region's weight casts made in one launch, one
// backward node, kept in the weight-cast cache. Training through it is bit for bit training
// with the casts made one by one; the kernel family cast_tensors refuses what it does not cast.
#include <sstream>

#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "test_util.h"

using namespace hg;
using hg::test::values;

namespace {

// conv + batch norm (whose affine parameters no 16-bit op uses) + linear, in `dtype`'s O1.
std::shared_ptr<nn::Sequential> small_model() {
  auto model = std::make_shared<nn::Sequential>();
  model->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3).padding(1)));
  model->push_back(std::make_shared<nn::BatchNorm2d>(4));
  model->push_back(std::make_shared<nn::ReLU>());
  model->push_back(std::make_shared<nn::Flatten>());
  model->push_back(std::make_shared<nn::Linear>(4 * 6 * 6, 3));
  return model;
}

// Three SGD steps under autocast(dtype), the weights cast together or one by one.
std::vector<Tensor> train_three_steps(DType dtype, bool together) {
  manual_seed(21);
  auto model = small_model();
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  const Tensor x = randn({5, 1, 6, 6});
  const Tensor y = from_vector(std::vector<int64_t>{0, 2, 1, 1, 0}, kInt64);
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    Tensor loss;
    {
      amp::AutocastGuard region(dtype);
      if (together) amp::cache_weight_casts(model->parameters());
      loss = cross_entropy((*model)(x), y);
    }
    loss.backward();
    opt.step();
  }
  std::vector<Tensor> out = model->parameters();
  for (const Tensor& p : model->parameters()) out.push_back(p.grad());
  return out;
}

int count_nodes(const Tensor& root, const std::string& name) {
  std::ostringstream tape;
  autograd::print_tape(root, tape);
  std::istringstream lines(tape.str());
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string id, node;
    words >> id >> node;
    n += node == name;
  }
  return n;
}

}  // namespace

TEST_CASE("cache_weight_casts: training is bit for bit the casts made one by one") {
  for (DType dtype : {kFloat16, kBFloat16}) {
    INFO(dtype_name(dtype));
    const std::vector<Tensor> together = train_three_steps(dtype, true),
                              apart = train_three_steps(dtype, false);
    REQUIRE(together.size() == apart.size());
    for (size_t i = 0; i < together.size(); ++i) CHECK(hg::test::same_bits(together[i], apart[i]));
  }
}

TEST_CASE("cache_weight_casts: one node for every weight, the ops hit the cache") {
  manual_seed(22);
  const Tensor w1 = randn({4, 4}).requires_grad_(), w2 = randn({2, 4}).requires_grad_();
  const Tensor unused = randn({3}).requires_grad_();  // cast, but no op takes it
  const Tensor x = randn({3, 4});
  Tensor loss;
  {
    amp::AutocastGuard region(kFloat16);
    amp::cache_weight_casts({w1, w2, unused, w1});  // w1 twice: cast once
    CHECK(amp::autocast_stats().casts == 3);
    loss = sum(linear(relu(linear(x, w1)), w2));
    CHECK(amp::autocast_stats().cache_hits == 2);
    CHECK(amp::autocast_stats().casts == 5);  // + x to fp16, and sum's input to fp32
  }
  CHECK(count_nodes(loss, "CastWeightsBackward") == 1);
  CHECK(count_nodes(loss, "CastBackward") == 1);  // sum's input's (x needs no gradient)
  loss.backward();
  CHECK(w1.grad().dtype() == kFloat32);
  CHECK(w2.grad().dtype() == kFloat32);
  CHECK(!unused.grad().defined());  // no gradient reached its copy, none is passed on
}

TEST_CASE("cache_weight_casts: two backward passes in one region through the cached casts") {
  const Tensor w = randn({4, 3}).requires_grad_();
  const Tensor x = randn({2, 3});
  amp::AutocastGuard region(kFloat16);
  amp::cache_weight_casts({w});
  linear(x, w).sum().backward();  // gradient accumulation: the node holds nothing to free
  const std::vector<double> once = values(w.grad());
  linear(x, w).sum().backward();
  const std::vector<double> twice = values(w.grad());
  for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == 2 * once[i]);
}

TEST_CASE("cache_weight_casts: does nothing where the region would cast nothing") {
  const Tensor w = randn({2, 2}).requires_grad_();
  amp::cache_weight_casts({w});  // no region
  {
    amp::AutocastGuard off(kFloat16, false);
    amp::cache_weight_casts({w});
  }
  amp::AutocastGuard region(kBFloat16);  // (the statistics start here)
  {
    NoGradGuard no_grad;  // the cache keeps only taped casts
    amp::cache_weight_casts({w});
  }
  amp::cache_weight_casts({randn({2}).requires_grad_().to(kBFloat16).detach().requires_grad_(),
                           randn({2}, kFloat64).requires_grad_(), randn({2}), Tensor()});
  CHECK(amp::autocast_stats().casts == 0);  // 16-bit already, float64, no grad, undefined
  amp::cache_weight_casts({w});
  amp::cache_weight_casts({w});  // cached and current: not again
  CHECK(amp::autocast_stats().casts == 1);
}

TEST_CASE("cast_tensors: float64, integers, unequal counts or strided views are an hg::Error") {
  const Tensor a = randn({3}, kFloat64), b = zeros({3}, kFloat16), c = zeros({4}, kFloat16);
  const Tensor f = randn({3});
  const kernels::TensorView ins[] = {kernels::view_of(a)}, outs[] = {kernels::view_of(b)};
  hg::test::expect_error([&] { kernels::cast_tensors(kCPU)(ins, outs, 1); },
                         {"cast_tensors", "float64"});
  const kernels::TensorView fin[] = {kernels::view_of(f)}, cout[] = {kernels::view_of(c)};
  hg::test::expect_error([&] { kernels::cast_tensors(kCPU)(fin, cout, 1); },
                         {"cast_tensors", "3 -> 4"});
  const Tensor labels = zeros({3}, kInt64);
  const kernels::TensorView lin[] = {kernels::view_of(labels)}, bout[] = {kernels::view_of(b)};
  hg::test::expect_error([&] { kernels::cast_tensors(kCPU)(lin, bout, 1); },
                         {"cast_tensors", "int64 -> float16"});
  const Tensor wide = randn({3, 2}), narrow = zeros({2, 3}, kFloat16);
  const kernels::TensorView tin[] = {kernels::view_of(wide.t())},
                            tout[] = {kernels::view_of(narrow)};
  hg::test::expect_error([&] { kernels::cast_tensors(kCPU)(tin, tout, 1); },
                         {"cast_tensors", "not contiguous (input)"});
}
