// argsort on the CPU: each row's indices put in order by std::stable_sort on the values in the
// compute type (NaN after every number ascending, before every number descending).
#include <algorithm>
#include <numeric>
#include <vector>

#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

void argsort(const TensorView& in, const TensorView& out, bool descending) {
  const int64_t rows = in.sizes[0], cols = in.sizes[1];
  dispatch_floating(in.dtype, "argsort", [&]<typename T>() {
    using C = compute_t<T>;
    // x before y in the order; NaNs are equivalent to each other, so the sort keeps them stable
    const auto before = [descending](C x, C y) {
      if (descending) return (x != x && y == y) || x > y;
      return (y != y && x == x) || x < y;
    };
    const T* data = in.ptr<T>();
    int64_t* order = out.ptr<int64_t>();
    std::vector<C> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) row[c] = static_cast<C>(data[r * cols + c]);
      int64_t* o = order + r * cols;
      std::iota(o, o + cols, int64_t{0});
      std::stable_sort(o, o + cols, [&](int64_t a, int64_t b) { return before(row[a], row[b]); });
    }
  });
}

}  // namespace hg::kernels::cpu
