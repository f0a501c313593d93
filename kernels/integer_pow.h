#pragma once
// x^y for int64, as PyTorch's integer pow, shared by the CPU and CUDA kernels: exact, by
// squaring, wrapping past int64's range (in unsigned arithmetic, so overflow is defined); a
// negative exponent gives the integer part of 1 / x^|y|: 1 for x = 1, +-1 for x = -1, else 0
// (and 1 / 0 for x = 0 is 0 here; PyTorch's CPU gives 0 too).
#include <cstdint>

#include "halfgrad/core/half.h"  // HG_HD

namespace hg::kernels {

HG_HD inline int64_t integer_pow(int64_t x, int64_t y) {
  if (y < 0) return x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0);
  uint64_t result = 1, base = static_cast<uint64_t>(x);
  for (auto e = static_cast<uint64_t>(y); e > 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return static_cast<int64_t>(result);
}

}  // namespace hg::kernels
