// cumsum on CUDA against the CPU: the same double sums in the same order, so the same bits,
// forward and backward, along every dim, and for int64.
#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("cuda cumsum: the CPU's bits along each dim, its gradient too") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    for (const int64_t dim : {0, 1, 2}) {
      cuda_test::check_op(
          "cumsum dim " + std::to_string(dim), {cuda_test::strided_input({3, 37, 5}, dtype, 45)},
          [dim](const Inputs& in) { return cumsum(in[0], dim); }, Kind::Exact);
    }
  }
  cuda_test::check_op(
      "cumsum int64", {cuda_test::input({4, 9}, kInt64, 46)},
      [](const Inputs& in) { return cumsum(in[0], 1); }, Kind::Exact);
  CHECK(cumsum(zeros({0, 3}).to(kCUDA), 0).sizes() == Shape{0, 3});
}
