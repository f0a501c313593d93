#pragma once
// Tensor factories. Random factories draw from the default generator (core/random.h), so
// manual_seed(s) makes every later call reproducible, run after run.
#include <cstdint>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg {

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
// arange(n) is int64 unless a dtype is given (as torch.arange(10)); the (start, end, step)
// form is float32 by default.
Tensor arange(int64_t end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // a 0-dim tensor

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

// Uniform in [0, 1), standard normal, and integers in [low, high).
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = kInt64);
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
