// batch_norm and layer_norm: one kernel each way; the node saves the input and the per-channel
// (per-row) statistics.
#include <cmath>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg {

namespace {

DType stats_dtype(const Tensor& x) { return x.dtype() == kFloat64 ? kFloat64 : kFloat32; }

const kernels::TensorView* optional_view(const Tensor& t, kernels::TensorView& storage) {
  if (!t.defined()) return nullptr;
  storage = kernels::view_of(t);
  return &storage;
}

// What both norms save: the input, the weight and the per-channel (per-row) statistics.
class NormBackward : public autograd::Node {
 public:
  NormBackward(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& invstd)
      : x_(x), weight_(weight), mean_(mean), invstd_(invstd) {}
  bool release_saved() override { return release_all(x_, weight_, mean_, invstd_); }

 protected:
  autograd::SavedTensor x_, weight_, mean_, invstd_;
};

class BatchNormBackward final : public NormBackward {
 public:
  BatchNormBackward(bool training, const Tensor& x, const Tensor& weight, const Tensor& mean,
                    const Tensor& invstd)
      : NormBackward(x, weight, mean, invstd), training_(training) {}
  std::string name() const override {
    return relu_ ? "BatchNormReluBackward" : "BatchNormBackward";
  }
  // With relu fused: the kernels recompute the output's sign (relu's mask) from x, the
  // statistics, weight and bias, so the output itself need not stay alive for it (before a
  // max pool, nothing else keeps it).
  void fuse_relu(const Tensor& bias) {
    relu_ = true;
    bias_ = autograd::SavedTensor(bias);
  }
  bool release_saved() override {
    const bool base = NormBackward::release_saved();
    return bias_.reset() || base;
  }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& x = x_.unpack(*this);
    const Tensor& weight = weight_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], x.dtype()).contiguous();
    Tensor gx, gw, gb;
    kernels::TensorView vx, vw, vb, vweight;
    if (next_edges[0].active()) gx = make_tensor(x.sizes(), x.dtype(), x.device());
    if (next_edges.size() > 1 && next_edges[1].active())
      gw = make_tensor(inputs[1].shape, inputs[1].dtype, x.device());
    if (next_edges.size() > 2 && next_edges[2].active())
      gb = make_tensor(inputs[2].shape, inputs[2].dtype, x.device());
    kernels::TensorView vbias;
    kernels::batch_norm_backward(x.device())(
        training_, kernels::view_of(x), kernels::view_of(g), relu_, optional_view(weight, vweight),
        optional_view(relu_ ? bias_.unpack(*this) : Tensor(), vbias),
        kernels::view_of(mean_.unpack(*this)), kernels::view_of(invstd_.unpack(*this)),
        optional_view(gx, vx), optional_view(gw, vw), optional_view(gb, vb));
    std::vector<Tensor> result{gx};
    if (next_edges.size() > 1) result.push_back(gw);
    if (next_edges.size() > 2) result.push_back(gb);
    return result;
  }

 private:
  bool training_;
  bool relu_ = false;
  autograd::SavedTensor bias_;  // with relu fused
};

void check_param(const Tensor& p, int64_t channels, DType want, const char* what, const Tensor& x) {
  if (!p.defined()) return;
  HG_CHECK(p.dim() == 1 && p.size(0) == channels, "batch_norm: ", what, " ", describe(p),
           " does not match the ", channels, " channels of input ", describe(x));
  HG_CHECK(p.dtype() == want, "batch_norm: ", what, " ", describe(p), " must be ", dtype_name(want),
           " for input ", describe(x), " (BatchNorm keeps fp32 parameters)");
  autograd::check_same_device(x, p, "batch_norm");
}

