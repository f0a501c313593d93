// conv2d (stride, padding, dilation, groups, optional bias) on the conv2d kernel family; its
// node saves the contiguous input and weight and asks the backward kernel for exactly the
// gradients that flow somewhere. conv_transpose2d is conv2d's adjoint on the same kernels: its
// forward is conv2d's input gradient, its input gradient conv2d's forward, its weight gradient
// conv2d's weight gradient with the roles of input and upstream gradient swapped.
#include <string>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg {

namespace {

const kernels::TensorView* optional_view(const Tensor& t, kernels::TensorView& storage) {
  if (!t.defined()) return nullptr;
  storage = kernels::view_of(t);
  return &storage;
}

Tensor untaped_contiguous(const Tensor& t) {
  NoGradGuard no_grad;
  return t.defined() ? t.contiguous() : t;
}

std::string operands(const Tensor& x, const Tensor& w) {
  return detail::concat("x ", describe(x), ", weight ", describe(w));
}

std::string pair_str(Pair p) { return detail::concat("(", p[0], ", ", p[1], ")"); }

class Conv2dBackward final : public autograd::Node {
 public:
  Conv2dBackward(const kernels::Conv2dParams& params, const Tensor& x, const Tensor& weight)
      : params_(params), x_(x), weight_(weight) {}
  std::string name() const override { return "Conv2dBackward"; }
  bool release_saved() override { return release_all(x_, weight_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& x = x_.unpack(*this);
    const Tensor& w = weight_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    const bool has_bias = next_edges.size() > 2;
    Tensor gx, gw, gb;
    if (next_edges[0].active()) gx = make_tensor(x.sizes(), x.dtype(), x.device());
    if (next_edges[1].active()) gw = make_tensor(w.sizes(), w.dtype(), w.device());
    if (has_bias && next_edges[2].active()) gb = make_tensor({w.size(0)}, w.dtype(), w.device());
    kernels::TensorView vx, vw, vb;
    kernels::conv2d_backward(x.device())(kernels::view_of(x), kernels::view_of(w),
                                         kernels::view_of(g), optional_view(gx, vx),
                                         optional_view(gw, vw), optional_view(gb, vb), params_);
    if (has_bias) return {gx, gw, gb};
    return {gx, gw};
  }

 private:
  kernels::Conv2dParams params_;
  autograd::SavedTensor x_, weight_;
};

void check_conv_operands(const Tensor& x, const Tensor& w, const Tensor& bias) {
  autograd::check_defined(x, "conv2d");
  autograd::check_defined(w, "conv2d");
  autograd::check_same_device(x, w, "conv2d");
  HG_CHECK(x.is_floating_point() && w.is_floating_point(),
           "conv2d: expected floating-point tensors, got ", operands(x, w));
  HG_CHECK(x.dtype() == w.dtype(), "conv2d: dtypes differ: ", operands(x, w),
           " (cast one, or use autocast)");
  HG_CHECK(x.dim() == 4 && w.dim() == 4,
           "conv2d: expected x [N, C, H, W] and weight "
           "[O, C / groups, KH, KW] (4-D each), got ",
           operands(x, w));
  if (!bias.defined()) return;
  autograd::check_same_device(x, bias, "conv2d");
  HG_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: bias ", describe(bias),
           " does not match ", operands(x, w), " (expected [", w.size(0), "])");
  HG_CHECK(bias.dtype() == x.dtype(), "conv2d: dtypes differ: bias ", describe(bias), ", ",
           operands(x, w), " (cast one, or use autocast)");
}

void check_conv_geometry(const Tensor& x, const Tensor& w, Pair stride, Pair padding, Pair dilation,
                         int64_t groups) {
  HG_CHECK(stride[0] >= 1 && stride[1] >= 1 && dilation[0] >= 1 && dilation[1] >= 1 &&
               padding[0] >= 0 && padding[1] >= 0,
           "conv2d: expected stride >= 1, dilation >= 1, padding >= 0, got stride ",
           pair_str(stride), ", padding ", pair_str(padding), ", dilation ", pair_str(dilation),
           " for ", operands(x, w));
  HG_CHECK(groups >= 1 && x.size(1) % groups == 0 && w.size(0) % groups == 0 &&
               w.size(1) * groups == x.size(1),
           "conv2d: channels do not match with groups = ", groups, ": ", operands(x, w),
           " (need C = weight.size(1) * groups, and C and O divisible by groups)");
  HG_CHECK(w.size(2) >= 1 && w.size(3) >= 1, "conv2d: kernel size must be at least 1x1, got ",
           w.size(2), "x", w.size(3), ": ", operands(x, w));
  for (int d = 0; d < 2; ++d) {
    const int64_t extent = dilation[d] * (w.size(2 + d) - 1) + 1;
    const int64_t padded = x.size(2 + d) + 2 * padding[d];
    HG_CHECK(extent <= padded, "conv2d: kernel ", w.size(2), "x", w.size(3), " (dilation ",
             pair_str(dilation), ") is larger than the padded input ", x.size(2) + 2 * padding[0],
             "x", x.size(3) + 2 * padding[1], ": ", operands(x, w), ", padding ",
             pair_str(padding));
  }
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, Pair stride,
              Pair padding, Pair dilation, int64_t groups) {
  const auto in = amp::autocast(amp::OpId::Conv2d, {x_in, weight_in, bias_in});
  const Tensor &x = in[0], &weight = in[1], &bias = in[2];
  check_conv_operands(x, weight, bias);
  check_conv_geometry(x, weight, stride, padding, dilation, groups);
  const kernels::Conv2dParams params{stride[0],   stride[1],   padding[0], padding[1],
                                     dilation[0], dilation[1], groups};
  Shape out_shape{x.size(0), weight.size(0), 0, 0};
  for (int d = 0; d < 2; ++d)
    out_shape[2 + d] =
        (x.size(2 + d) + 2 * padding[d] - dilation[d] * (weight.size(2 + d) - 1) - 1) / stride[d] +
        1;
  const Tensor xc = untaped_contiguous(x), wc = untaped_contiguous(weight);
  const Tensor bc = untaped_contiguous(bias);
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  kernels::TensorView vb;
  kernels::conv2d(x.device())(kernels::view_of(xc), kernels::view_of(wc), optional_view(bc, vb),
                              kernels::view_of(out), params);
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs))
    autograd::record_op<Conv2dBackward>(inputs, out, params, xc, wc);
  return out;
}

