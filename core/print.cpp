// Printing like PyTorch: nested brackets, a shared number format, "..." past 1000 elements,
// then the shape and dtype: tensor([[1.0000, 2.5000], ...], shape=[2, 2], dtype=float16)
#include <cmath>
#include <iomanip>
#include <sstream>

#include "halfgrad/core/tensor.h"

namespace hg {

namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Format {
  bool integral = true;     // every value is a whole number: print "3." like PyTorch
  bool scientific = false;  // the range is too wide for fixed point
  bool is_bool = false;
};

Format choose_format(const std::vector<double>& values, DType dtype) {
  Format f;
  f.is_bool = dtype == kBool;
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) f.integral = false;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  // PyTorch's rule (_tensor_str.py): nonzero finite values spanning more than 1000x, or past
  // 1e8, or (with fractions) below 1e-4
  f.scientific = max_abs > 1e8 || (!f.integral && min_abs < 1e-4) ||
                 (min_abs != INFINITY && max_abs / min_abs > 1000);
  return f;
}

std::string format_value(double v, const Format& f) {
  std::ostringstream out;
  if (f.is_bool) return v != 0 ? "True" : "False";
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (f.scientific) {
    out << std::scientific << std::setprecision(4) << v;
  } else if (f.integral) {
    out << static_cast<int64_t>(v) << '.';
  } else {
    out << std::fixed << std::setprecision(4) << v;
  }
  return out.str();
}

// Every element as text: integers read back exactly as int64 (a double would round past 2^53),
// floating values in the tensor's shared format.
std::vector<std::string> formatted_values(const Tensor& t) {
  std::vector<std::string> out;
  if (!is_floating(t.dtype()) && t.dtype() != kBool) {
    for (int64_t v : t.to_vector<int64_t>()) out.push_back(std::to_string(v));
    return out;
  }
  const std::vector<double> values = t.to_vector<double>();
  const Format format = choose_format(values, t.dtype());
  for (double v : values) out.push_back(format_value(v, format));
  return out;
}

struct Printer {
  const std::vector<std::string>& values;
  const Shape& sizes;
  size_t width = 0;
  bool summarize = false;

  void print(std::ostream& out, size_t dim, int64_t offset, int64_t stride, int indent) const {
    const int64_t n = sizes[dim];
    const int64_t inner = stride / std::max<int64_t>(n, 1);
    out << '[';
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
        out << (dim + 1 == sizes.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
        i = n - kEdgeItems;
      }
      if (dim + 1 == sizes.size()) {
        const std::string& s = values[offset + i];
        out << std::string(width - std::min(width, s.size()), ' ') << s;
      } else {
        print(out, dim + 1, offset + i * inner, inner, indent + 1);
      }
      if (i + 1 < n) {
        out << ',';
        out << (dim + 1 == sizes.size()
                    ? " "
                    : std::string(sizes.size() - dim - 1, '\n') + std::string(indent + 1, ' '));
      }
    }
    out << ']';
  }
};

}  // namespace

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "tensor(undefined)";
  const std::vector<std::string> values = formatted_values(t);
  Printer printer{values, t.sizes()};
  printer.summarize = t.numel() > kSummarizeAbove;
  for (const std::string& v : values) printer.width = std::max(printer.width, v.size());
  out << "tensor(";
  if (t.dim() == 0) {
    out << values[0];
  } else {
    printer.print(out, 0, 0, t.numel(), 7);
  }
  out << ", shape=" << shape_str(t.sizes()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) out << ", device=" << t.device().str();
  if (t.requires_grad()) out << ", requires_grad=True";
  return out << ')';
}

}  // namespace hg
