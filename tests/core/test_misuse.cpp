// Misuse table, tensors: shapes, dtypes and devices. Each mistake gives one clear hg::Error and
// leaves its inputs as they were.
#include "misuse_util.h"

using namespace hg;
using hg::test::bits;
using hg::test::expect_misuse_error;

TEST_CASE("misuse: shapes") {
  const Tensor a = randn({2, 3}), b = randn({4}), m = randn({4, 5});
  const auto a_bits = bits(a), b_bits = bits(b);
  expect_misuse_error("shapes", "add [2, 3] + [4] (not broadcastable)", [&] { (void)(a + b); },
                      {"[2, 3]", "[4]"});
  expect_misuse_error("shapes", "matmul [2, 3] @ [4, 5]", [&] { (void)a.matmul(m); },
                      {"matmul", "[2, 3]", "[4, 5]"});
  expect_misuse_error("shapes", "view [2, 3] as [7]", [&] { (void)a.view({7}); },
                      {"view", "[2, 3]", "[7]"});
  expect_misuse_error("shapes", "view of a non-contiguous (transposed) tensor",
                      [&] { (void)a.t().view({6}); }, {"view", "contiguous"});
  expect_misuse_error("shapes", "narrow past the end", [&] { (void)a.narrow(1, 2, 2); },
                      {"narrow", "[2, 3]"});
  expect_misuse_error("shapes", "cat of [2, 3] and [4] along dim 0",
                      [&] {
                        (void)cat({a, b}, 0);
                      },
                      {"cat"});
  expect_misuse_error("shapes", "copy_ of [4] into [2, 3]", [&] { Tensor(a).copy_(b); },
                      {"copy_", "[2, 3]", "[4]"});
  expect_misuse_error("shapes", "item() of a [2, 3] tensor", [&] { (void)a.item<float>(); },
                      {"item: expected a tensor with one element", "[2, 3]"});
  expect_misuse_error("shapes", "negative size",
                      [] {
                        (void)empty({2, -1});
                      },
                      {"negative size", "[2, -1]"});
  expect_misuse_error("shapes", "9 dimensions (the limit is 8)",
                      [] {
                        (void)zeros({1, 1, 1, 1, 1, 1, 1, 1, 1});
                      },
                      {"empty: shape", "8"});
  expect_misuse_error("shapes", "from_vector with the wrong count",
                      [] {
                        (void)from_vector(std::vector<float>{1, 2, 3}, {2, 2});
                      },
                      {"from_vector", "[2, 2]"});
  CHECK(bits(a) == a_bits);
  CHECK(bits(b) == b_bits);
}

TEST_CASE("misuse: dtypes") {
  const Tensor f = randn({3}), i = arange(3, kInt64);
  const auto f_bits = bits(f);
  expect_misuse_error("dtypes", "data<float>() of an int64 tensor", [&] { (void)i.data<float>(); },
                      {"data<float32>", "int64"});
  expect_misuse_error("dtypes", "requires_grad on an int64 tensor",
                      [&] { Tensor(i).requires_grad_(); }, {"requires_grad", "int64"});
  expect_misuse_error("dtypes", "rand with an integer dtype", [] { (void)rand({2}, kInt64); },
                      {"rand: expected a floating dtype", "int64"});
  expect_misuse_error("dtypes", "randint with low >= high", [] { (void)randint(3, 3, {2}); },
                      {"randint: expected low < high"});
  expect_misuse_error("dtypes", "use of an undefined tensor", [] { (void)Tensor().sizes(); },
                      {"undefined tensor"});
  expect_misuse_error("dtypes", "expand_as an undefined tensor",
                      [&] { (void)f.expand_as(Tensor()); },
                      {"expand_as (its argument): got an undefined tensor"});
  CHECK(bits(f) == f_bits);
}

TEST_CASE("misuse: devices (CUDA requests without a GPU)") {
  if (cuda::is_available()) return;  // these are the messages of a machine without a GPU
#ifdef HG_WITH_CUDA
  const char* why = "no CUDA device";  // built with CUDA, run where there is no GPU (CI)
#else
  const char* why = "built without CUDA";
#endif
  const Tensor x = randn({2, 2});
  const auto x_bits = bits(x);
  expect_misuse_error("devices", "zeros on cuda without CUDA", [] { (void)zeros({2}, kCUDA); },
                      {"cuda", why});
  expect_misuse_error("devices", "tensor.to(cuda) without CUDA", [&] { (void)x.to(kCUDA); },
                      {"cuda", why});
  expect_misuse_error("devices", "a module .to(cuda) without CUDA",
                      [] {
                        nn::Linear fc(2, 2);
                        fc.to(kCUDA);
                      },
                      {"cuda", why});
  CHECK(bits(x) == x_bits);
}
