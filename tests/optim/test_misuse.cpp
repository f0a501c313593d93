// Misuse table, optim: options, groups, state dicts, schedulers, clipping. Each mistake gives
// one clear hg::Error and leaves weights and optimizer state as they were.
#include "misuse_util.h"

using namespace hg;
using hg::test::bits;
using hg::test::expect_misuse_error;

TEST_CASE("misuse: optim") {
  nn::Linear fc(3, 2);
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  fc.weight.set_grad(ones({2, 3}));
  fc.bias.set_grad(ones({2}));
  opt.step();
  const auto w_bits = bits(fc.weight);
  const auto buf_bits = bits(opt.state(fc.weight)->buffers.at("momentum_buffer"));

  expect_misuse_error("optim", "negative learning rate",
                      [&] { optim::SGD bad(fc.parameters(), optim::SGDOptions(-0.1)); },
                      {"SGD", "lr", "-0.1"});
  expect_misuse_error("optim", "a parameter in two groups",
                      [&] { opt.add_param_group(optim::ParamGroup({fc.weight})); },
                      {"add_param_group"});
  expect_misuse_error("optim", "a non-leaf tensor as a parameter",
                      [&] { optim::SGD bad({fc.weight * 2.0}, optim::SGDOptions(0.1)); }, {"leaf"});
  expect_misuse_error("optim", "an integer tensor as a parameter",
                      [&] { optim::SGD bad({arange(3, kInt64)}, optim::SGDOptions(0.1)); },
                      {"int64"});
  expect_misuse_error("optim", "load_state_dict from an Adam into an SGD",
                      [&] {
                        optim::Adam adam(fc.parameters(), optim::AdamOptions(0.1));
                        opt.load_state_dict(adam.state_dict());
                      },
                      {"SGD.load_state_dict", "another kind of optimizer"});
  expect_misuse_error("optim", "load_state_dict with master weights into one without",
                      [&] {
                        nn::Linear other(3, 2);
                        optim::SGD with(other.parameters(), optim::SGDOptions(0.1));
                        with.set_master_weights(true);
                        opt.load_state_dict(with.state_dict());
                      },
                      {"master weights on", "call set_master_weights first"});
  expect_misuse_error("optim", "a gradient whose shape differs from its parameter",
                      [&] {
                        fc.bias.set_grad(ones({2}));
                        Tensor g = ones({3});
                        fc.bias.impl()->autograd.grad = g;  // bypasses set_grad's check
                        opt.step();
                      },
                      {"SGD.step: gradient", "[3]", "[2]"});
  fc.bias.set_grad(ones({2}));
  expect_misuse_error("optim", "OneCycleLR stepped past total_steps",
                      [&] {
                        optim::OneCycleLR sched(opt, 0.1, 2);
                        for (int i = 0; i < 3; ++i) sched.step();
                      },
                      {"OneCycleLR", "total_steps"});
  expect_misuse_error("optim", "clip_grad_norm_ with a negative max_norm",
                      [&] { optim::clip_grad_norm_(fc.parameters(), -1.0); },
                      {"clip_grad_norm_: invalid max_norm: -1"});
  expect_misuse_error("optim", "clip_grad_norm_ of non-finite gradients with error_if_nonfinite",
                      [&] {
                        fc.weight.set_grad(full({2, 3}, INFINITY));
                        optim::clip_grad_norm_(fc.parameters(), 1.0, 2.0, true);
                      },
                      {"clip_grad_norm_", "non-finite"});
  CHECK(bits(fc.weight) == w_bits);
  CHECK(bits(opt.state(fc.weight)->buffers.at("momentum_buffer")) == buf_bits);
}
