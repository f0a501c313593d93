#pragma once
// Index arithmetic for CUDA kernels that turn a flat index into coordinates, dividing by numbers
// fixed for a whole launch (a width, a channel count). A 64-bit division is a long software
// routine on the GPU: with it, im2col ran at a twentieth of its memory speed on an H200 (the
// profile of session 10, docs/cuda_nn.md). FastDivmod divides a 32-bit index with one
// multiply-high, an add and a shift, its magic number computed once on the host (Granlund and
// Montgomery's method, in the form PyTorch's IntDivider uses). A launcher takes it when every
// index it divides is below 2^31, and WideDivmod (plain 64-bit division) otherwise:
//
//   with_index_width(bound, [&]<typename D>() { kernel<D><<<...>>>(..., D(width)); });
//
// No CUDA headers: the host side is tested on the CPU (tests/kernels/test_index_div.cpp).
#include <cstdint>

#if defined(__CUDACC__)
#define HG_INDEX_FN __host__ __device__ __forceinline__
#else
#define HG_INDEX_FN inline
#endif

namespace hg::cuda {

// n / d and n % d for 0 <= n < 2^31 and 1 <= d <= 2^31.
struct FastDivmod {
  using Index = uint32_t;
  uint32_t divisor = 1, multiplier = 0, shift = 0;

  FastDivmod() = default;
  // A divisor below 1 only occurs in an empty launch, which never divides: it is taken as 1.
  explicit FastDivmod(int64_t d) : divisor(d < 1 ? 1u : static_cast<uint32_t>(d)) {
    while ((uint64_t{1} << shift) < divisor) ++shift;  // shift = ceil(log2(divisor))
    // multiplier = floor(2^32 (2^shift - d) / d) + 1, which is below 2^32.
    const uint64_t excess = (uint64_t{1} << shift) - divisor;
    multiplier = static_cast<uint32_t>(((excess << 32) / divisor) + 1);
  }
  HG_INDEX_FN uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t high = __umulhi(n, multiplier);
#else
    const uint32_t high = static_cast<uint32_t>((uint64_t{n} * multiplier) >> 32);
#endif
    return (high + n) >> shift;  // high <= n < 2^31: the sum does not wrap
  }
  HG_INDEX_FN uint32_t mod(uint32_t n) const { return n - div(n) * divisor; }
};

// The same interface with 64-bit indices, for launches past 2^31.
struct WideDivmod {
  using Index = int64_t;
  int64_t divisor = 1;

  WideDivmod() = default;
  explicit WideDivmod(int64_t d) : divisor(d < 1 ? 1 : d) {}
  HG_INDEX_FN int64_t div(int64_t n) const { return n / divisor; }
  HG_INDEX_FN int64_t mod(int64_t n) const { return n % divisor; }
};

// Calls body.template operator()<FastDivmod>() when every index the launch divides (and every
// divisor) is below `bound` <= 2^31, else with WideDivmod.
template <typename Body>
void with_index_width(int64_t bound, Body&& body) {
  if (bound <= (int64_t{1} << 31))
    body.template operator()<FastDivmod>();
  else
    body.template operator()<WideDivmod>();
}

}  // namespace hg::cuda
