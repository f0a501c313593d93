// nn::Module: registration, dotted names, train/eval, to(DType) keeping identity, zero_grad,
// state_dict round trips and precise load errors.
#include <sstream>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

namespace {
struct Block : nn::Module {
  Block() : nn::Module("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(4, 3));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(3));
  }
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::BatchNorm2d> bn;
};
}  // namespace

TEST_CASE("module: named_parameters use dotted names in registration order") {
  nn::Sequential net{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
                     std::make_shared<Block>()};
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.fc.weight", "2.fc.bias",
                                          "2.bn.weight", "2.bn.bias"});
  std::vector<std::string> buffers;
  for (auto& [n, t] : net.named_buffers()) buffers.push_back(n);
  CHECK(buffers == std::vector<std::string>{"2.bn.running_mean", "2.bn.running_var",
                                            "2.bn.num_batches_tracked"});
  CHECK(net.parameters().size() == 6);
  for (auto& p : net.parameters()) CHECK(p.requires_grad());
  CHECK(net.named_modules().size() == 5);
}

TEST_CASE("module: registration errors are precise") {
  nn::Module m("Custom");
  m.register_parameter("w", zeros({2}));
  expect_error([&] { m.register_parameter("w", zeros({2})); },
               {"Custom", "\"w\"", "already registered"});
  expect_error([&] { m.register_buffer("a.b", zeros({2})); }, {"Custom", "invalid buffer name"});
  expect_error([&] { (void)m.forward(zeros({1})); }, {"Custom", "no unary forward"});
}

namespace {
// A decoder head whose weight is the embedding's (weight tying).
struct TiedHead : nn::Module {
  explicit TiedHead(const Tensor& shared) : nn::Module("TiedHead") {
    weight = register_parameter("weight", shared);
  }
  Tensor weight;
};
}  // namespace

TEST_CASE("module: a tied weight is one parameter for the optimizer, two names in state_dict") {
  auto net = std::make_shared<nn::Module>("Tied");
  auto emb = net->register_module("emb", std::make_shared<nn::Embedding>(10, 4));
  net->register_module("head", std::make_shared<TiedHead>(emb->weight));
  std::vector<std::string> names;
  for (auto& [n, t] : net->named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"emb.weight"});
  CHECK(net->named_parameters(true, false).size() == 2);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));  // no "more than one group" error
  const auto dict = net->state_dict();
  CHECK(dict.count("emb.weight") == 1);
  CHECK(dict.count("head.weight") == 1);
  net->load_state_dict(dict);  // both keys load into the one tensor

  auto twice = std::make_shared<nn::Module>("Twice");  // one child under two names
  auto lin = std::make_shared<nn::Linear>(2, 2);
  twice->register_module("a", lin);
  twice->register_module("b", lin);
  CHECK(twice->parameters().size() == 2);
  CHECK(twice->named_modules().size() == 1);
  CHECK(twice->state_dict().size() == 4);
}

TEST_CASE("module: a module cannot be registered inside itself") {
  auto outer = std::make_shared<nn::Sequential>();
  auto inner = std::make_shared<nn::Sequential>();
  outer->push_back(inner);
  expect_error([&] { outer->register_module("self", outer); },
               {"\"self\"", "cannot be registered inside itself"});
  expect_error([&] { inner->register_module("up", outer); }, {"\"up\"", "contains this module"});
  CHECK(outer->named_modules().size() == 1);
}

TEST_CASE("module: train/eval propagate to children") {
  auto block = std::make_shared<Block>();
  nn::Sequential net{block};
  net.eval();
  CHECK_FALSE(block->bn->is_training());
  net.train();
  CHECK(block->bn->is_training());
}

TEST_CASE("module: to(DType) converts in place, keeps handles, leaves BatchNorm in fp32") {
  Block block;
  Tensor w = block.fc->weight;  // a handle taken before the conversion (as an optimizer would)
  const auto before = values(w);
  block.to(kFloat16);
  CHECK(w.dtype() == kFloat16);
  CHECK(block.fc->weight.is_same(w));
  for (size_t i = 0; i < before.size(); ++i)
    CHECK(values(w)[i] == doctest::Approx(before[i]).epsilon(1e-3));
  CHECK(block.bn->weight.dtype() == kFloat32);
  CHECK(block.bn->running_var.dtype() == kFloat32);
  CHECK(w.requires_grad());
  block.to(kFloat64);
  CHECK(block.bn->weight.dtype() == kFloat64);
  block.to(kFloat32);  // and back: BatchNorm returns to fp32, so the model runs again
  CHECK(block.bn->weight.dtype() == kFloat32);
  CHECK(block.bn->running_mean.dtype() == kFloat32);
  CHECK(block.bn->forward(zeros({2, 3, 2, 2})).dtype() == kFloat32);
  block.to(kFloat64);
  block.to(kFloat16);
  CHECK(block.bn->running_var.dtype() == kFloat32);
}