// running = (1 - m) running + m batch (the variance unbiased), and batches_tracked (when
// defined) + 1: one kernel for contiguous statistics and an int64 counter on their device, the
// same tensor ops (the same bits) otherwise. Written in place, so the versions move on.
void update_running_stats(const Tensor& running_mean, const Tensor& running_var,
                          const Tensor& batch_mean, const Tensor& batch_var, double momentum,
                          const Tensor& batches_tracked) {
  NoGradGuard no_grad;
  const bool counter = batches_tracked.defined();
  const bool one_kernel =
      running_mean.is_contiguous() && running_var.is_contiguous() &&
      (!counter || (batches_tracked.dtype() == kInt64 && batches_tracked.numel() == 1 &&
                    batches_tracked.device() == running_mean.device()));
  if (!one_kernel) {
    Tensor(running_mean).copy_(running_mean * (1.0 - momentum) + batch_mean * momentum);
    Tensor(running_var).copy_(running_var * (1.0 - momentum) + batch_var * momentum);
    if (counter) Tensor(batches_tracked).add_(ones({}, batches_tracked.options()));
    return;
  }
  kernels::TensorView vcount;
  kernels::batch_norm_running_stats(running_mean.device())(
      kernels::view_of(running_mean), kernels::view_of(running_var), kernels::view_of(batch_mean),
      kernels::view_of(batch_var), momentum, optional_view(batches_tracked, vcount));
  running_mean.storage()->bump_version();
  running_var.storage()->bump_version();
  if (counter) batches_tracked.storage()->bump_version();
}

// What batch_norm_fused does in batch_norm's own kernels besides batch norm.
struct FusedParts {
  bool relu = false;       // relu of the output
  Tensor batches_tracked;  // when defined: + 1, with the running statistics
};

Tensor batch_norm_fused(const Tensor& x_raw, const Tensor& running_mean, const Tensor& running_var,
                        const Tensor& weight, const Tensor& bias, bool training, double momentum,
                        double eps, const FusedParts& fused) {
  const bool relu = fused.relu;
  const Tensor x_in = amp::autocast(amp::OpId::BatchNorm, x_raw);
  autograd::check_floating(x_in, "batch_norm");
  HG_CHECK(x_in.dim() >= 2, "batch_norm: expected an input [N, C, *], got ", describe(x_in));
  const int64_t channels = x_in.size(1);
  const DType sdt = stats_dtype(x_in);
  for (auto [t, what] : {std::pair{&weight, "weight"},
                         {&bias, "bias"},
                         {&running_mean, "running_mean"},
                         {&running_var, "running_var"}})
    check_param(*t, channels, sdt, what, x_in);
  HG_CHECK(training || (running_mean.defined() && running_var.defined()),
           "batch_norm: eval "
           "mode needs running_mean and running_var for input ",
           describe(x_in));
  const int64_t per_channel = x_in.numel() / std::max<int64_t>(channels, 1);
  HG_CHECK(!training || per_channel > 1,
           "batch_norm: expected more than 1 value per channel "
           "when training, got input ",
           describe(x_in));
  const Tensor x = x_in.contiguous();
  Tensor mean = make_tensor({channels}, sdt, x.device());
  Tensor invstd = make_tensor({channels}, sdt, x.device());
  if (!training) {
    NoGradGuard no_grad;
    mean.copy_(running_mean);
    invstd.copy_(rsqrt(running_var + eps));
  }
  Tensor y = make_tensor(x.sizes(), x.dtype(), x.device());
  const bool update_running = training && running_mean.defined() && running_var.defined();
  Tensor batch_var = update_running ? make_tensor({channels}, sdt, x.device()) : Tensor();
  kernels::TensorView vw, vb, vvar;
  kernels::batch_norm(x.device())(training, kernels::view_of(x), optional_view(weight, vw),
                                  optional_view(bias, vb), kernels::view_of(mean),
                                  kernels::view_of(invstd), optional_view(batch_var, vvar), eps,
                                  relu, kernels::view_of(y));
  if (update_running)
    update_running_stats(running_mean, running_var, mean, batch_var, momentum,
                         fused.batches_tracked);
  std::vector<Tensor> inputs{x_in};
  if (weight.defined() || bias.defined()) inputs.push_back(weight);
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs)) {
    auto node =
        autograd::record_op<BatchNormBackward>(inputs, y, training, x, weight, mean, invstd);
    if (relu) node->fuse_relu(bias);
  }
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  return batch_norm_fused(x, running_mean, running_var, weight, bias, training, momentum, eps, {});
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum,
                       double eps) {
  return batch_norm_fused(x, running_mean, running_var, weight, bias, training, momentum, eps,
                          {.relu = true, .batches_tracked = Tensor()});
}

Tensor detail::batch_norm_counted(const Tensor& x, const Tensor& running_mean,
                                  const Tensor& running_var, const Tensor& weight,
                                  const Tensor& bias, bool training, double momentum, double eps,
                                  bool relu, const Tensor& num_batches_tracked) {
  return batch_norm_fused(x, running_mean, running_var, weight, bias, training, momentum, eps,
                          {.relu = relu, .batches_tracked = num_batches_tracked});
}

}  // namespace hg

