// nn::GroupNorm: parameters, forward = hg::group_norm, no running statistics (the same in eval).
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("GroupNorm: parameters, forward, training and eval alike") {
  manual_seed(6);
  nn::GroupNorm norm(2, 6);
  CHECK(values(norm.weight) == std::vector<double>(6, 1.0));
  CHECK(values(norm.bias) == std::vector<double>(6, 0.0));
  CHECK(norm.buffers().empty());
  const Tensor x = randn({4, 6, 3, 3});
  const Tensor y = norm(x);
  CHECK(hg::test::same_bits(y, group_norm(x, 2, norm.weight, norm.bias)));
  norm.eval();
  CHECK(hg::test::same_bits(norm(x), y));
  // batch-size independent: one sample alone normalises as it did in the batch
  hg::test::expect_close(values(norm(x.slice(0, 1, 2))), values(y.slice(0, 1, 2)), 1e-6, 1e-6);
  CHECK(norm.describe() == "GroupNorm(2, 6, eps=1e-05)");
  nn::GroupNorm plain(nn::GroupNormOptions(3, 6).eps(1e-3).affine(false));
  CHECK(plain.parameters().empty());
  CHECK(plain.describe() == "GroupNorm(3, 6, eps=0.001, affine=false)");
  expect_error([] { nn::GroupNorm(4, 6); }, {"GroupNorm", "num_channels 6", "num_groups 4"});
  expect_error([&] { norm(randn({2, 4, 3})); }, {"GroupNorm(2, 6", "[N, 6, *]", "[2, 4, 3]"});
}
