#include "halfgrad/core/dtype.h"

#include <cmath>
#include <limits>

#include "halfgrad/core/error.h"

namespace hg {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "float32";
    case DType::Float16:
      return "float16";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::UInt8:
      return "uint8";
    case DType::Bool:
      return "bool";
  }
  return "unknown";
}

std::size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return 4;
    case DType::Float16:
    case DType::BFloat16:
      return 2;
    case DType::Float64:
    case DType::Int64:
      return 8;
    case DType::UInt8:
    case DType::Bool:
      return 1;
  }
  HG_FAIL("itemsize: unknown dtype code ", static_cast<int>(dtype));
}

namespace {
int promotion_rank(DType d) {
  switch (d) {
    case DType::Bool:
      return 0;
    case DType::UInt8:
      return 1;
    case DType::Int64:
      return 2;
    case DType::Float16:
    case DType::BFloat16:
      return 3;
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 5;
  }
  return -1;
}
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_low_precision(a) && is_low_precision(b)) return kFloat32;
  return promotion_rank(a) >= promotion_rank(b) ? a : b;
}

std::ostream& operator<<(std::ostream& out, DType dtype) { return out << dtype_name(dtype); }

bool holds_integer(double value, DType dtype) {
  const double lowest = dtype == kUInt8 ? 0.0 : -9223372036854775808.0;  // -2^63
  const double above = dtype == kUInt8 ? 256.0 : 9223372036854775808.0;  // 2^63
  const double whole = std::trunc(value);
  return std::isfinite(value) && whole >= lowest && whole < above;
}

void check_integer_fill(double value, DType dtype, std::string_view op) {
  if (is_floating(dtype) || dtype == kBool) return;
  HG_CHECK(holds_integer(value, dtype), op, ": value ", value, " cannot be converted to ",
           dtype_name(dtype), " without overflow");
}

double largest_finite(DType dtype) {
  switch (dtype) {
    case kFloat16:
      return 65504.0;  // (2 - 2^-10) 2^15
    case kBFloat16:
      return 3.3895313892515355e38;  // (2 - 2^-7) 2^127
    case kFloat32:
      return 3.4028234663852886e38;  // (2 - 2^-23) 2^127
    default:
      HG_CHECK(dtype == kFloat64, "largest_finite: ", dtype_name(dtype), " is not floating");
      return std::numeric_limits<double>::max();
  }
}

void check_fill_value(double value, DType dtype, std::string_view op) {
  check_integer_fill(value, dtype, op);
  if (!is_floating(dtype) || dtype == kFloat64 || !std::isfinite(value)) return;
  const double largest = largest_finite(dtype);
  HG_CHECK(std::fabs(value) <= largest, op, ": value ", value, " cannot be converted to ",
           dtype_name(dtype), " without overflow (largest finite ", largest, ")");
}

}  // namespace hg
