// Losses: nll_loss (gather kernel), cross_entropy = nll_loss(log_softmax) with label smoothing,
// and mse_loss.
#include "amp/autocast.h"
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "autograd/op_helpers.h"
#include "core/factories.h"
#include "kernels/nn_kernels.h"

namespace hg {

namespace {

class NllLossBackward final : public autograd::Node {
 public:
  NllLossBackward(const Tensor& target, int64_t ignore_index)
      : target_(target), ignore_index_(ignore_index) {}
  std::string name() const override { return "NllLossBackward"; }
  void release_saved() override { target_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(inputs[0].shape, inputs[0].dtype, g.device());
    kernels::nll_loss_backward(g.device())(kernels::view_of(g), kernels::view_of(target_.unpack(*this)),
                                           ignore_index_, kernels::view_of(grad));
    return {grad, Tensor()};
  }

 private:
  autograd::SavedTensor target_;
  int64_t ignore_index_;
};

// Per-sample negative log-likelihood [N] (0 at ignored targets).
Tensor nll_per_sample(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                      const char* op) {
  autograd::check_floating(log_probs, op);
  autograd::check_defined(target, op);
  autograd::check_same_device(log_probs, target, op);
  HG_CHECK(log_probs.dim() == 2, op, ": expected input [N, C], got ", describe(log_probs));
  HG_CHECK(target.dtype() == kInt64 && target.dim() == 1 && target.size(0) == log_probs.size(0),
           op, ": expected int64 targets [", log_probs.size(0), "] for input ",
           describe(log_probs), ", got ", describe(target));
  const Tensor lp = log_probs.contiguous(), t = target.contiguous();
  Tensor loss = make_tensor({lp.size(0)}, lp.dtype(), lp.device());
  int64_t bad = -1;
  kernels::nll_loss(lp.device())(kernels::view_of(lp), kernels::view_of(t), ignore_index,
                                 kernels::view_of(loss), &bad);
  HG_CHECK(bad < 0, op, ": target ", (bad < 0 ? 0 : t.to_vector<int64_t>()[bad]), " at index ",
           bad, " is out of range for ", lp.size(1), " classes (input ", describe(log_probs), ")");
  if (autograd::needs_grad({&log_probs}))
    autograd::record_op<NllLossBackward>({log_probs, target}, loss, t, ignore_index);
  return loss;
}

// Applies the reduction; mean divides by the number of counted samples.
Tensor reduce_loss(const Tensor& per_sample, Reduction reduction, double count) {
  switch (reduction) {
    case Reduction::None: return per_sample;
    case Reduction::Sum: return sum(per_sample);
    case Reduction::Mean: return sum(per_sample) / count;
  }
  return per_sample;
}

double counted(const Tensor& target, int64_t ignore_index) {
  NoGradGuard no_grad;
  return static_cast<double>(sum(ne(target, wrap_scalar(static_cast<double>(ignore_index), target))).item<int64_t>());
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                int64_t ignore_index) {
  const Tensor lp = amp::autocast(amp::OpId::NllLoss, log_probs);
  const Tensor per_sample = nll_per_sample(lp, target, ignore_index, "nll_loss");
  return reduce_loss(per_sample, reduction, counted(target, ignore_index));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction,
                     int64_t ignore_index, double label_smoothing) {
  autograd::check_floating(logits, "cross_entropy");
  HG_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing ",
           label_smoothing, " is outside [0, 1]");
  const Tensor logp = log_softmax(amp::autocast(amp::OpId::CrossEntropy, logits), -1);
  Tensor per_sample = nll_per_sample(logp, target, ignore_index, "cross_entropy");
  if (label_smoothing > 0.0) {
    // (1 - e) * nll + e * mean over classes of -log p, at the samples that are not ignored
    const Tensor kept = ne(target, wrap_scalar(static_cast<double>(ignore_index), target));
    const Tensor smooth = where(kept, -mean(logp, {1}), zeros({}, logp.options()));
    per_sample = per_sample * (1.0 - label_smoothing) + smooth * label_smoothing;
  }
  return reduce_loss(per_sample, reduction, counted(target, ignore_index));
}

Tensor mse_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction) {
  const auto in = amp::autocast(amp::OpId::MseLoss, {input_in, target_in});
  const Tensor &input = in[0], &target = in[1];
  autograd::check_floating(input, "mse_loss");
  autograd::check_floating(target, "mse_loss");
  HG_CHECK(input.sizes() == target.sizes(), "mse_loss: input ", describe(input),
           " and target ", describe(target), " differ in shape");
  const Tensor squared = square(input - target);
  switch (reduction) {
    case Reduction::None: return squared;
    case Reduction::Sum: return sum(squared);
    case Reduction::Mean: return mean(squared);
  }
  return squared;
}

}  // namespace hg
