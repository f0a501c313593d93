// Losses: nll_loss (gather kernel), cross_entropy (the fused softmax + cross-entropy kernels of
// kernels/fused_nn_kernels.h, label smoothing included). The regression losses are in
// autograd/regression_loss_ops.cpp.
#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/fused_nn_kernels.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg {

namespace {

class NllLossBackward final : public autograd::Node {
 public:
  NllLossBackward(const Tensor& target, int64_t ignore_index)
      : target_(target), ignore_index_(ignore_index) {}
  std::string name() const override { return "NllLossBackward"; }
  bool release_saved() override { return target_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(inputs[0].shape, inputs[0].dtype, g.device());
    kernels::nll_loss_backward(g.device())(kernels::view_of(g),
                                           kernels::view_of(target_.unpack(*this)), ignore_index_,
                                           kernels::view_of(grad));
    return {grad, Tensor()};
  }

 private:
  autograd::SavedTensor target_;
  int64_t ignore_index_;
};

// grad_logits = grad_loss * (softmax - (1 - ls) onehot - ls / C) from the saved log-sum-exp.
// With a count, the node's output is the mean over the counted targets and its gradient
// reaches every row as mean_over_targets' backward would hand it on: both passes, one kernel.
class CrossEntropyBackward final : public autograd::Node {
 public:
  CrossEntropyBackward(const Tensor& logits, const Tensor& target, const Tensor& lse,
                       const Tensor& count, int64_t ignore_index, double label_smoothing)
      : logits_(logits),
        target_(target),
        lse_(lse),
        count_(count),
        of_mean_(count.defined()),
        ignore_index_(ignore_index),
        label_smoothing_(label_smoothing) {}
  std::string name() const override {
    return of_mean_ ? "CrossEntropyMeanBackward" : "CrossEntropyBackward";
  }
  bool release_saved() override { return release_all(logits_, target_, lse_, count_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& logits = logits_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(logits.sizes(), logits.dtype(), logits.device());
    const kernels::TensorView count =
        of_mean_ ? kernels::view_of(count_.unpack(*this)) : kernels::TensorView{};
    kernels::cross_entropy_backward(logits.device())(
        kernels::view_of(logits), kernels::view_of(target_.unpack(*this)),
        kernels::view_of(lse_.unpack(*this)), kernels::view_of(g), count, ignore_index_,
        label_smoothing_, kernels::view_of(grad));
    return {grad, Tensor()};
  }

 private:
  autograd::SavedTensor logits_, target_, lse_, count_;
  bool of_mean_;
  int64_t ignore_index_;
  double label_smoothing_;
};

void check_targets(const Tensor& input, const Tensor& target, const char* op) {
  autograd::check_defined(target, op);
  autograd::check_same_device(input, target, op);
  HG_CHECK(input.dim() == 2, op, ": expected input [N, C], got ", describe(input));
  HG_CHECK(target.dtype() == kInt64 && target.dim() == 1 && target.size(0) == input.size(0), op,
           ": expected int64 targets [", input.size(0), "] for input ", describe(input), ", got ",
           describe(target));
}

void check_bad_target(int64_t bad, const Tensor& t, const Tensor& input, const char* op) {
  HG_CHECK(bad < 0, op, ": target ", (bad < 0 ? 0 : t.to_vector<int64_t>()[bad]), " at index ", bad,
           " is out of range for ", input.size(1), " classes (input ", describe(input), ")");
}

// The mean over the targets that are not ignore_index (kernels/fused_nn_kernels.h): the sum in
// double rounded to float (double for fp64) divided by the count, as
// sum(per_sample.to(float)) / count.to(float) would give it. The count stays on the device, so a
// CUDA loss never waits for it (and an fp16 sum cannot overflow). Untaped.
struct CountedMean {
  Tensor mean, count;
};
// Uninitialised outputs for the mean of per-sample values of `dtype` on `device`.
CountedMean counted_mean_outputs(DType dtype, Device device) {
  return {make_tensor({}, dtype, device),
          make_tensor({1}, dtype == kFloat64 ? kFloat64 : kFloat32, device)};
}
// In one kernel of its own (nll_loss's mean); cross_entropy's comes out of its loss kernel.
CountedMean counted_mean(const Tensor& per_sample, const Tensor& target, int64_t ignore_index) {
  const Tensor values = per_sample.contiguous(), t = target.contiguous();
  CountedMean m = counted_mean_outputs(values.dtype(), values.device());
  kernels::mean_over_targets(values.device())(kernels::view_of(values), kernels::view_of(t),
                                              ignore_index, kernels::view_of(m.mean),
                                              kernels::view_of(m.count));
  return m;
}

// The fused kernel's per-sample losses [N] (0 at ignored targets; loss_dtype: the logits' own,
// or float32 for 16-bit logits under autocast) and each row's log-sum-exp, with the contiguous
// logits and targets they were computed from; with `mean`, the same launch writes their mean
// over the counted targets there. Untaped.
struct CrossEntropyRows {
  Tensor loss, lse, x, t;
};
CrossEntropyRows cross_entropy_rows(const Tensor& logits, const Tensor& target,
                                    int64_t ignore_index, double label_smoothing, DType loss_dtype,
                                    const CountedMean* mean = nullptr) {
  const char* op = "cross_entropy";
  check_targets(logits, target, op);
  CrossEntropyRows rows;
  {
    NoGradGuard no_grad;
    rows.x = logits.contiguous();
    rows.t = target.contiguous();
  }
  const Tensor& x = rows.x;
  rows.loss = make_tensor({x.size(0)}, loss_dtype, x.device());
  // each row's (max, log_sum), for the backward
  rows.lse = make_tensor({x.size(0), 2}, x.dtype() == kFloat64 ? kFloat64 : kFloat32, x.device());
  int64_t bad = -1;
  kernels::cross_entropy(x.device())(
      kernels::view_of(x), kernels::view_of(rows.t), ignore_index, label_smoothing,
      kernels::view_of(rows.loss), kernels::view_of(rows.lse),
      mean ? kernels::view_of(mean->mean) : kernels::TensorView{},
      mean ? kernels::view_of(mean->count) : kernels::TensorView{}, &bad);
  check_bad_target(bad, rows.t, logits, op);
  return rows;
}

// Per-sample cross-entropy [N] (0 at ignored targets) in one fused kernel.
Tensor cross_entropy_per_sample(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                double label_smoothing, DType loss_dtype) {
  const CrossEntropyRows rows =
      cross_entropy_rows(logits, target, ignore_index, label_smoothing, loss_dtype);
  if (autograd::needs_grad({&logits}))
    autograd::record_op<CrossEntropyBackward>({logits, target}, rows.loss, rows.x, rows.t, rows.lse,
                                              Tensor(), ignore_index, label_smoothing);
  return rows.loss;
}

// Per-sample negative log-likelihood [N] (0 at ignored targets).
Tensor nll_per_sample(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                      const char* op) {
  autograd::check_floating(log_probs, op);
  check_targets(log_probs, target, op);
  const Tensor lp = log_probs.contiguous(), t = target.contiguous();
  Tensor loss = make_tensor({lp.size(0)}, lp.dtype(), lp.device());
  int64_t bad = -1;
  kernels::nll_loss(lp.device())(kernels::view_of(lp), kernels::view_of(t), ignore_index,
                                 kernels::view_of(loss), &bad);
  check_bad_target(bad, t, log_probs, op);
  if (autograd::needs_grad({&log_probs}))
    autograd::record_op<NllLossBackward>({log_probs, target}, loss, t, ignore_index);
  return loss;
}

// The gradient of the mean over the counted targets, the same share for every row.
class MeanOverTargetsBackward final : public autograd::Node {
 public:
  explicit MeanOverTargetsBackward(const Tensor& count) : count_(count) {}
  std::string name() const override { return "MeanOverTargetsBackward"; }
  bool release_saved() override { return count_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(inputs[0].shape, inputs[0].dtype, g.device());
    kernels::mean_over_targets_backward(g.device())(
        kernels::view_of(g), kernels::view_of(count_.unpack(*this)), kernels::view_of(grad));
    return {grad, Tensor()};
  }

