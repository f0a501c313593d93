#pragma once
// Tensor factories. Random factories draw from the default generator (core/random.h), so
// manual_seed(s) makes every later call reproducible, run after run.
#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg {

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
// arange(n) is int64 unless a dtype is given (as torch.arange(10)), and so is the (start, end,
// step) form when all three are integers (torch.arange(0, 10, 2)); with any floating-point
// argument it is float32 by default (torch.arange(0, 1, 0.25)).
Tensor arange(int64_t end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
namespace detail {
// The all-integer arange: an error unless each value fits int64 and is within 2^53 (exact in
// the double-based fill).
Tensor arange_integers(bool fit_int64, int64_t start, int64_t end, int64_t step,
                       TensorOptions options);
}  // namespace detail
template <std::integral Start, std::integral End, std::integral Step = int64_t>
Tensor arange(Start start, End end, Step step = 1, TensorOptions options = {}) {
  const bool fit =
      std::in_range<int64_t>(start) && std::in_range<int64_t>(end) && std::in_range<int64_t>(step);
  return detail::arange_integers(fit, static_cast<int64_t>(start), static_cast<int64_t>(end),
                                 static_cast<int64_t>(step), options);
}
// `steps` values evenly spaced from start to end, both included (float32 unless a dtype is
// given), as torch.linspace: the first half counts up from start and the second half down from
// end, so both ends are exact; each value is computed in double and rounded once.
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // a 0-dim tensor
// The identity: [n, m] (m = n unless given) with ones on the diagonal, as torch.eye.
Tensor eye(int64_t n, TensorOptions options = {});
Tensor eye(int64_t n, int64_t m, TensorOptions options = {});

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

// Uniform in [0, 1), standard normal, and integers in [low, high).
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = kInt64);
// 0 .. n - 1 in random order (int64 unless a dtype is given, as torch.randperm), from the default
// generator: drawn on the CPU (random::fill_permutation), then moved to the device.
Tensor randperm(int64_t n, TensorOptions options = kInt64);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);

// Copies host values into a new tensor of `shape`, converted to options.dtype() if one is given;
// otherwise the dtype follows T, as torch::tensor does: integers (every standard width; uint64
// values past 2^63 wrap) -> int64, bool -> bool, uint8_t
// -> uint8, Half/BFloat16 -> float16/bfloat16, float and double -> float32 (the default dtype;
// pass kFloat64 to keep doubles).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options = {});
template <typename T>
Tensor from_vector(const std::vector<T>& values, TensorOptions options = {}) {
  return from_vector(values, {static_cast<int64_t>(values.size())}, options);
}

}  // namespace hg
