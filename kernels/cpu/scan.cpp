// cumsum on the CPU: running sums of each line along the scanned dim, in double for floating
// dtypes (int64 for int64), each prefix rounded to float and then to the dtype, the order and
// roundings of the CUDA kernel (kernels/cuda/scan.cu), so both give the same bits.
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

namespace {

// The inner dim runs fastest: one accumulator per inner index, every row read in order.
template <typename T, typename Sum>
void cumsum_lines(const T* in, T* out, int64_t outer, int64_t n, int64_t inner, bool reverse) {
  using C = compute_t<T>;
  std::vector<Sum> sums(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(sums.begin(), sums.end(), Sum(0));
    for (int64_t j = 0; j < n; ++j) {
      const int64_t row = o * n + (reverse ? n - 1 - j : j);
      const T* src = in + row * inner;
      T* dst = out + row * inner;
      for (int64_t k = 0; k < inner; ++k) {
        sums[k] += static_cast<Sum>(static_cast<C>(src[k]));
        dst[k] = static_cast<T>(static_cast<C>(sums[k]));
      }
    }
  }
}

}  // namespace

void cumsum(const TensorView& in, const TensorView& out, bool reverse) {
  const int64_t outer = in.sizes[0], n = in.sizes[1], inner = in.sizes[2];
  if (in.dtype == DType::Int64) {
    cumsum_lines<int64_t, int64_t>(in.ptr<int64_t>(), out.ptr<int64_t>(), outer, n, inner, reverse);
    return;
  }
  dispatch_floating(in.dtype, "cumsum", [&]<typename T>() {
    cumsum_lines<T, double>(in.ptr<T>(), out.ptr<T>(), outer, n, inner, reverse);
  });
}

}  // namespace hg::kernels::cpu
