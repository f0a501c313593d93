// The CPU column of kernels::random_fill: core/random.h's fills on raw host memory.
#include "halfgrad/core/error.h"
#include "halfgrad/core/random.h"
#include "halfgrad/kernels/random_kernels.h"

namespace hg::kernels {

namespace {

void cpu_random_fill(RandomKind kind, const TensorView& out, const RandomParams& p, uint64_t seed,
                     uint64_t offset) {
  const double a = p.a, b = p.b;
  const int64_t n = out.numel();
  if (n == 0) return;
  HG_CHECK(out.is_contiguous(), "random_fill: expected a contiguous output");
  switch (kind) {
    case RandomKind::Uniform:
      if (out.dtype == DType::Float64) {
        return random::fill_uniform(out.ptr<double>(), n, a, b, seed, offset);
      }
      HG_CHECK(out.dtype == DType::Float32, "random_fill: uniform needs float32 or float64");
      return random::fill_uniform(out.ptr<float>(), n, static_cast<float>(a), static_cast<float>(b),
                                  seed, offset);
    case RandomKind::Normal:
      if (out.dtype == DType::Float64) {
        return random::fill_normal(out.ptr<double>(), n, a, b, seed, offset);
      }
      HG_CHECK(out.dtype == DType::Float32, "random_fill: normal needs float32 or float64");
      return random::fill_normal(out.ptr<float>(), n, static_cast<float>(a), static_cast<float>(b),
                                 seed, offset);
    case RandomKind::RandInt:
      HG_CHECK(out.dtype == DType::Int64, "random_fill: randint needs int64");
      return random::fill_randint(out.ptr<int64_t>(), n, p.low, p.high, seed, offset);
  }
}

}  // namespace

DispatchTable<RandomFillFn> random_fill{"random_fill", {cpu_random_fill, nullptr}};

}  // namespace hg::kernels
