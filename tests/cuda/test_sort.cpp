// argsort on CUDA (kernels/cuda/sort.cu) against the CPU's std::stable_sort, to the index: rows
// that fit one shared-memory tile and rows that need merge rounds, many ties, NaN and signed
// zeros, both directions, every floating dtype.
#include <cmath>
#include <string>
#include <vector>

#include "parity.h"

using namespace hg;

namespace {

// rows x cols values from a few distinct levels (so most values tie), with NaN, -0 and +0.
Tensor tied_values(int64_t rows, int64_t cols, DType dtype, uint64_t seed) {
  const Tensor draw = cuda_test::input({rows, cols}, kFloat64, seed, 0.0, 1.0);
  std::vector<double> v = draw.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) {
    const int level = static_cast<int>(v[i] * 13.0);  // 0 .. 12
    v[i] = level == 0 ? NAN : level == 1 ? -0.0 : level == 2 ? 0.0 : (level - 7) * 0.25;
  }
  return from_vector<double>(v, {rows, cols}).to(dtype);
}

void expect_same(const Tensor& cuda_result, const Tensor& cpu_result, const std::string& what) {
  REQUIRE_MESSAGE(cuda_result.sizes() == cpu_result.sizes(), what);
  const std::vector<double> got = cuda_result.to(kCPU).to(kFloat64).to_vector<double>();
  const std::vector<double> want = cpu_result.to(kFloat64).to_vector<double>();
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool same = std::isnan(want[i])
                          ? std::isnan(got[i])
                          : got[i] == want[i] && std::signbit(got[i]) == std::signbit(want[i]);
    if (!same && reported++ < 5)
      FAIL_CHECK(what << " element " << i << ": cuda " << got[i] << " vs cpu " << want[i]);
  }
}

}  // namespace

TEST_CASE("cuda sort matches the CPU's stable order to the index, short and long rows") {
  HG_REQUIRE_CUDA();
  // 2048 entries fill one tile; 2049 and 5000 take merge rounds (padded to 4096 and 8192)
  for (int64_t cols : {1, 2, 3, 100, 2047, 2048, 2049, 5000}) {
    for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
      const Tensor x = tied_values(3, cols, dtype, static_cast<uint64_t>(cols));
      const Tensor on_device = x.to(kCUDA);
      for (bool descending : {false, true}) {
        const std::string what = "sort of " + std::to_string(cols) + " columns (" +
                                 std::string(dtype_name(dtype)) +
                                 (descending ? ", descending)" : ", ascending)");
        const auto want = sort(x, 1, descending);
        const auto got = sort(on_device, 1, descending);
        expect_same(got.indices, want.indices, what + " indices");
        expect_same(got.values, want.values, what + " values");
        expect_same(argsort(on_device, 1, descending), want.indices, what + " argsort");
      }
    }
  }
}

TEST_CASE("cuda topk over a long row with ties matches the CPU") {
  HG_REQUIRE_CUDA();
  const Tensor x = tied_values(2, 3000, kFloat16, 7);
  for (bool largest : {true, false}) {
    const auto want = topk(x, 40, -1, largest);
    const auto got = topk(x.to(kCUDA), 40, -1, largest);
    expect_same(got.indices, want.indices, largest ? "topk largest" : "topk smallest");
    expect_same(got.values, want.values, "topk values");
  }
}

TEST_CASE("cuda sort along a middle dimension of a non-contiguous tensor") {
  HG_REQUIRE_CUDA();
  const Tensor x = tied_values(2600, 6, kFloat32, 11).reshape({2, 1300, 6}).transpose(0, 2);
  const auto want = sort(x, 1, false);  // rows of 1300 along dim 1: [6, 1300, 2]
  const auto got = sort(x.to(kCUDA), 1, false);
  expect_same(got.indices, want.indices, "sort dim 1 indices");
  expect_same(got.values, want.values, "sort dim 1 values");
}
