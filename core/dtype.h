#pragma once
// Element types: names, sizes, categories and type promotion.
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>

namespace hg {

enum class DType : uint8_t { Float32, Float16, BFloat16, Float64, Int64, UInt8, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kBool = DType::Bool;

// "float32", "float16", ... (the names PyTorch prints, without the "torch." prefix).
std::string_view dtype_name(DType dtype);
std::size_t itemsize(DType dtype);

struct Half;      // core/half.h
struct BFloat16;  // core/half.h

// The DType stored as the C++ type T (float -> Float32, Half -> Float16, bool -> Bool, ...).
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::Float64;
  else if constexpr (std::is_same_v<T, Half>)
    return DType::Float16;
  else if constexpr (std::is_same_v<T, BFloat16>)
    return DType::BFloat16;
  else if constexpr (std::is_same_v<T, int64_t>)
    return DType::Int64;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return DType::UInt8;
  else {
    static_assert(std::is_same_v<T, bool>, "dtype_of: T is not a halfgrad storage type");
    return DType::Bool;
  }
}
constexpr bool is_floating(DType d) {
  return d == kFloat32 || d == kFloat16 || d == kBFloat16 || d == kFloat64;
}
constexpr bool is_low_precision(DType d) { return d == kFloat16 || d == kBFloat16; }

// The dtype of a binary op on a and b, following PyTorch's rules for tensors of equal rank:
// bool < uint8 < int64 < float16/bfloat16 < float32 < float64; float16 with bfloat16 -> float32.
// For a 0-dim tensor with a dimensioned one, see hg::result_type (autograd/ops.h).
DType promote_types(DType a, DType b);

// Whether `value`, truncated, is finite and inside the range of the integer dtype (uint8, or
// int64 for any other).
bool holds_integer(double value, DType dtype);
// Throws hg::Error naming `op` when `value` cannot be stored in an integer dtype (NaN, inf, or
// outside its range once truncated), as PyTorch's fill and full refuse it; floating and bool
// dtypes take any value.
void check_integer_fill(double value, DType dtype, std::string_view op);
// check_integer_fill, and for fp16/bf16/fp32 a finite value past the dtype's largest finite
// value (PyTorch's rule for fill_, full and masked_fill: 70000 in fp16 is an error, not inf).
void check_fill_value(double value, DType dtype, std::string_view op);
// The largest finite value of a floating dtype (65504 for float16).
double largest_finite(DType dtype);

std::ostream& operator<<(std::ostream& out, DType dtype);

}  // namespace hg
