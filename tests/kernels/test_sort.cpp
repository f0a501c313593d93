// The CPU's argsort kernel (kernels/cpu/sort.cpp), called through its table: each row's order is
// a permutation that sorts the row stably, NaN last ascending and first descending, in every
// floating dtype; checked against a reference order worked out in double.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "halfgrad/kernels/kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "test_util.h"

using namespace hg;

namespace {

// The stable order of `row` (NaN placed as the kernel's contract says).
std::vector<int64_t> reference_order(const std::vector<double>& row, bool descending) {
  std::vector<int64_t> order(row.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const double x = row[a], y = row[b];
    if (std::isnan(x) || std::isnan(y))
      return descending ? std::isnan(x) && !std::isnan(y) : std::isnan(y) && !std::isnan(x);
    return descending ? x > y : x < y;
  });
  return order;
}

std::vector<int64_t> kernel_order(const Tensor& rows, bool descending) {
  Tensor order = empty(rows.sizes(), TensorOptions(kInt64));
  kernels::argsort(kCPU)(kernels::view_of(rows), kernels::view_of(order), descending);
  return order.to_vector<int64_t>();
}

}  // namespace

TEST_CASE("argsort (CPU): stable, NaN placed, in every floating dtype") {
  // 3 rows of 40: few distinct values (many ties, exact in every dtype), NaNs in the middle row,
  // the last row all equal
  std::vector<double> values(120);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = i >= 80 ? 1.5 : static_cast<double>((i * 7) % 5) - 2.0;
  values[45] = values[52] = NAN;
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    const Tensor rows = from_vector(values, {3, 40}).to(dtype);
    for (bool descending : {false, true}) {
      CAPTURE(descending);
      const std::vector<int64_t> got = kernel_order(rows, descending);
      for (size_t r = 0; r < 3; ++r) {
        const std::vector<double> row(values.begin() + 40 * r, values.begin() + 40 * (r + 1));
        const std::vector<int64_t> want = reference_order(row, descending);
        CHECK(std::vector<int64_t>(got.begin() + 40 * r, got.begin() + 40 * (r + 1)) == want);
      }
    }
  }
}
