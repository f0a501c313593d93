#pragma once
// Internal: the argument checks of the uniform and normal fills, shared by the CPU fills
// (core/random.cpp) and the CUDA column of kernels::random_fill (kernels/cuda/random.cu), so a
// bad range is the same hg::Error on both devices. T: float or double, the type drawn in.
#include <cmath>

#include "halfgrad/core/error.h"

namespace hg::detail {

template <typename T>
void check_uniform_range(T low, T high, const char* fn) {
  HG_CHECK(low <= high, fn, ": expected low <= high, got low=", low, " high=", high);
  HG_CHECK(std::isfinite(high - low), fn, ": high - low must be finite, got low=", low,
           " high=", high);
}

template <typename T>
void check_normal_params(T mean, T stddev, const char* fn) {
  HG_CHECK(stddev >= T(0), fn, ": expected stddev >= 0, got stddev=", stddev);
  HG_CHECK(std::isfinite(mean) && std::isfinite(stddev), fn,
           ": mean and stddev must be finite, got mean=", mean, " stddev=", stddev);
}

}  // namespace hg::detail
