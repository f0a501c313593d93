// pad and interpolate (autograd/nn_ops.h): each padded or resized dim is one index_select with
// indices computed on the host (plus, for a constant pad, a cat with filled blocks; for bilinear,
// a blend of two selections). index_select's backward adds the gradient of every copy back to
// its source, which is the adjoint of all of these.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

Tensor index_tensor(const std::vector<int64_t>& index, Device device) {
  return from_vector(index, TensorOptions(kInt64)).to(device);
}

std::string pads_str(const std::vector<int64_t>& pads) {
  std::string out = "{";
  for (size_t i = 0; i < pads.size(); ++i) out += (i ? ", " : "") + std::to_string(pads[i]);
  return out + "}";
}

// Where element i of the padded dim (i in [-before, size + after)) comes from.
int64_t pad_source(int64_t i, int64_t size, PadMode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case PadMode::Reflect:
      return i < 0 ? -i : 2 * (size - 1) - i;
    case PadMode::Replicate:
      return i < 0 ? 0 : size - 1;
    default:
      return ((i % size) + size) % size;  // circular
  }
}

// A constant pad of one dim: a negative side crops, a positive one adds a filled block.
Tensor pad_constant_dim(const Tensor& x, int64_t dim, int64_t before, int64_t after, double value) {
  const int64_t start = std::max<int64_t>(-before, 0);
  const int64_t kept = x.size(dim) - start - std::max<int64_t>(-after, 0);
  Tensor out = x.narrow(dim, start, kept);
  if (before <= 0 && after <= 0) return out;
  std::vector<Tensor> parts;
  const auto block = [&](int64_t length) {
    Shape shape = x.sizes();
    shape[static_cast<size_t>(dim)] = length;
    return full(shape, value, x.options());
  };
  if (before > 0) parts.push_back(block(before));
  parts.push_back(out);
  if (after > 0) parts.push_back(block(after));
  return cat(parts, dim);
}

void check_pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  autograd::check_defined(x, "pad");
  const auto describe_call = [&] {
    return std::string(pad_mode_name(mode)) + " pad " + pads_str(pads) + " of " + describe(x);
  };
  HG_CHECK(pads.size() % 2 == 0 && pads.size() / 2 <= static_cast<size_t>(x.dim()),
           "pad: expected (before, after) pairs for at most ", x.dim(), " dims, got ",
           describe_call());
  if (mode == PadMode::Constant) {
    if (x.dtype() != kBool) check_fill_value(value, x.dtype(), "pad");
  } else {
    HG_CHECK(value == 0.0, "pad: a value is only for constant mode, got ", value, " for ",
             describe_call());
    HG_CHECK(x.is_floating_point(), "pad: ", pad_mode_name(mode),
             " mode needs a floating-point tensor, got ", describe_call());
  }
  for (size_t pair = 0; pair < pads.size() / 2; ++pair) {
    const int64_t size = x.size(x.dim() - 1 - static_cast<int64_t>(pair));
    const int64_t before = pads[2 * pair], after = pads[2 * pair + 1];
    if (mode == PadMode::Constant) {
      const int64_t cropped = std::max<int64_t>(-before, 0) + std::max<int64_t>(-after, 0);
      HG_CHECK(cropped <= size, "pad: cropping more than the dim holds in ", describe_call());
      continue;
    }
    const int64_t limit = mode == PadMode::Reflect ? size - 1 : size;
    HG_CHECK(before >= 0 && after >= 0 && size > 0 &&
                 (mode == PadMode::Replicate || std::max(before, after) <= limit),
             "pad: ", describe_call(), ": pads must be >= 0 and ",
             mode == PadMode::Reflect    ? "smaller than the dim"
             : mode == PadMode::Circular ? "no larger than the dim"
                                         : "the dim non-empty");
  }
}

}  // namespace

const char* pad_mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::Constant:
      return "constant";
    case PadMode::Reflect:
      return "reflect";
    case PadMode::Replicate:
      return "replicate";
    case PadMode::Circular:
      return "circular";
  }
  return "?";
}

// Always a new tensor, as torch's pad: a pad of zeros (or a crop alone) copies too.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  check_pad(x, pads, mode, value);
  Tensor out = x;
  bool copied = false;
  for (size_t pair = 0; pair < pads.size() / 2; ++pair) {
    const int64_t dim = x.dim() - 1 - static_cast<int64_t>(pair);
    const int64_t before = pads[2 * pair], after = pads[2 * pair + 1];
    if (mode == PadMode::Constant) {
      out = pad_constant_dim(out, dim, before, after, value);
      copied = copied || before > 0 || after > 0;
      continue;
    }
    if (before == 0 && after == 0) continue;
    const int64_t size = x.size(dim);
    std::vector<int64_t> source;
    for (int64_t i = -before; i < size + after; ++i) source.push_back(pad_source(i, size, mode));
    out = index_select(out, dim, index_tensor(source, x.device()));
    copied = true;
  }
  return copied ? out : out.clone();
}

