// precision_stats, lost_update_share and Telemetry (amp/diagnostics.h).
#include <cmath>
#include <iomanip>
#include <sstream>

#include "halfgrad/amp/diagnostics.h"
#include "halfgrad/amp/json_text.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/core/half.h"

namespace hg::amp {

PrecisionStats precision_stats(const Tensor& t, DType dtype) {
  HG_CHECK(t.defined(), "precision_stats: got an undefined tensor");
  HG_CHECK(dtype == kFloat16 || dtype == kBFloat16 || dtype == kFloat32,
           "precision_stats: expected float16, bfloat16 or float32 as the dtype to store in, got ",
           dtype_name(dtype), " for ", describe(t));
  PrecisionStats s;
  s.dtype = dtype;
  const std::vector<double> values = t.to_vector<double>();
  // each value as `dtype` stores it: the tensor cast, which rounds once (fp64 inputs too)
  const std::vector<double> stored_values = t.detach().to(dtype).to_vector<double>();
  const double smallest_normal = dtype == kFloat16 ? 6.103515625e-05 : 1.1754943508222875e-38;
  s.count = static_cast<int64_t>(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i], stored = stored_values[i];
    if (!std::isfinite(v)) {
      ++s.nonfinite;
      continue;
    }
    if (v == 0) {
      ++s.zeros;
      continue;
    }
    ++s.log2_histogram[std::ilogb(v)];  // floor(log2 |v|), exact (log2 rounds up below 2^k)
    if (std::isinf(stored))
      ++s.overflow;
    else if (stored == 0)
      ++s.flush_to_zero;
    else if (std::abs(stored) < smallest_normal)
      ++s.subnormal;
  }
  return s;
}

std::string PrecisionStats::to_text(const std::string& name) const {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  if (!name.empty()) out << name << ": ";
  out << count << " values in " << dtype_name(dtype) << ": overflow " << 100 * share(overflow)
      << "%, flush to zero " << 100 * share(flush_to_zero) << "%, subnormal "
      << 100 * share(subnormal) << "%, zero " << 100 * share(zeros) << "%, non-finite "
      << 100 * share(nonfinite) << "%; log2|x| histogram";
  for (const auto& [bin, n] : log2_histogram) out << ' ' << bin << ':' << n;
  return out.str();
}

std::string PrecisionStats::to_json(const std::string& name) const {
  std::ostringstream out;
  out << "{\"name\":" << detail::json_string(name) << ",\"dtype\":\"" << dtype_name(dtype)
      << "\",\"count\":" << count << ",\"overflow\":" << overflow
      << ",\"flush_to_zero\":" << flush_to_zero << ",\"subnormal\":" << subnormal
      << ",\"zeros\":" << zeros << ",\"nonfinite\":" << nonfinite << ",\"log2_histogram\":{";
  bool first = true;
  for (const auto& [bin, n] : log2_histogram) {
    out << (first ? "" : ",") << '"' << bin << "\":" << n;
    first = false;
  }
  out << "}}";
  return out.str();
}

double lost_update_share(const Tensor& weight16, const Tensor& update) {
  HG_CHECK(weight16.defined() && update.defined() && is_low_precision(weight16.dtype()),
           "lost_update_share: expected a float16 or bfloat16 weight, got ", describe(weight16));
  HG_CHECK(update.sizes() == weight16.sizes() && update.is_floating_point(),
           "lost_update_share: the update ", describe(update), " must be a floating tensor of the ",
           "weight's shape ", describe(weight16));
  NoGradGuard no_grad;
  // The sum in float, then stored in 16 bits: what the optimizers' fp32 arithmetic does. The
  // nonzero test sees the update as given (an fp64 1e-50 is a nonzero update, lost).
  const Tensor w = weight16.to(kFloat32);
  const Tensor u = update.to(kFloat32);
  const Tensor moved = (w + u).to(weight16.dtype()).to(kFloat32);
  const Tensor nonzero = ne(update, zeros({}, update.options()));
  const Tensor lost =
      where(nonzero, eq(moved, w), zeros({}, TensorOptions(kBool).device(u.device())));
  const int64_t n = sum(nonzero).item<int64_t>();
  return n == 0 ? 0.0 : static_cast<double>(sum(lost).item<int64_t>()) / static_cast<double>(n);
}

void Telemetry::watch(const std::string& name, const Tensor& activation) {
  rows_->push_back({name, precision_stats(activation, dtype_), {}, false});
  if (!activation.requires_grad()) return;
  const size_t index = rows_->size() - 1;
  const DType dtype = dtype_;
  std::weak_ptr<std::vector<Row>> rows = rows_;
  activation.register_hook([rows, index, dtype](const Tensor& grad) {
    if (auto r = rows.lock()) {
      (*r)[index].gradient = precision_stats(grad, dtype);
      (*r)[index].has_gradient = true;
    }
    return Tensor();
  });
}

std::string Telemetry::to_text() const {
  std::ostringstream out;
  for (const Row& row : *rows_) {
    out << row.activation.to_text(row.name + " (activation)") << '\n';
    if (row.has_gradient) out << row.gradient.to_text(row.name + " (gradient)") << '\n';
  }
  return out.str();
}

std::string Telemetry::to_json() const {
  std::ostringstream out;
  for (const Row& row : *rows_) {
    out << row.activation.to_json(row.name + ".activation") << '\n';
    if (row.has_gradient) out << row.gradient.to_json(row.name + ".gradient") << '\n';
  }
  return out.str();
}

}  // namespace hg::amp