TEST_CASE("module: to(DType) converts the gradients too, as PyTorch's Module.to") {
  Block block;
  block.fc->weight.set_grad(full(block.fc->weight.sizes(), 0.5));
  block.to(kFloat64);
  CHECK(block.fc->weight.grad().dtype() == kFloat64);
  CHECK(values(block.fc->weight.grad())[0] == 0.5);
}

TEST_CASE("module: parameters, buffers and children share one namespace, as in PyTorch") {
  nn::Module m("M");
  m.register_parameter("w", ones({2}));
  expect_error([&] { m.register_buffer("w", full({2}, 5.0)); },
               {"M", "\"w\" is already registered (as a parameter)"});
  m.register_buffer("b", ones({2}));
  expect_error([&] { m.register_parameter("b", ones({2})); }, {"as a buffer"});
  expect_error([&] { m.register_module("b", std::make_shared<nn::Identity>()); }, {"as a buffer"});
  expect_error([&] { m.register_buffer("u", Tensor()); }, {"M", "buffer \"u\" is undefined"});
  CHECK(m.state_dict().size() == 2);
}

TEST_CASE("module: layers without inputs get a zero bias, as PyTorch (not NaN)") {
  CHECK(values(nn::Linear(0, 3).bias) == std::vector<double>(3, 0.0));
  CHECK(values(nn::Conv2d(0, 2, 3).bias) == std::vector<double>(2, 0.0));
  // and a forward through them is the bias (the row count was inferred from 0 elements)
  nn::Linear empty_in(0, 3);
  empty_in.bias = full({3}, 1.5).requires_grad_();
  const Tensor y = empty_in(zeros({4, 2, 0}));
  CHECK(y.sizes() == Shape{4, 2, 3});
  CHECK(values(y) == std::vector<double>(24, 1.5));
  y.sum().backward();
  CHECK(values(empty_in.bias.grad()) == std::vector<double>(3, 8.0));
  CHECK(empty_in.weight.grad().sizes() == Shape{3, 0});
}

TEST_CASE("module: zero_grad clears or zeroes gradients") {
  nn::Linear fc(3, 2);
  fc(ones({1, 3})).sum().backward();
  CHECK(fc.weight.grad().defined());
  fc.zero_grad(false);
  CHECK(values(fc.weight.grad()) == std::vector<double>(6, 0.0));
  fc.zero_grad();
  CHECK_FALSE(fc.weight.grad().defined());
}

TEST_CASE("module: state_dict round trip and load errors name every difference") {
  manual_seed(1);
  Block a;
  manual_seed(2);
  Block b;
  CHECK(values(a.fc->weight) != values(b.fc->weight));
  b.load_state_dict(a.state_dict());
  CHECK(values(a.fc->weight) == values(b.fc->weight));
  auto state = a.state_dict();
  state.erase("fc.bias");
  state["fc.weight"] = zeros({3, 5});
  state["extra"] = zeros({1});
  try {
    b.load_state_dict(state);
    FAIL("expected an error");
  } catch (const hg::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("3 problems") != std::string::npos);
    CHECK(msg.find("missing key \"fc.bias\" ([3] float32)") != std::string::npos);
    CHECK(msg.find("\"fc.weight\": expected [3, 4] float32, got [3, 5] float32") !=
          std::string::npos);
    CHECK(msg.find("unexpected key \"extra\"") != std::string::npos);
    CHECK(msg.find("another precision") == std::string::npos);  // a shape, not a dtype
  }
  CHECK(values(a.fc->weight) == values(b.fc->weight));  // nothing was changed
  b.to(kFloat16);  // an fp32 state into an fp16 model: refused, with what to do
  expect_error([&] { b.load_state_dict(a.state_dict()); },
               {"expected [3, 4] float16, got [3, 4] float32", "saved at another precision"});
}