namespace {

// One resized dim: its output length, the two sources of each output element and their weights
// (nearest: the first source alone, weight 1).
struct AxisPlan {
  int64_t out_size = 0;
  std::vector<int64_t> lower, upper;
  std::vector<double> lower_weight, upper_weight;
};

// PyTorch's coordinates (ATen's UpSample.h) in its arithmetic: float for every dtype but fp64's
// bilinear weights (Real = double), so that the indices and weights are torch's to the bit.
template <typename Real>
AxisPlan plan_axis(int64_t in, int64_t out, std::optional<double> scale, InterpolateMode mode,
                   bool align_corners) {
  AxisPlan plan;
  plan.out_size = out;
  // compute_scales_value: 1 / scale factor when one was given, else in / out
  const Real ratio =
      scale ? static_cast<Real>(1.0 / *scale) : static_cast<Real>(in) / static_cast<Real>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (mode == InterpolateMode::Nearest) {
      const auto source =
          static_cast<int64_t>(std::floor(static_cast<float>(o) * static_cast<float>(ratio)));
      plan.lower.push_back(std::min(source, in - 1));
      continue;
    }
    const Real step =
        align_corners ? (out > 1 ? static_cast<Real>(in - 1) / static_cast<Real>(out - 1) : Real(0))
                      : ratio;
    Real source = align_corners ? step * static_cast<Real>(o)
                                : step * (static_cast<Real>(o) + Real(0.5)) - Real(0.5);
    source = std::max(source, Real(0));
    const auto low = static_cast<int64_t>(source);
    const Real upper_weight = std::clamp(source - static_cast<Real>(low), Real(0), Real(1));
    plan.lower.push_back(low);
    plan.upper.push_back(low + (low < in - 1 ? 1 : 0));
    plan.upper_weight.push_back(static_cast<double>(upper_weight));
    plan.lower_weight.push_back(static_cast<double>(Real(1) - upper_weight));
  }
  return plan;
}

// x resized along dim as planned: a selection, or the blend lower * w0 + upper * w1 with the
// weights in x's dtype, broadcast along the other dims.
Tensor resize_axis(const Tensor& x, int64_t dim, const AxisPlan& plan) {
  const Tensor lower = index_select(x, dim, index_tensor(plan.lower, x.device()));
  if (plan.upper.empty()) return lower;
  const Tensor upper = index_select(x, dim, index_tensor(plan.upper, x.device()));
  Shape weight_shape(static_cast<size_t>(x.dim()), 1);
  weight_shape[static_cast<size_t>(dim)] = plan.out_size;
  const TensorOptions options = x.options();
  return lower * from_vector(plan.lower_weight, weight_shape, options) +
         upper * from_vector(plan.upper_weight, weight_shape, options);
}

void check_interpolate(const Tensor& x, const InterpolateOptions& o) {
  autograd::check_defined(x, "interpolate");
  const bool bilinear = o.mode_ == InterpolateMode::Bilinear;
  HG_CHECK(x.dim() == 4, "interpolate: expected input [N, C, H, W], got ", describe(x));
  HG_CHECK(!bilinear || x.is_floating_point(),
           "interpolate: bilinear needs a floating-point input, got ", describe(x));
  HG_CHECK(o.size_.has_value() != o.scale_factor_.has_value(),
           "interpolate: give either size or scale_factor, not ", o.size_ ? "both" : "neither",
           ", for ", describe(x));
  HG_CHECK(bilinear || !o.align_corners_,
           "interpolate: align_corners is for bilinear, not nearest, for ", describe(x));
  HG_CHECK(x.size(2) > 0 && x.size(3) > 0, "interpolate: input ", describe(x),
           " has an empty spatial dim");
  for (int axis = 0; axis < 2; ++axis) {
    if (o.size_) {
      HG_CHECK((*o.size_)[axis] > 0, "interpolate: output size (", (*o.size_)[0], ", ",
               (*o.size_)[1], ") must be positive, for ", describe(x));
      continue;
    }
    const double scale = (*o.scale_factor_)[axis];
    const double length = std::floor(static_cast<double>(x.size(2 + axis)) * scale);
    HG_CHECK(std::isfinite(scale) && scale > 0 && length >= 1, "interpolate: scale_factor ", scale,
             " gives an empty output for ", describe(x));
    HG_CHECK(length <= 1e12, "interpolate: scale_factor ", scale, " gives ", length,
             " elements along a dim of ", describe(x));
  }
}

}  // namespace

Tensor interpolate(const Tensor& input, const InterpolateOptions& o) {
  check_interpolate(input, o);
  const bool widen = o.mode_ == InterpolateMode::Bilinear && is_low_precision(input.dtype());
  Tensor out = widen ? input.to(kFloat32) : input;
  // width first, then height: torch blends along the width inside each height blend
  for (const int axis : {1, 0}) {
    const int64_t in = input.size(2 + axis);
    std::optional<double> scale;
    int64_t size = 0;
    if (o.size_) {
      size = (*o.size_)[axis];
    } else {
      scale = (*o.scale_factor_)[axis];
      size = static_cast<int64_t>(std::floor(static_cast<double>(in) * *scale));
    }
    const AxisPlan plan = input.dtype() == kFloat64 && o.mode_ == InterpolateMode::Bilinear
                              ? plan_axis<double>(in, size, scale, o.mode_, o.align_corners_)
                              : plan_axis<float>(in, size, scale, o.mode_, o.align_corners_);
    if (size != in || o.mode_ == InterpolateMode::Bilinear) out = resize_axis(out, 2 + axis, plan);
  }
  if (widen) return out.to(input.dtype());
  return out.is_same(input) ? input.clone() : out;
}

}  // namespace hg
