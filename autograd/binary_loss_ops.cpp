// Binary cross-entropy, on probabilities and on logits: composites of tensor ops, so they run
// on every backend those ops do (on probabilities with PyTorch's gradient formula, in a node).
#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  autograd::check_floating(input, op);
  autograd::check_floating(target, op);
  HG_CHECK(input.sizes() == target.sizes(), op, ": input ", describe(input), " and target ",
           describe(target), " differ in shape");
}

// max(log(x), -100), as PyTorch clamps it: x = 0 gives a finite loss (the inner clamp keeps
// log's input positive). The gradients are BinaryCrossEntropyBackward's, not these ops'.
Tensor clamped_log(const Tensor& x) {
  return clamp_min(log(clamp_min(x, 1e-44)), -100.0);  // 1e-44 < e^-100: a float subnormal
}

// PyTorch's check that probabilities lie in [0, 1] (a NaN fails it): outside it the loss is
// meaningless, negative or NaN. Checked for CPU inputs only: on a device it would wait for the
// device (PyTorch's CUDA kernel asserts in the kernel instead).
void check_probabilities(const Tensor& p, const char* op) {
  if (!p.device().is_cpu() || p.numel() == 0) return;
  NoGradGuard no_grad;
  const double lo = min(p).item<double>(), hi = max(p).item<double>();
  HG_CHECK(lo >= 0.0 && hi <= 1.0, op, ": every input must be a probability in [0, 1], got ",
           describe(p), " with values in [", lo, ", ", hi, "]");
}

// PyTorch's gradients: d/dp = (p - t) / max((1 - p) p, 1e-12), finite for every p in [0, 1]
// (the composite's -t / p overflowed below p ~ 3e-39 in float: a confidently wrong sigmoid sent
// -inf into the model), and d/dt = log(1 - p) - log(p), each log clamped as the loss's are.
// For a 16-bit input the slope (p - t) / max(...) is clamped to that dtype's largest finite value:
// 1e12 at a saturated p = 0 or 1 would become inf in fp16, and the sigmoid before it would
// turn inf * 0 into NaN (every GradScaler step skipped, whatever the scale). The incoming
// gradient is not clamped: a scaled gradient that overflows fp16 must reach the scaler as inf.
class BinaryCrossEntropyBackward final : public autograd::Node {
 public:
  BinaryCrossEntropyBackward(const Tensor& probs, const Tensor& target, DType input_dtype)
      : probs_(probs), target_(target), input_dtype_(input_dtype) {}
  std::string name() const override { return "BinaryCrossEntropyBackward"; }
  bool release_saved() override { return release_all(probs_, target_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor &p = probs_.unpack(*this), &t = target_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    Tensor slope = (p - t) / clamp_min((1.0 - p) * p, 1e-12);
    if (is_low_precision(input_dtype_)) {  // the slope, not g: see above
      const double largest = largest_finite(input_dtype_);
      slope = clamp(slope, -largest, largest);
    }
    const Tensor grad_probs = g * slope;
    const Tensor grad_target = g * (clamped_log(1.0 - p) - clamped_log(p));
    return {grad_probs, grad_target};
  }

 private:
  autograd::SavedTensor probs_, target_;
  DType input_dtype_;  // before the cast to the compute dtype
};

}  // namespace

Tensor autograd::reduce_elementwise(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return per_element;
    case Reduction::Sum:
      return sum(per_element);
    case Reduction::Mean:
      return mean(per_element);
  }
  return per_element;
}

// binary_cross_entropy: -(t log p + (1 - t) log(1 - p)) elementwise. 16-bit inputs are computed
// in float32 and the loss returned in their dtype, as the other losses; under a 16-bit autocast
// region the op is refused (amp/autocast.h: probabilities near 0 and 1 round away in 16 bits).
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& target, Reduction reduction) {
  const Tensor p_in = amp::autocast(amp::OpId::BinaryCrossEntropy, probs);
  check_pair(p_in, target, "binary_cross_entropy");
  check_probabilities(p_in, "binary_cross_entropy");
  const DType compute = p_in.dtype() == kFloat64 ? kFloat64 : kFloat32;
  const Tensor p = p_in.to(compute), t = target.to(compute);
  Tensor per_element;
  {
    NoGradGuard no_grad;
    per_element = -(t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p));
  }
  if (autograd::needs_grad({&p, &t}))
    autograd::record_op<BinaryCrossEntropyBackward>({p, t}, per_element, p, t, p_in.dtype());
  return autograd::reduce_elementwise(per_element, reduction).to(p_in.dtype());
}

// binary_cross_entropy_with_logits: -(t log sigmoid(x) + (1 - t) log sigmoid(-x)), as a
// two-class log_softmax over (0, x): stable for any x, and its gradient, sigmoid(x) - t, is
// right everywhere (the usual max(x, 0) + log(1 + exp(-|x|)) has a kink at x = 0, where a
// subgradient of 0 would be wrong for a zero-initialised output layer).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction) {
  const auto in = amp::autocast(amp::OpId::BinaryCrossEntropyWithLogits, {logits, target});
  const Tensor &x = in[0], &t = in[1];
  check_pair(x, t, "binary_cross_entropy_with_logits");
  const Tensor log_probs = log_softmax(stack({zeros_like(x), x}, -1), -1);  // [..., 2]
  const Tensor per_element = -(t * log_probs.select(-1, 1) + (1.0 - t) * log_probs.select(-1, 0));
  return autograd::reduce_elementwise(per_element, reduction);
}

}  // namespace hg
