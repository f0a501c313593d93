// Neural-network ops composed of others (autograd/nn_ops.h): conv1d and the 1-D pools are their
// 2-D forms over a height of one, group_norm is layer_norm over each group followed by the
// per-channel affine. Their backward is the chain of their parts', and they run on every backend
// those parts do.
#include <algorithm>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

// op2d(x [N, C, 1, L]) squeezed back to [N, C, LO]. An error of the 2-D op (a kernel larger
// than the input, ...) is rethrown under the 1-D op's name with the 3-D input it was given.
template <typename Op2d>
Tensor over_height_one(const char* op, const Tensor& x, Op2d&& op2d) {
  HG_CHECK(x.defined() && x.dim() == 3, op, ": expected input [N, C, L], got ", describe(x));
  try {
    return op2d(x.unsqueeze(2)).squeeze(2);
  } catch (const Error& e) {
    HG_FAIL(op, " of input ", describe(x),
            " (run as its 2-D form over a height of one): ", e.what());
  }
}

}  // namespace

// The channel checks conv2d would make too, made here so the message shows the 3-D shapes the
// caller passed rather than the 4-D ones conv2d sees.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups) {
  autograd::check_floating(x, "conv1d");
  autograd::check_floating(weight, "conv1d");
  HG_CHECK(x.dim() == 3 && weight.dim() == 3, "conv1d: expected input [N, C, L] and weight [O, ",
           "C / groups, K], got ", describe(x), " and ", describe(weight));
  HG_CHECK(groups > 0 && x.size(1) == weight.size(1) * groups && weight.size(0) % groups == 0,
           "conv1d: input ", describe(x), " and weight ", describe(weight),
           " do not match with groups ", groups, " (input channels = weight.size(1) * groups)");
  HG_CHECK(stride > 0 && padding >= 0 && dilation > 0, "conv1d: stride ", stride, ", padding ",
           padding, ", dilation ", dilation, " for input ", describe(x),
           " (stride and dilation must be positive, padding >= 0)");
  return over_height_one("conv1d", x, [&](const Tensor& x4) {
    return conv2d(x4, weight.unsqueeze(2), bias, {1, stride}, {0, padding}, {1, dilation}, groups);
  });
}

// stride 0 is the kernel size, as in the 2-D pools.
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return over_height_one("max_pool1d", x, [&](const Tensor& x4) {
    return max_pool2d(x4, {1, kernel}, {1, stride == 0 ? kernel : stride}, {0, padding});
  });
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                  bool count_include_pad) {
  return over_height_one("avg_pool1d", x, [&](const Tensor& x4) {
    return avg_pool2d(x4, {1, kernel}, {1, stride == 0 ? kernel : stride}, {0, padding},
                      count_include_pad);
  });
}

Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size) {
  return over_height_one("adaptive_avg_pool1d", x, [&](const Tensor& x4) {
    return adaptive_avg_pool2d(x4, {1, output_size});
  });
}

Tensor adaptive_max_pool1d(const Tensor& x, int64_t output_size) {
  return over_height_one("adaptive_max_pool1d", x, [&](const Tensor& x4) {
    return adaptive_max_pool2d(x4, {1, output_size});
  });
}

namespace {

void check_group_norm_args(const Tensor& x, int64_t num_groups, const Tensor& weight,
                           const Tensor& bias) {
  autograd::check_floating(x, "group_norm");
  HG_CHECK(x.dim() >= 2, "group_norm: expected input [N, C, *], got ", describe(x));
  const int64_t channels = x.size(1);
  HG_CHECK(num_groups > 0 && channels % num_groups == 0, "group_norm: the ", channels,
           " channels of input ", describe(x), " do not split into num_groups ", num_groups);
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    HG_CHECK(p->sizes() == Shape{channels} && p->dtype() == x.dtype(), "group_norm: parameter ",
             describe(*p), " must be [", channels, "] ", dtype_name(x.dtype()), " for input ",
             describe(x));
    autograd::check_same_device(x, *p, "group_norm");
  }
}

}  // namespace

// layer_norm's kernel normalises each row of [N * G, C / G * prod(*)]: the biased variance and
// 1 / sqrt(var + eps) of torch's group_norm. 16-bit operands outside autocast are widened first
// so that the normalisation, the scale and the shift round once, not three times.
Tensor group_norm(const Tensor& x_raw, int64_t num_groups, const Tensor& weight_raw,
                  const Tensor& bias_raw, double eps) {
  const auto in = amp::autocast(amp::OpId::GroupNorm, {x_raw, weight_raw, bias_raw});
  const Tensor &x = in[0], &weight = in[1], &bias = in[2];
  check_group_norm_args(x, num_groups, weight, bias);
  const bool widen = is_low_precision(x.dtype());
  const auto wide = [widen](const Tensor& t) { return widen && t.defined() ? t.to(kFloat32) : t; };
  const int64_t batch = x.size(0);
  const int64_t group_numel = batch == 0 ? 0 : x.numel() / (batch * num_groups);
  Tensor y = layer_norm(wide(x).reshape({batch, num_groups, group_numel}), {group_numel}, Tensor(),
                        Tensor(), eps)
                 .reshape(x.sizes());
  Shape per_channel(static_cast<size_t>(x.dim()), 1);
  per_channel[1] = x.size(1);
  if (weight.defined()) y = y * wide(weight).view(per_channel);
  if (bias.defined()) y = y + wide(bias).view(per_channel);
  return widen ? y.to(x.dtype()) : y;
}

// The mask in x's dtype, scaled by 1 / (1 - p) there, then one multiply: PyTorch's noise tensor
// does the same. It holds no gradient, so x's gradient is g times the mask.
Tensor dropout2d(const Tensor& x, double p, bool training) {
  autograd::check_floating(x, "dropout2d");
  HG_CHECK(x.dim() == 3 || x.dim() == 4,
           "dropout2d: expected input [N, C, H, W] or [C, H, W], got ", describe(x));
  HG_CHECK(p >= 0.0 && p <= 1.0, "dropout2d: probability ", p, " is outside [0, 1] (input ",
           describe(x), ")");
  if (!training || p == 0.0) return x;
  Shape per_channel = x.sizes();
  per_channel[per_channel.size() - 1] = 1;
  per_channel[per_channel.size() - 2] = 1;
  return x * dropout(ones(per_channel, x.options()), p, true);
}

}  // namespace hg
