// Misuse table, nn: layer shapes, losses, state dicts. Each mistake gives one clear hg::Error
// and leaves the module's weights as they were.
#include "misuse_util.h"

using namespace hg;
using hg::test::bits;
using hg::test::expect_misuse_error;

TEST_CASE("misuse: nn") {
  nn::Linear fc(4, 2);
  nn::Conv2d conv(nn::Conv2dOptions(3, 8, 3));
  const auto fc_bits = bits(fc.weight), conv_bits = bits(conv.parameters()[0]);
  expect_misuse_error("nn", "Linear(4, 2) on [5, 3] input",
                      [&] {
                        (void)fc(randn({5, 3}));
                      },
                      {"linear", "[5, 3]", "[2, 4]"});
  expect_misuse_error("nn", "Conv2d(3 -> 8) on a 1-channel image",
                      [&] {
                        (void)conv(randn({1, 1, 8, 8}));
                      },
                      {"conv2d", "[1, 1, 8, 8]"});
  expect_misuse_error("nn", "Conv2d on a 3-D input",
                      [&] {
                        (void)conv(randn({3, 8, 8}));
                      },
                      {"conv2d", "[3, 8, 8]"});
  expect_misuse_error(
      "nn", "cross_entropy with a class index out of range",
      [] {
        (void)cross_entropy(randn({2, 3}), from_vector(std::vector<int64_t>{0, 3}, {2}, kInt64));
      },
      {"cross_entropy", "3"});
  expect_misuse_error("nn", "cross_entropy with float targets",
                      [] {
                        (void)cross_entropy(randn({2, 3}), zeros({2}));
                      },
                      {"cross_entropy: expected int64 targets [2]", "got [2] float32"});
  expect_misuse_error("nn", "load_state_dict with a missing key",
                      [&] {
                        fc.load_state_dict({{"weight", zeros({2, 4})}});
                      },
                      {"missing key \"bias\""});
  expect_misuse_error("nn", "load_state_dict with a wrong shape",
                      [&] {
                        fc.load_state_dict({{"weight", zeros({4, 2})}, {"bias", zeros({2})}});
                      },
                      {"\"weight\"", "expected", "[2, 4]", "got", "[4, 2]"});
  expect_misuse_error(
      "nn", "load_state_dict with an unexpected key",
      [&] {
        fc.load_state_dict(
            {{"weight", zeros({2, 4})}, {"bias", zeros({2})}, {"scale", zeros({1})}});
      },
      {"unexpected key \"scale\""});
  expect_misuse_error("nn", "load_state_dict with an undefined tensor",
                      [&] {
                        fc.load_state_dict({{"weight", Tensor()}, {"bias", zeros({2})}});
                      },
                      {"\"weight\": expected [2, 4] float32, got an undefined tensor"});
  expect_misuse_error("nn", "save_safetensors of an undefined tensor",
                      [] {
                        nn::save_safetensors({{"a", Tensor()}}, "/tmp/never_written");
                      },
                      {"save_safetensors: tensor \"a\" is undefined"});
  expect_misuse_error("nn", "load a file that does not exist",
                      [&] { nn::load(fc, "/nonexistent/model.safetensors"); },
                      {"no such file", "/nonexistent/model.safetensors"});
  CHECK(bits(fc.weight) == fc_bits);
  CHECK(bits(conv.parameters()[0]) == conv_bits);
}