TEST_CASE("module: layers compute what their functional forms do, printing") {
  manual_seed(3);
  nn::Linear fc(5, 2);
  Tensor x = randn({3, 5});
  CHECK(values(fc(x)) == values(linear(x, fc.weight, fc.bias)));
  // PyTorch's default init: |w| <= 1 / sqrt(fan_in)
  for (double v : values(fc.weight)) CHECK(std::abs(v) <= 1.0 / std::sqrt(5.0));
  nn::Sequential net{std::make_shared<nn::Linear>(5, 4), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Dropout>(0.5)};
  net.eval();
  Tensor y = net(x);
  CHECK(y.sizes() == Shape{3, 4});
  CHECK(values(y) == values(relu(net[0]->forward(x))));
  CHECK(net[-1] == net[2]);
  expect_error([&] { (void)net[-4]; }, {"Sequential", "index -4", "3 modules", "[-3, 2]"});
  std::ostringstream out;
  out << net;
  CHECK(out.str().find("(0): Linear(in_features=5, out_features=4, bias=true)") !=
        std::string::npos);
  nn::Flatten flat;
  CHECK(flat(zeros({2, 3, 4})).sizes() == Shape{2, 12});
  nn::Embedding emb(10, 3);
  CHECK(emb(from_vector(std::vector<int64_t>{1, 2}, kInt64)).sizes() == Shape{2, 3});
  nn::LayerNorm ln({4});
  CHECK(ln(randn({2, 4})).sizes() == Shape{2, 4});
  nn::Conv2d conv(3, 8, 3);  // in, out, kernel, as Linear(in, out)
  CHECK(conv(randn({1, 3, 5, 5})).sizes() == Shape{1, 8, 3, 3});
  CHECK(conv.bias.defined());
  CHECK(nn::Conv2d(nn::Conv2dOptions(3, 8, 3).dilation(2)).describe().find("dilation=(2, 2)") !=
        std::string::npos);
  nn::Conv2d tall(nn::Conv2dOptions(3, 8, {3, 1}).stride({2, 1}).padding({1, 0}));
  CHECK(tall(randn({1, 3, 5, 5})).sizes() == Shape{1, 8, 3, 5});  // (h, w) options, as conv2d's
  CHECK(tall.describe().find("stride=(2, 1), padding=(1, 0)") != std::string::npos);
  CHECK(nn::MaxPool2d(2).describe() == "MaxPool2d(kernel_size=2, stride=2, padding=0)");
  CHECK(nn::AvgPool2d(3, 1, 1).describe() == "AvgPool2d(kernel_size=3, stride=1, padding=1)");
  CHECK(nn::Dropout(0.5).describe() == "Dropout(p=0.5)");
  CHECK(nn::AdaptiveAvgPool2d(1).describe() == "AdaptiveAvgPool2d(output_size=1)");
  CHECK(nn::AdaptiveMaxPool2d({2, 3}).describe() == "AdaptiveMaxPool2d(output_size=(2, 3))");
  CHECK(nn::Flatten().describe() == "Flatten(start_dim=1, end_dim=-1)");
}

TEST_CASE("BatchNorm2d: to(Device) is not hidden by its to(DType), and training counts batches") {
  nn::BatchNorm2d bn(2);
  bn.to(kCPU);  // failed to compile while BatchNorm2d's to(DType) hid Module::to(Device)
  (void)bn.forward(randn({3, 2, 4, 4}));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  CHECK(bn.num_batches_tracked.dtype() == kInt64);
}

TEST_CASE("BatchNorm1d: [N, C] and [N, C, L] inputs, as the functional form, other ranks refused") {
  nn::BatchNorm1d bn(3);
  const Tensor x = randn({8, 3}) * 2.0 + 1.0;
  const Tensor mean = zeros({3}), var = ones({3});
  CHECK(values(bn(x)) == values(batch_norm(x, mean, var, ones({3}), zeros({3}), true)));
  CHECK(values(bn.running_mean) == values(mean));  // both ran the same update
  const Tensor seq = randn({4, 3, 5});
  CHECK(bn(seq).sizes() == Shape{4, 3, 5});
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);
  CHECK(bn.describe() == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=true)");
  expect_error(
      [&] {
        (void)bn(randn({2, 3, 4, 4}));
      },
      {"BatchNorm1d", "[N, C] or [N, C, L]", "[2, 3, 4, 4] float32"});
  expect_error([&] { (void)nn::BatchNorm2d(3)(x); },
               {"BatchNorm2d", "[N, C, H, W]", "[8, 3] float32"});
  bn.to(kFloat16);  // like BatchNorm2d, it keeps fp32 parameters for amp O2
  CHECK(bn.weight.dtype() == kFloat32);
}

namespace {
struct CountingReLU : nn::ReLU {  // a subclass that overrides forward: never fused
  int calls = 0;
  Tensor forward(const Tensor& x) override {
    ++calls;
    return nn::ReLU::forward(x);
  }
};
}  // namespace