namespace hg {

namespace {

class LayerNormBackward final : public NormBackward {
 public:
  LayerNormBackward(const Tensor& x2d, const Tensor& weight, const Tensor& mean,
                    const Tensor& invstd)
      : NormBackward(x2d, weight, mean, invstd) {}
  std::string name() const override { return "LayerNormBackward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& x = x_.unpack(*this);
    const Tensor& weight = weight_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], x.dtype()).contiguous().view(x.sizes());
    Tensor gx, gw, gb;
    kernels::TensorView vx, vw, vb, vweight;
    if (next_edges[0].active()) gx = make_tensor(x.sizes(), x.dtype(), x.device());
    if (next_edges.size() > 1 && next_edges[1].active())
      gw = make_tensor({x.size(1)}, x.dtype(), x.device());
    if (next_edges.size() > 2 && next_edges[2].active())
      gb = make_tensor({x.size(1)}, x.dtype(), x.device());
    kernels::layer_norm_backward(x.device())(
        kernels::view_of(x), kernels::view_of(g), optional_view(weight, vweight),
        kernels::view_of(mean_.unpack(*this)), kernels::view_of(invstd_.unpack(*this)),
        optional_view(gx, vx), optional_view(gw, vw), optional_view(gb, vb));
    std::vector<Tensor> result{gx.defined() ? gx.view(inputs[0].shape) : gx};
    if (next_edges.size() > 1) result.push_back(gw.defined() ? gw.view(inputs[1].shape) : gw);
    if (next_edges.size() > 2) result.push_back(gb.defined() ? gb.view(inputs[2].shape) : gb);
    return result;
  }
};

}  // namespace

Tensor layer_norm(const Tensor& x_raw, const Shape& normalized_shape, const Tensor& weight_raw,
                  const Tensor& bias_raw, double eps) {
  const auto in = amp::autocast(amp::OpId::LayerNorm, {x_raw, weight_raw, bias_raw});
  const Tensor &x_in = in[0], &weight = in[1], &bias = in[2];
  autograd::check_floating(x_in, "layer_norm");
  const auto k = static_cast<int64_t>(normalized_shape.size());
  bool matches = k >= 1 && k <= x_in.dim();
  for (int64_t i = 0; matches && i < k; ++i)
    matches = x_in.size(x_in.dim() - k + i) == normalized_shape[i];
  HG_CHECK(matches, "layer_norm: normalized_shape ", shape_str(normalized_shape),
           " does not match the trailing dims of input ", describe(x_in));
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    HG_CHECK(p->sizes() == normalized_shape && p->dtype() == x_in.dtype(), "layer_norm: parameter ",
             describe(*p), " must be ", shape_str(normalized_shape), " ", dtype_name(x_in.dtype()),
             " for input ", describe(x_in));
    autograd::check_same_device(x_in, *p, "layer_norm");
  }
  const int64_t cols = shape_numel(normalized_shape);
  const Tensor x = [&] {
    NoGradGuard no_grad;
    return x_in.contiguous().view({x_in.numel() / std::max<int64_t>(cols, 1), cols});
  }();
  Tensor mean = make_tensor({x.size(0)}, stats_dtype(x), x.device());
  Tensor invstd = make_tensor({x.size(0)}, stats_dtype(x), x.device());
  Tensor y = make_tensor(x_in.sizes(), x.dtype(), x.device());
  kernels::TensorView vw, vb, vy = kernels::view_of(y);
  vy.ndim = 2;
  vy.sizes[0] = x.size(0);
  vy.sizes[1] = cols;
  vy.strides[0] = cols;
  vy.strides[1] = 1;
  kernels::layer_norm(x.device())(kernels::view_of(x), optional_view(weight, vw),
                                  optional_view(bias, vb), eps, kernels::view_of(mean),
                                  kernels::view_of(invstd), vy);
  std::vector<Tensor> inputs{x_in};
  if (weight.defined() || bias.defined()) inputs.push_back(weight);
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs))
    autograd::record_op<LayerNormBackward>(inputs, y, x, weight, mean, invstd);
  return y;
}

}  // namespace hg
