#include "test_util.h"

using namespace hg;

TEST_CASE("dtype: names and item sizes") {
  CHECK(dtype_name(kFloat32) == "float32");
  CHECK(dtype_name(kBFloat16) == "bfloat16");
  CHECK(itemsize(kFloat16) == 2);
  CHECK(itemsize(kFloat64) == 8);
  CHECK(itemsize(kInt64) == 8);
  CHECK(itemsize(kBool) == 1);
  CHECK(is_floating(kBFloat16));
  CHECK_FALSE(is_floating(kInt64));
}

TEST_CASE("dtype: largest_finite is each floating format's largest value") {
  CHECK(largest_finite(kFloat16) == 65504.0);
  CHECK(largest_finite(kBFloat16) == static_cast<double>(BFloat16::from_bits(0x7f7f)));
  CHECK(largest_finite(kFloat32) == static_cast<double>(std::numeric_limits<float>::max()));
  CHECK(largest_finite(kFloat64) == std::numeric_limits<double>::max());
  CHECK_THROWS_AS(largest_finite(kInt64), Error);
}

TEST_CASE("dtype: promotion follows PyTorch for tensors of equal rank") {
  CHECK(promote_types(kFloat16, kFloat32) == kFloat32);
  CHECK(promote_types(kFloat16, kBFloat16) == kFloat32);
  CHECK(promote_types(kBFloat16, kBFloat16) == kBFloat16);
  CHECK(promote_types(kInt64, kFloat16) == kFloat16);
  CHECK(promote_types(kBool, kUInt8) == kUInt8);
  CHECK(promote_types(kFloat64, kFloat32) == kFloat64);
  CHECK(promote_types(kInt64, kUInt8) == kInt64);
}

TEST_CASE("shape: broadcasting rules") {
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "t") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {5}, "t") == Shape{5});
  CHECK(broadcast_shapes({0, 1}, {1, 3}, "t") == Shape{0, 3});
  hg::test::expect_error(
      [] {
        broadcast_shapes({2, 3}, {4}, "add");
      },
      {"add", "[2, 3]", "[4]", "cannot be broadcast"});
}

TEST_CASE("shape: view strides exist only for compatible layouts") {
  Shape out;
  CHECK(compute_view_strides({2, 3}, {3, 1}, {3, 2}, out));
  CHECK(out == Shape{2, 1});
  CHECK_FALSE(compute_view_strides({3, 2}, {1, 3}, {6}, out));   // transposed
  CHECK(compute_view_strides({3, 2}, {1, 3}, {3, 1, 2}, out));   // inserting 1s is fine
  CHECK(compute_view_strides({4, 5}, {10, 1}, {2, 2, 5}, out));  // row-sliced rows split
  CHECK(out == Shape{20, 10, 1});
}
