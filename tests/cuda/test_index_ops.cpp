// index_select and gather on CUDA (autograd/index_ops.cpp over embedding's lookup kernel): a bad
// index is reported late, as embedding's is (kernels/cuda/target_check.h), naming the op.
#include <cmath>
#include <vector>

#include "parity.h"
#include "test_util.h"

using namespace hg;

TEST_CASE("cuda gather: an index past its dim is reported, even where it lands inside x") {
  HG_REQUIRE_CUDA();
  const Tensor x = arange(0, 12).to(kFloat32).reshape({3, 4}).to(kCUDA);
  // row 0 picks column 5 of a 4-column row: position 5 of x's flat table is a real element (row
  // 1, column 1), so only the gather-side check can tell
  const Tensor index = from_vector<int64_t>({0, 5, 1, 2, 3, 0}, {3, 2}).to(kCUDA);
  const Tensor picked = gather(x, 1, index);
  hg::test::expect_error([] { cuda::synchronize(); },
                         {"gather on CUDA along dim 1 of [3, 4] float32", "[3, 2] int64",
                          "position 1", "out of range"});
  const std::vector<float> values = picked.to(kCPU).to_vector<float>();
  CHECK(std::isnan(values[1]));
  CHECK(values[0] == 0.0f);
  CHECK(values[2] == 5.0f);  // row 1, column 1
  cuda::synchronize();       // reported once
  // a negative index too, and good indices after it report nothing
  (void)gather(x, 0, from_vector<int64_t>({0, -1, 2, 1}, {1, 4}).to(kCUDA));
  hg::test::expect_error([] { cuda::synchronize(); }, {"gather", "position 1"});
  const Tensor good = gather(x, 0, from_vector<int64_t>({2, 1, 0, 2}, {1, 4}).to(kCUDA));
  cuda::synchronize();
  CHECK(good.to(kCPU).to_vector<float>() == std::vector<float>{8, 5, 2, 11});
}

TEST_CASE("cuda index_select: int64 and uint8 tensors through the host, range-checked there") {
  HG_REQUIRE_CUDA();
  const Tensor labels = arange(10, 16).to(kCUDA);
  const Tensor picked = index_select(labels, 0, from_vector<int64_t>({5, 0}, {2}).to(kCUDA));
  CHECK(picked.device() == kCUDA);
  CHECK(picked.to(kCPU).to_vector<int64_t>() == std::vector<int64_t>{15, 10});
  const Tensor bytes = arange(0, 6).reshape({2, 3}).to(kUInt8).to(kCUDA);
  CHECK(index_select(bytes, 1, from_vector<int64_t>({2}, {1}).to(kCUDA))
            .to(kCPU)
            .to(kInt64)
            .to_vector<int64_t>() == std::vector<int64_t>{2, 5});
  hg::test::expect_error(
      [&] { (void)index_select(labels, 0, from_vector<int64_t>({6}, {1}).to(kCUDA)); },
      {"index_select: index 6 is out of range for size 6"});
}

TEST_CASE("cuda index_select: a bad index is reported late, naming index_select") {
  HG_REQUIRE_CUDA();
  const Tensor x = randn({4, 3}).to(kCUDA);
  (void)index_select(x, 0, from_vector<int64_t>({1, 4}, {2}).to(kCUDA));
  hg::test::expect_error([] { cuda::synchronize(); },
                         {"index_select on CUDA along dim 0 of [4, 3] float32", "position 1"});
}