TEST_CASE("Sequential: BatchNorm2d then ReLU runs fused, with the unfused chain's bits") {
  manual_seed(14);
  auto make = [] {
    manual_seed(15);
    return std::make_shared<nn::Sequential>(  // the variadic constructor keeps the order
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 4, 3).padding(1)),
        std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>());
  };
  auto fused = make(), chained = make();
  const Tensor x = randn({3, 2, 6, 6});
  const Tensor y = fused->forward(x);
  Tensor z = x;
  for (const auto& [name, m] : chained->named_children()) z = m->forward(z);
  CHECK(std::string(y.grad_fn()->name()) == "BatchNormReluBackward");
  CHECK(values(y) == values(z));
  y.sum().backward();
  z.sum().backward();
  const auto pf = fused->parameters(), pc = chained->parameters();
  REQUIRE(pf.size() == pc.size());
  for (size_t i = 0; i < pf.size(); ++i) CHECK(values(pf[i].grad()) == values(pc[i].grad()));
  CHECK(values((*fused)[1]->named_buffers()[0].second) ==
        values((*chained)[1]->named_buffers()[0].second));
  // BatchNorm1d fuses too
  nn::Sequential mlp_block({std::make_shared<nn::BatchNorm1d>(3), std::make_shared<nn::ReLU>()});
  CHECK(std::string(mlp_block.forward(randn({4, 3}).requires_grad_()).grad_fn()->name()) ==
        "BatchNormReluBackward");
  // a ReLU subclass may do more than relu: it runs as itself
  auto counting = std::make_shared<CountingReLU>();
  nn::Sequential own({std::make_shared<nn::BatchNorm2d>(2), counting});
  (void)own.forward(randn({2, 2, 3, 3}));
  CHECK(counting->calls == 1);
}

TEST_CASE("activation modules: LeakyReLU, SiLU, Sigmoid, Tanh and Identity") {
  const Tensor x = from_vector(std::vector<float>{-2, -0.5f, 0, 1.5f});
  CHECK(values(nn::LeakyReLU(0.1)(x)) == values(leaky_relu(x, 0.1)));
  CHECK(values(nn::LeakyReLU()(x))[0] == doctest::Approx(-0.02));
  CHECK(values(nn::SiLU()(x)) == values(x * sigmoid(x)));
  CHECK(values(nn::Sigmoid()(x)) == values(sigmoid(x)));
  CHECK(values(nn::Tanh()(x)) == values(tanh(x)));
  CHECK(nn::Identity()(x).is_same(x));
  CHECK(nn::LeakyReLU(0.2).describe() == "LeakyReLU(negative_slope=0.2)");
  nn::Sequential mlp{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::BatchNorm1d>(8),
                     std::make_shared<nn::SiLU>(), std::make_shared<nn::Linear>(8, 2)};
  CHECK(mlp(randn({5, 4})).sizes() == Shape{5, 2});
}

TEST_CASE("init: uniform_ and normal_ check their range and dtype") {
  Tensor w = zeros({3});
  expect_error([&] { nn::init::uniform_(w, 1, 0); },
               {"init::uniform_", "low <= high", "[3] float32"});
  expect_error([&] { nn::init::normal_(w, 0, -1); }, {"init::normal_", "stddev >= 0"});
  Tensor ints = zeros({3}, kInt64);
  expect_error([&] { nn::init::uniform_(ints, 0, 1); }, {"init::uniform_", "floating", "int64"});
  nn::init::uniform_(w, 0.5, 0.5);  // an empty range is a constant
  CHECK(values(w) == std::vector<double>(3, 0.5));
}

TEST_CASE("module: apply visits the module and each descendant once, parents first, and children") {
  auto shared = std::make_shared<nn::Linear>(4, 4);
  nn::Sequential net{std::make_shared<nn::Conv2d>(1, 4, 3), shared, std::make_shared<nn::ReLU>(),
                     shared};
  std::vector<std::string> visited;
  net.apply([&](nn::Module& m) { visited.push_back(m.type_name()); });
  CHECK(visited == std::vector<std::string>{"Sequential", "Conv2d", "Linear", "ReLU"});
  CHECK(net.children().size() == 4);  // the shared Linear twice, as registered
  CHECK(net.children()[1] == shared);
  // the use it is for: a custom initialisation by layer type
  net.apply([](nn::Module& m) {
    if (auto* linear = dynamic_cast<nn::Linear*>(&m)) nn::init::constant_(linear->weight, 0.5);
  });
  CHECK(values(shared->weight) == std::vector<double>(16, 0.5));
}
