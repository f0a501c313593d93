// nn::ModuleList: registration under "0", "1", ..., indexing, typed access, iteration, and that
// what a Module does to its children (parameters, to(), eval(), state dicts) reaches the list's.
#include <sstream>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

namespace {
// A residual MLP whose depth is a constructor argument: the ModuleList's use case.
struct ResidualMlp : nn::Module {
  explicit ResidualMlp(int depth) : nn::Module("ResidualMlp") {
    blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int i = 0; i < depth; ++i) blocks->push_back(std::make_shared<nn::Linear>(4, 4));
    head = register_module("head", std::make_shared<nn::Linear>(4, 2));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (const auto& block : *blocks) h = h + relu(block->forward(h));
    return head->forward(h);
  }
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Linear> head;
};
}  // namespace

TEST_CASE("ModuleList: its modules are children named by position, reached by parameters()") {
  ResidualMlp net(3);
  CHECK(net.blocks->size() == 3);
  CHECK_FALSE(net.blocks->empty());
  std::vector<std::string> names;
  for (auto& [name, t] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                          "blocks.1.bias", "blocks.2.weight", "blocks.2.bias",
                                          "head.weight", "head.bias"});
  CHECK(net.state_dict().count("blocks.2.bias") == 1);
  net.to(kFloat16);
  CHECK(net.blocks->at<nn::Linear>(1)->weight.dtype() == kFloat16);
  net.eval();
  CHECK_FALSE((*net.blocks)[0]->is_training());
}

TEST_CASE("ModuleList: the owner's forward calls the layers, and gradients reach them") {
  manual_seed(3);
  ResidualMlp net(2);
  const Tensor x = randn({5, 4});
  net.forward(x).sum().backward();
  for (const auto& block : *net.blocks)
    CHECK(static_cast<nn::Linear&>(*block).weight.grad().defined());
  Tensor h = x;  // the same computation written out
  h = h +
      relu(linear(h, net.blocks->at<nn::Linear>(0)->weight, net.blocks->at<nn::Linear>(0)->bias));
  h = h +
      relu(linear(h, net.blocks->at<nn::Linear>(1)->weight, net.blocks->at<nn::Linear>(1)->bias));
  CHECK(values(net.forward(x)) == values(linear(h, net.head->weight, net.head->bias)));
}

TEST_CASE("ModuleList: indexing, typed access, construction and errors") {
  auto relu_layer = std::make_shared<nn::ReLU>();
  auto fc = std::make_shared<nn::Linear>(3, 2);
  auto list = std::make_shared<nn::ModuleList>(fc, relu_layer);  // the variadic constructor
  CHECK(list->size() == 2);
  CHECK((*list)[-1] == (*list)[1]);
  CHECK(list->at<nn::Linear>(0) == fc);
  nn::ModuleList braced{fc, relu_layer};
  CHECK(braced[0] == fc);
  std::vector<std::shared_ptr<nn::Module>> seen(list->begin(), list->end());
  CHECK(seen == std::vector<std::shared_ptr<nn::Module>>{fc, relu_layer});
  expect_error([&] { (void)(*list)[2]; }, {"ModuleList", "index 2", "2 modules", "[-2, 1]"});
  expect_error([] { (void)nn::ModuleList()[0]; }, {"ModuleList", "index 0", "holds no modules"});
  expect_error([&] { (void)list->at<nn::Linear>(1); },
               {"ModuleList", "at(1)", "ReLU()", "not of the type asked for"});
  expect_error([&] { (void)(*list)(randn({1, 3})); }, {"ModuleList", "no unary forward"});
  nn::Sequential net{fc, relu_layer};  // a Sequential is a ModuleList that runs its modules
  CHECK(net.at<nn::ReLU>(1) == relu_layer);
  expect_error([&] { (void)net.at<nn::Linear>(-1); }, {"Sequential", "at(-1)", "ReLU()"});
  std::ostringstream printed;
  printed << *list;
  CHECK(printed.str().find("(1): ReLU()") != std::string::npos);
}