namespace {

class ConvTranspose2dBackward final : public autograd::Node {
 public:
  ConvTranspose2dBackward(const kernels::Conv2dParams& params, const Tensor& x,
                          const Tensor& weight)
      : params_(params), x_(x), weight_(weight) {}
  std::string name() const override { return "ConvTranspose2dBackward"; }
  bool release_saved() override { return release_all(x_, weight_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& x = x_.unpack(*this);
    const Tensor& w = weight_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor gx, gw;
    if (next_edges[0].active()) {  // conv2d of the upstream gradient: back to x's shape
      gx = make_tensor(x.sizes(), x.dtype(), x.device());
      kernels::conv2d(x.device())(kernels::view_of(g), kernels::view_of(w), nullptr,
                                  kernels::view_of(gx), params_);
    }
    if (next_edges[1].active()) {  // conv2d's weight gradient with input g and upstream x
      gw = make_tensor(w.sizes(), w.dtype(), w.device());
      kernels::TensorView vw = kernels::view_of(gw);
      kernels::conv2d_backward(x.device())(kernels::view_of(g), kernels::view_of(w),
                                           kernels::view_of(x), nullptr, &vw, nullptr, params_);
    }
    return {gx, gw};
  }

 private:
  kernels::Conv2dParams params_;
  autograd::SavedTensor x_, weight_;
};

void check_transposed_operands(const Tensor& x, const Tensor& w, const Tensor& bias,
                               int64_t groups) {
  const char* op = "conv_transpose2d";
  autograd::check_defined(x, op);
  autograd::check_defined(w, op);
  autograd::check_same_device(x, w, op);
  HG_CHECK(x.is_floating_point() && w.is_floating_point(), op,
           ": expected floating-point tensors, got ", operands(x, w));
  HG_CHECK(x.dtype() == w.dtype(), op, ": dtypes differ: ", operands(x, w),
           " (cast one, or use autocast)");
  HG_CHECK(x.dim() == 4 && w.dim() == 4, op,
           ": expected x [N, C, H, W] and weight [C, O / groups, KH, KW] (4-D each), got ",
           operands(x, w));
  HG_CHECK(groups >= 1 && w.size(0) == x.size(1) && x.size(1) % groups == 0, op,
           ": channels do not match with groups = ", groups, ": ", operands(x, w),
           " (need weight.size(0) = C, divisible by groups)");
  HG_CHECK(w.size(2) >= 1 && w.size(3) >= 1, op, ": kernel size must be at least 1x1, got ",
           w.size(2), "x", w.size(3), ": ", operands(x, w));
  if (!bias.defined()) return;
  autograd::check_same_device(x, bias, op);
  HG_CHECK(bias.dim() == 1 && bias.size(0) == w.size(1) * groups, op, ": bias ", describe(bias),
           " does not match ", operands(x, w), " (expected [", w.size(1) * groups, "])");
  HG_CHECK(bias.dtype() == x.dtype(), op, ": dtypes differ: bias ", describe(bias), ", ",
           operands(x, w), " (cast one, or use autocast)");
}

// The output size of each spatial dim, checked: PyTorch's formula, with output_padding (which
// picks one of the input sizes conv2d maps to the same output) below stride or dilation.
Shape transposed_output_shape(const Tensor& x, const Tensor& w, Pair stride, Pair padding,
                              Pair output_padding, Pair dilation, int64_t groups) {
  Shape out{x.size(0), w.size(1) * groups, 0, 0};
  for (int d = 0; d < 2; ++d) {
    HG_CHECK(stride[d] >= 1 && dilation[d] >= 1 && padding[d] >= 0 && output_padding[d] >= 0 &&
                 (output_padding[d] < stride[d] || output_padding[d] < dilation[d]),
             "conv_transpose2d: expected stride >= 1, dilation >= 1, padding >= 0 and 0 <= "
             "output_padding < stride or dilation, got stride ",
             pair_str(stride), ", padding ", pair_str(padding), ", output_padding ",
             pair_str(output_padding), ", dilation ", pair_str(dilation), " for ", operands(x, w));
    out[2 + d] = (x.size(2 + d) - 1) * stride[d] - 2 * padding[d] +
                 dilation[d] * (w.size(2 + d) - 1) + output_padding[d] + 1;
  }
  HG_CHECK(out[2] >= 1 && out[3] >= 1, "conv_transpose2d: the output would be ", out[2], "x",
           out[3], ": padding ", pair_str(padding), " is too large for ", operands(x, w));
  return out;
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                        Pair stride, Pair padding, Pair output_padding, int64_t groups,
                        Pair dilation) {
  const auto in = amp::autocast(amp::OpId::ConvTranspose2d, {x_in, weight_in, bias_in});
  const Tensor &x = in[0], &weight = in[1], &bias = in[2];
  check_transposed_operands(x, weight, bias, groups);
  const Shape out_shape =
      transposed_output_shape(x, weight, stride, padding, output_padding, dilation, groups);
  const kernels::Conv2dParams params{stride[0],   stride[1],   padding[0], padding[1],
                                     dilation[0], dilation[1], groups};
  const Tensor xc = untaped_contiguous(x), wc = untaped_contiguous(weight);
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  // conv2d's input gradient, with out in the role of conv2d's input (only its shape is read)
  kernels::TensorView vout = kernels::view_of(out);
  kernels::conv2d_backward(x.device())(vout, kernels::view_of(wc), kernels::view_of(xc), &vout,
                                       nullptr, nullptr, params);
  if (autograd::needs_grad({x, weight}))
    autograd::record_op<ConvTranspose2dBackward>({x, weight}, out, params, xc, wc);
  // the bias as a broadcast add (its own node: its gradient sums the upstream gradient)
  return bias.defined() ? out + bias.reshape({1, out_shape[1], 1, 1}) : out;
}

}  // namespace hg
