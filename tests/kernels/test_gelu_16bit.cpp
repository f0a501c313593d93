// kernels/cuda/gelu_16bit.h on the host: the branch-free GELU that the CUDA kernels use for fp16
// and bf16 agrees with the CPU kernel on every finite 16-bit input, within the tolerance the
// GPU parity suite allows for erf-based ops (tests/cuda/parity.h, Kind::Ulp), and is close to
// the exact x Phi(x). The header is CUDA-free on the host (the device's approximate reciprocal
// and exp2 become exact ones; they add 2 ulp of float, far below one 16-bit ulp).
#include <cmath>
#include <cstdint>
#include <limits>

#include "halfgrad/kernels/cuda/gelu_16bit.h"
#include "test_util.h"

using namespace hg;

namespace {

double exact_gelu(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

struct Tolerance {
  double rtol, atol;
};

template <typename T>
void check_every_pattern(DType dtype, Tolerance tol) {
  std::vector<T> all;
  for (uint32_t b = 0; b < 65536; ++b) {
    const T v = T::from_bits(static_cast<uint16_t>(b));
    if (std::isfinite(static_cast<float>(v))) all.push_back(v);
  }
  const int64_t n = static_cast<int64_t>(all.size());
  const Tensor cpu = gelu(from_vector(all, {n}, dtype));
  const T* expected = static_cast<const T*>(cpu.data_ptr());
  double worst_tolerance_share = 0, worst_relative_error = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = static_cast<float>(all[static_cast<size_t>(i)]);
    const float fast = cuda::gelu16::gelu(x);
    const double rounded = static_cast<float>(T(fast)), reference = static_cast<float>(expected[i]);
    const double share =
        std::fabs(rounded - reference) / (tol.atol + tol.rtol * std::fabs(reference));
    worst_tolerance_share = std::max(worst_tolerance_share, share);
    const double exact = exact_gelu(x);
    if (std::fabs(exact) > 1e-30)  // above the device's flush to zero
      worst_relative_error =
          std::max(worst_relative_error, std::fabs(fast - exact) / std::fabs(exact));
  }
  INFO(dtype_name(dtype));
  CHECK(worst_tolerance_share <= 1.0);
  CHECK(worst_relative_error < 2e-5);  // one fp16 ulp is 5e-4 or more
}

}  // namespace

TEST_CASE("gelu16: agrees with the CPU kernel on every finite fp16 and bf16 input") {
  check_every_pattern<Half>(kFloat16, {1e-3, 1e-5});
  check_every_pattern<BFloat16>(kBFloat16, {8e-3, 1e-4});
}

TEST_CASE("gelu16: zeros, infinities and NaN as the CPU's formula gives them") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(cuda::gelu16::gelu(0.0f) == 0.0f);
  CHECK(std::signbit(cuda::gelu16::gelu(-0.0f)));
  CHECK(cuda::gelu16::gelu(inf) == inf);
  CHECK(std::isnan(cuda::gelu16::gelu(-inf)));  // -inf * 0, as 0.5 x (1 + erf(x / sqrt 2))
  CHECK(std::isnan(cuda::gelu16::gelu(std::numeric_limits<float>::quiet_NaN())));
  CHECK(cuda::gelu16::gelu(1.0f) == doctest::Approx(0.8413447460685429).epsilon(1e-6));
  CHECK(cuda::gelu16::gelu(-1.0f) == doctest::Approx(-0.15865525393145707).epsilon(1e-6));
}
