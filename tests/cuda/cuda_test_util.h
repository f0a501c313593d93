#pragma once
// A small CPU-vs-CUDA comparison helper for the tests of CUDA backend II (the lead unifies it
// with tests/cuda/parity.h of CUDA backend I on merge). Every test skips, with a MESSAGE, when
// no CUDA device is present.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"
#include "test_util.h"

namespace hg::test {

inline bool cuda_or_skip() {
  if (cuda::is_available()) return true;
  MESSAGE("no CUDA device: CPU-vs-CUDA parity test skipped");
  return false;
}

// Relative and absolute tolerance per dtype: a few units in the last place of the storage type
// (results differ by summation order and fused multiply-adds between the two backends).
inline double parity_tolerance(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return 1e-10;
    case DType::Float32:
      return 2e-5;
    case DType::Float16:
      return 4e-3;
    case DType::BFloat16:
      return 3e-2;
    default:
      return 0.0;
  }
}

inline const std::vector<DType>& floating_dtypes() {
  static const std::vector<DType> all{kFloat32, kFloat64, kFloat16, kBFloat16};
  return all;
}

// cuda_result (on the device) against cpu_result, elementwise, with the tolerance of dtype
// scaled by `scale` (e.g. the magnitude of a sum's terms) for the absolute part.
inline void expect_parity(const Tensor& cuda_result, const Tensor& cpu_result, DType dtype,
                          const std::string& what, double scale = 1.0) {
  REQUIRE_MESSAGE(cuda_result.defined() == cpu_result.defined(), what);
  if (!cpu_result.defined()) return;
  REQUIRE_MESSAGE(cuda_result.device().is_cuda(), what);
  REQUIRE_MESSAGE(cuda_result.sizes() == cpu_result.sizes(), what);
  const std::vector<double> got = cuda_result.to(kCPU).to(kFloat64).to_vector<double>();
  const std::vector<double> want = cpu_result.to(kFloat64).to_vector<double>();
  const double tol = parity_tolerance(dtype);
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool ok = got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])) ||
                    std::abs(got[i] - want[i]) <= tol * (scale + std::abs(want[i]));
    if (!ok && reported++ < 5)
      FAIL_CHECK(what << " (" << dtype_name(dtype) << ") element " << i << ": cuda " << got[i]
                      << " vs cpu " << want[i]);
  }
}

// A leaf on the CPU and its copy on the device, both requiring grad.
struct LeafPair {
  Tensor cpu, dev;
};
inline LeafPair leaf_pair(const Tensor& value) {
  LeafPair p{value.detach(), value.detach().to(kCUDA)};
  p.cpu.requires_grad_(true);
  p.dev.requires_grad_(true);
  return p;
}

}  // namespace hg::test