 private:
  autograd::SavedTensor count_;
};

Tensor mean_over_counted(const Tensor& per_sample, const Tensor& target, int64_t ignore_index) {
  const CountedMean m = counted_mean(per_sample, target, ignore_index);
  if (autograd::needs_grad({&per_sample}))
    autograd::record_op<MeanOverTargetsBackward>({per_sample, target}, m.mean, m.count);
  return m.mean;
}

// cross_entropy's default reduction as one taped op: the same bits each way as
// mean_over_counted(cross_entropy_per_sample(...)), with one kernel instead of two forward
// (the loss kernel takes the mean) and one instead of two backward.
Tensor cross_entropy_mean(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                          double label_smoothing, DType loss_dtype) {
  const CountedMean m = counted_mean_outputs(loss_dtype, logits.device());
  const CrossEntropyRows rows =
      cross_entropy_rows(logits, target, ignore_index, label_smoothing, loss_dtype, &m);
  if (autograd::needs_grad({&logits}))
    autograd::record_op<CrossEntropyBackward>({logits, target}, m.mean, rows.x, rows.t, rows.lse,
                                              m.count, ignore_index, label_smoothing);
  return m.mean;
}

// As reduce_elementwise, but the mean is over the targets that are not ignore_index.
Tensor reduce_loss(const Tensor& per_sample, Reduction reduction, const Tensor& target,
                   int64_t ignore_index) {
  if (reduction == Reduction::Mean) return mean_over_counted(per_sample, target, ignore_index);
  return autograd::reduce_elementwise(per_sample, reduction);
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                int64_t ignore_index) {
  const Tensor lp = amp::autocast(amp::OpId::NllLoss, log_probs);
  const Tensor per_sample = nll_per_sample(lp, target, ignore_index, "nll_loss");
  return reduce_loss(per_sample, reduction, target, ignore_index);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction,
                     int64_t ignore_index, double label_smoothing) {
  autograd::check_floating(logits, "cross_entropy");
  HG_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing ",
           label_smoothing, " is outside [0, 1] (logits ", describe(logits), ")");
  // autocast's float32 policy: 16-bit logits are widened inside the kernels, not cast first
  const DType loss_dtype = amp::autocast_widened_dtype(amp::OpId::CrossEntropy, logits);
  if (reduction == Reduction::Mean)
    return cross_entropy_mean(logits, target, ignore_index, label_smoothing, loss_dtype);
  const Tensor per_sample =
      cross_entropy_per_sample(logits, target, ignore_index, label_smoothing, loss_dtype);
  return reduce_loss(per_sample, reduction, target, ignore_index);
}

}  // namespace hg
