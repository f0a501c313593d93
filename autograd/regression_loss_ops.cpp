// Losses between a prediction and a target of one shape, composed of elementwise ops (so they
// run on every backend, and their backward is their parts'). Each is fp32 under a 16-bit
// autocast (PyTorch's list).
#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

// The two operands after autocast, checked: floating, one shape.
std::vector<Tensor> prepared(amp::OpId op, const char* name, const Tensor& input,
                             const Tensor& target) {
  auto in = amp::autocast(op, {input, target});
  autograd::check_floating(in[0], name);
  autograd::check_floating(in[1], name);
  HG_CHECK(in[0].sizes() == in[1].sizes(), name, ": input ", describe(in[0]), " and target ",
           describe(in[1]), " differ in shape");
  return in;
}

// The quadratic-inside, linear-outside loss of smooth_l1 (z^2 / 2 / beta inside, z - beta / 2
// outside, z = |x - t|) and huber (z^2 / 2 inside, (z - delta / 2) * delta outside) before the
// reduction. 16-bit inputs are computed in float and the loss rounded once (PyTorch 1.13's bf16
// kernel to the bit; its fp16 kernel rounds some steps to fp16, differently in its vectorised
// and scalar paths). where's backward sends the gradient through the branch taken.
Tensor piecewise_quadratic(const Tensor& input, const Tensor& target, double threshold,
                           bool divide_inside, bool scale_outside) {
  const bool widen = is_low_precision(input.dtype());
  const Tensor x = widen ? input.to(kFloat32) : input;
  const Tensor t = widen ? target.to(kFloat32) : target;
  const Tensor z = abs(x - t);
  Tensor inside = z * 0.5 * z;
  if (divide_inside) inside = inside / threshold;
  Tensor outside = z - 0.5 * threshold;
  if (scale_outside) outside = outside * threshold;
  const Tensor loss = where(lt(z, wrap_scalar(threshold, z)), inside, outside);
  return widen ? loss.to(input.dtype()) : loss;
}

}  // namespace

Tensor mse_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction) {
  const auto in = prepared(amp::OpId::MseLoss, "mse_loss", input_in, target_in);
  return autograd::reduce_elementwise(square(in[0] - in[1]), reduction);
}

Tensor l1_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction) {
  const auto in = prepared(amp::OpId::L1Loss, "l1_loss", input_in, target_in);
  return autograd::reduce_elementwise(abs(in[0] - in[1]), reduction);
}

// beta 0 is l1_loss (no quadratic part left).
Tensor smooth_l1_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction,
                      double beta) {
  HG_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta, " for input ",
           describe(input_in));
  if (beta == 0) return l1_loss(input_in, target_in, reduction);
  const auto in = prepared(amp::OpId::SmoothL1Loss, "smooth_l1_loss", input_in, target_in);
  return autograd::reduce_elementwise(piecewise_quadratic(in[0], in[1], beta, true, false),
                                      reduction);
}

Tensor huber_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction,
                  double delta) {
  HG_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta, " for input ",
           describe(input_in));
  const auto in = prepared(amp::OpId::HuberLoss, "huber_loss", input_in, target_in);
  return autograd::reduce_elementwise(piecewise_quadratic(in[0], in[1], delta, false, true),
                                      reduction);
}

// kl_div: target (log t, or t itself with log_target) against log-probabilities x. The t log t
// term is 0 where t = 0 (torch's xlogy) through a where-guarded log, so its gradient there is
// finite (torch's is NaN); a negative t gives NaN as in torch.
Tensor kl_div(const Tensor& input_in, const Tensor& target_in, Reduction reduction,
              bool log_target) {
  const auto in = prepared(amp::OpId::KlDiv, "kl_div", input_in, target_in);
  const DType dtype = promote_types(in[0].dtype(), in[1].dtype());
  const bool widen = is_low_precision(dtype);  // computed in float, rounded once
  const Tensor x = widen ? in[0].to(kFloat32) : in[0];
  const Tensor t = widen ? in[1].to(kFloat32) : in[1];
  Tensor loss;
  if (log_target) {
    loss = exp(t) * (t - x);
  } else {
    const Tensor zero = eq(t, wrap_scalar(0.0, t));
    const Tensor t_log_t = where(zero, zeros_like(t), t * log(where(zero, ones_like(t), t)));
    loss = t_log_t - t * x;
  }
  return autograd::reduce_elementwise(widen ? loss.to(dtype) : loss, reduction);
}

}  // namespace hg
