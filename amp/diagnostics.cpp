#include "halfgrad/amp/diagnostics.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/convert.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/half.h"

namespace hg::amp {

namespace {

struct Format {
  int exponent_bits, mantissa_bits;
};
Format format_of(DType dtype) {
  switch (dtype) {
    case DType::Float16:
      return {5, 10};
    case DType::BFloat16:
      return {8, 7};
    case DType::Float32:
      return {8, 23};
    default:
      HG_FAIL("explain: expected float16, bfloat16 or float32, got ", dtype_name(dtype));
  }
}

// The tensor conversion's rounding (core/convert.h): one rounding from double, not two.
uint32_t store_bits(double value, DType dtype) {
  if (dtype == kFloat16) return Half(hg::detail::float_round_to_odd(value)).bits;
  if (dtype == kBFloat16) return BFloat16(hg::detail::float_round_to_odd(value)).bits;
  return hg::detail::float_bits(static_cast<float>(value));
}

// A number for JSON, which has no inf or NaN: those are null (the class field says which).
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream out;
  out << std::setprecision(17) << v;
  return out.str();
}

double decode(uint32_t bits, DType dtype) {
  if (dtype == kFloat16) return Half::from_bits(static_cast<uint16_t>(bits));
  if (dtype == kBFloat16) return BFloat16::from_bits(static_cast<uint16_t>(bits));
  return hg::detail::bits_float(bits);
}

const char* class_name(ValueClass c) {
  static const char* names[] = {"zero", "subnormal", "normal", "infinity", "nan"};
  return names[static_cast<int>(c)];
}

}  // namespace

Explanation explain(double value, DType dtype) {
  const Format fmt = format_of(dtype);
  Explanation e;
  e.value = value;
  e.dtype = dtype;
  e.exponent_bits = fmt.exponent_bits;
  e.mantissa_bits = fmt.mantissa_bits;
  e.bits = store_bits(value, dtype);
  const int total = 1 + fmt.exponent_bits + fmt.mantissa_bits;
  e.sign = static_cast<int>(e.bits >> (total - 1)) & 1;
  e.exponent_field = (e.bits >> fmt.mantissa_bits) & ((1u << fmt.exponent_bits) - 1);
  e.mantissa_field = e.bits & ((1u << fmt.mantissa_bits) - 1);
  e.stored = decode(e.bits, dtype);
  const int bias = (1 << (fmt.exponent_bits - 1)) - 1;
  const uint32_t max_field = (1u << fmt.exponent_bits) - 1;
  if (e.exponent_field == max_field)
    e.cls = e.mantissa_field ? ValueClass::NaN : ValueClass::Infinity;
  else if (e.exponent_field == 0)
    e.cls = e.mantissa_field ? ValueClass::Subnormal : ValueClass::Zero;
  else
    e.cls = ValueClass::Normal;
  const int exp = e.exponent_field == 0 ? 1 - bias : static_cast<int>(e.exponent_field) - bias;
  // an infinity or a NaN has no spacing (its exponent field is the all-ones code, not a binade)
  e.ulp = std::isfinite(e.stored) ? std::ldexp(1.0, exp - fmt.mantissa_bits) : NAN;
  if (std::isfinite(e.stored)) {
    e.abs_error = std::abs(e.stored - value);
    e.rel_error = value != 0 ? e.abs_error / std::abs(value) : 0;
  } else if (std::isfinite(value)) {  // overflow: the error is unbounded
    e.abs_error = e.rel_error = INFINITY;
  }
  if (value != 0 && std::isfinite(value)) {
    const int value_exp = std::ilogb(value);
    const int max_exp = bias;  // largest normal exponent
    if (value_exp < 1 - bias) {
      e.scale_log2 = (1 - bias) - value_exp;
    } else if (!std::isfinite(e.stored)) {
      // the smallest step down that stores finite: into the top binade, or one below it when
      // the scaled value would still round up past the largest finite value
      e.scale_log2 = max_exp - value_exp;
      if (!std::isfinite(decode(store_bits(std::ldexp(value, e.scale_log2), dtype), dtype)))
        --e.scale_log2;
    }
  }
  return e;
}

std::string Explanation::to_text() const {
  std::ostringstream out;
  out << std::setprecision(9) << value << " as " << dtype_name(dtype) << ": sign " << sign
      << ", exponent " << exponent_field << " (" << exponent_bits << " bits), mantissa "
      << mantissa_field << " (" << mantissa_bits << " bits) -> " << class_name(cls) << ' '
      << stored;
  if (std::isfinite(stored))
    out << "; rounding error " << abs_error << " (relative " << rel_error << "), ulp " << ulp;
  else if (std::isfinite(value))
    out << "; overflow: beyond the largest finite " << dtype_name(dtype);
  if (scale_log2 > 0) out << "; scale by 2^" << scale_log2 << " to reach the normal range";
  if (scale_log2 < 0) out << "; scale by 2^" << scale_log2 << " to avoid overflow";
  return out.str();
}

std::string Explanation::to_json() const {
  std::ostringstream out;
  out << "{\"value\":" << json_number(value) << ",\"dtype\":\"" << dtype_name(dtype)
      << "\",\"bits\":" << bits << ",\"sign\":" << sign << ",\"exponent\":" << exponent_field
      << ",\"mantissa\":" << mantissa_field << ",\"class\":\"" << class_name(cls)
      << "\",\"stored\":" << json_number(stored) << ",\"abs_error\":" << json_number(abs_error)
      << ",\"rel_error\":" << json_number(rel_error) << ",\"ulp\":" << json_number(ulp)
      << ",\"scale_log2\":" << scale_log2 << "}";
  return out.str();
}

}  // namespace hg::amp
