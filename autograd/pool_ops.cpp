// max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d on the pooling kernel
// families. Output sizes follow PyTorch (floor mode): (H + 2 pad - kernel) / stride + 1, and
// padding may be at most half the kernel. Max pooling saves the argmax indices (one per output;
// on CUDA a uint8 position in the window, elsewhere an int64 position in the plane) and its
// backward scatters through them; average pooling saves nothing.
#include <string>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg {

namespace {

std::string pair_str(Pair p) { return detail::concat("(", p[0], ", ", p[1], ")"); }

Tensor untaped_contiguous(const Tensor& t) {
  NoGradGuard no_grad;
  return t.contiguous();
}

void check_pool_input(const Tensor& x, const char* op) {
  autograd::check_defined(x, op);
  HG_CHECK(x.is_floating_point(), op, ": expected a floating-point tensor, got x ", describe(x));
  HG_CHECK(x.dim() == 4 && x.size(2) >= 1 && x.size(3) >= 1, op,
           ": expected x [N, C, H, W] (4-D, H and W >= 1), got x ", describe(x));
}

// Checks the window arguments and computes the output size; stride {0, 0} means the kernel.
kernels::Pool2dParams pool_params(const Tensor& x, Pair kernel, Pair stride, Pair padding,
                                  const char* op, Shape& out_shape) {
  check_pool_input(x, op);
  if (stride[0] == 0 && stride[1] == 0) stride = kernel;
  const std::string args =
      detail::concat(" kernel ", pair_str(kernel), ", stride ", pair_str(stride), ", padding ",
                     pair_str(padding), " for x ", describe(x));
  HG_CHECK(kernel[0] >= 1 && kernel[1] >= 1 && stride[0] >= 1 && stride[1] >= 1, op,
           ": expected kernel >= 1 and stride >= 1, got", args);
  HG_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 &&
               padding[1] <= kernel[1] / 2,
           op, ": padding must be >= 0 and at most half the kernel, got", args);
  out_shape = {x.size(0), x.size(1), 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t span = x.size(2 + d) + 2 * padding[d] - kernel[d];
    HG_CHECK(span >= 0, op, ": the kernel is larger than the padded input, got", args);
    out_shape[2 + d] = span / stride[d] + 1;
  }
  return {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], true};
}

void check_output_size(const Tensor& x, Pair size, const char* op) {
  check_pool_input(x, op);
  HG_CHECK(size[0] >= 1 && size[1] >= 1, op, ": expected an output size >= 1, got ", pair_str(size),
           " for x ", describe(x));
}

// The backward of max pooling, regular or adaptive: scatter through the saved argmax.
class MaxPool2dBackward final : public autograd::Node {
 public:
  // params: the forward's windows; nullptr for adaptive pooling.
  MaxPool2dBackward(const kernels::Pool2dParams* params, const Tensor& indices)
      : adaptive_(params == nullptr),
        params_(params != nullptr ? *params : kernels::Pool2dParams{}),
        indices_(indices) {}
  std::string name() const override {
    return adaptive_ ? "AdaptiveMaxPool2dBackward" : "MaxPool2dBackward";
  }
  bool release_saved() override { return indices_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& indices = indices_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor gx = make_tensor(inputs[0].shape, inputs[0].dtype, inputs[0].device);
    kernels::max_pool2d_backward(gx.device())(kernels::view_of(g), kernels::view_of(indices),
                                              kernels::view_of(gx), adaptive_ ? nullptr : &params_);
    return {gx};
  }

 private:
  bool adaptive_;
  kernels::Pool2dParams params_;
  autograd::SavedTensor indices_;
};

// The backward of average pooling: regular when params are given, else adaptive.
class AvgPool2dBackward final : public autograd::Node {
 public:
  explicit AvgPool2dBackward(const kernels::Pool2dParams* params)
      : adaptive_(params == nullptr),
        params_(params != nullptr ? *params : kernels::Pool2dParams{}) {}
  std::string name() const override {
    return adaptive_ ? "AdaptiveAvgPool2dBackward" : "AvgPool2dBackward";
  }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor gx = make_tensor(inputs[0].shape, inputs[0].dtype, inputs[0].device);
    if (adaptive_)
      kernels::adaptive_avg_pool2d_backward(gx.device())(kernels::view_of(g), kernels::view_of(gx));
    else
      kernels::avg_pool2d_backward(gx.device())(kernels::view_of(g), kernels::view_of(gx), params_);
    return {gx};
  }

 private:
  bool adaptive_;
  kernels::Pool2dParams params_;
};

Tensor record_max(const Tensor& x, Tensor out, const Tensor& indices,
                  const kernels::Pool2dParams* params) {
  if (autograd::needs_grad({&x})) autograd::record_op<MaxPool2dBackward>({x}, out, params, indices);
  return out;
}

Tensor record_avg(const Tensor& x, Tensor out, const kernels::Pool2dParams* params) {
  if (autograd::needs_grad({&x})) autograd::record_op<AvgPool2dBackward>({x}, out, params);
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding) {
  Shape out_shape;
  const kernels::Pool2dParams params =
      pool_params(x, kernel, stride, padding, "max_pool2d", out_shape);
  const Tensor xc = untaped_contiguous(x);
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  // The CUDA kernels keep the argmax as a position in the window: a byte where int64 takes
  // eight (ResNet-9 at batch 512 saves 237 MB of int64 indices, most of it for layer 1).
  const bool in_window = x.device().is_cuda() && params.kernel_h * params.kernel_w <= 256;
  Tensor indices = make_tensor(out_shape, in_window ? kUInt8 : kInt64, x.device());
  kernels::max_pool2d(x.device())(kernels::view_of(xc), kernels::view_of(out),
                                  kernels::view_of(indices), params);
  return record_max(x, out, indices, &params);
}

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool count_include_pad) {
  Shape out_shape;
  kernels::Pool2dParams params = pool_params(x, kernel, stride, padding, "avg_pool2d", out_shape);
  params.count_include_pad = count_include_pad;
  const Tensor xc = untaped_contiguous(x);
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  kernels::avg_pool2d(x.device())(kernels::view_of(xc), kernels::view_of(out), params);
  return record_avg(x, out, &params);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  check_output_size(x, output_size, "adaptive_avg_pool2d");
  const Tensor xc = untaped_contiguous(x);
  Tensor out =
      make_tensor({x.size(0), x.size(1), output_size[0], output_size[1]}, x.dtype(), x.device());
  kernels::adaptive_pool2d(x.device())(false, kernels::view_of(xc), kernels::view_of(out), nullptr);
  return record_avg(x, out, nullptr);
}

Tensor adaptive_max_pool2d(const Tensor& x, Pair output_size) {
  check_output_size(x, output_size, "adaptive_max_pool2d");
  const Tensor xc = untaped_contiguous(x);
  const Shape out_shape{x.size(0), x.size(1), output_size[0], output_size[1]};
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  Tensor indices = make_tensor(out_shape, kInt64, x.device());
  const kernels::TensorView vi = kernels::view_of(indices);
  kernels::adaptive_pool2d(x.device())(true, kernels::view_of(xc), kernels::view_of(out), &vi);
  return record_max(x, out, indices, nullptr);
}

}  // namespace hg
