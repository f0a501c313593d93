#pragma once
// The losses as modules, as libtorch has them (torch::nn::CrossEntropyLoss and the rest): a loss
// object built once with its options and called with (input, target). Each forward is the
// functional form (autograd/nn_ops.h), which is where the numerics are documented. Thin
// wrappers, so they share this file, as the activations share theirs.
//
//   nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().label_smoothing(0.1));
//   Tensor loss = criterion(model->forward(x), y);
#include <cstdint>
#include <string>
#include <utility>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

// "mean", "sum" or "none", as PyTorch spells them.
std::string reduction_name(Reduction reduction);

// A loss: a module without parameters whose forward takes (input, target).
class Loss : public Module {
 public:
  Tensor forward(const Tensor& input, const Tensor& target) { return compute(input, target); }
  Tensor operator()(const Tensor& input, const Tensor& target) { return compute(input, target); }
  Reduction reduction() const { return reduction_; }
  std::string describe() const override;

 protected:
  Loss(std::string type_name, Reduction reduction)
      : Module(std::move(type_name)), reduction_(reduction) {}
  // describe()'s text after the reduction ("" or ", ignore_index=-100, ...").
  virtual std::string describe_more() const { return ""; }

 private:
  virtual Tensor compute(const Tensor& input, const Tensor& target) = 0;
  using Module::forward;  // Module's unary forward (an error for a loss): not for callers
  Reduction reduction_;
};

struct CrossEntropyLossOptions {
  CrossEntropyLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  CrossEntropyLossOptions& ignore_index(int64_t i) {
    ignore_index_ = i;
    return *this;
  }
  CrossEntropyLossOptions& label_smoothing(double s) {
    label_smoothing_ = s;
    return *this;
  }
  Reduction reduction_ = Reduction::Mean;
  int64_t ignore_index_ = -100;
  double label_smoothing_ = 0.0;
};

// logits [N, C], target int64 [N]: cross_entropy.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {})
      : Loss("CrossEntropyLoss", options.reduction_), options_(options) {}

 private:
  Tensor compute(const Tensor& logits, const Tensor& target) override {
    return cross_entropy(logits, target, options_.reduction_, options_.ignore_index_,
                         options_.label_smoothing_);
  }
  std::string describe_more() const override;
  CrossEntropyLossOptions options_;
};

// log-probabilities [N, C], target int64 [N]: nll_loss.
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Reduction reduction = Reduction::Mean, int64_t ignore_index = -100)
      : Loss("NLLLoss", reduction), ignore_index_(ignore_index) {}

 private:
  Tensor compute(const Tensor& log_probs, const Tensor& target) override {
    return nll_loss(log_probs, target, reduction(), ignore_index_);
  }
  std::string describe_more() const override;
  int64_t ignore_index_;
};

// input and target of one shape: mse_loss.
class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Loss("MSELoss", reduction) {}

 private:
  Tensor compute(const Tensor& input, const Tensor& target) override {
    return mse_loss(input, target, reduction());
  }
};

// input and target of one shape: l1_loss.
class L1Loss : public Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::Mean) : Loss("L1Loss", reduction) {}

 private:
  Tensor compute(const Tensor& input, const Tensor& target) override {
    return l1_loss(input, target, reduction());
  }
};

// input and target of one shape: smooth_l1_loss (quadratic below beta).
class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(Reduction reduction = Reduction::Mean, double beta = 1.0)
      : Loss("SmoothL1Loss", reduction), beta_(beta) {}

 private:
  Tensor compute(const Tensor& input, const Tensor& target) override {
    return smooth_l1_loss(input, target, reduction(), beta_);
  }
  std::string describe_more() const override;
  double beta_;
};

// input and target of one shape: huber_loss (quadratic below delta).
class HuberLoss : public Loss {
 public:
  explicit HuberLoss(Reduction reduction = Reduction::Mean, double delta = 1.0)
      : Loss("HuberLoss", reduction), delta_(delta) {}

 private:
  Tensor compute(const Tensor& input, const Tensor& target) override {
    return huber_loss(input, target, reduction(), delta_);
  }
  std::string describe_more() const override;
  double delta_;
};

// logits and float targets of one shape: binary_cross_entropy_with_logits.
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Reduction reduction = Reduction::Mean)
      : Loss("BCEWithLogitsLoss", reduction) {}

 private:
  Tensor compute(const Tensor& logits, const Tensor& target) override {
    return binary_cross_entropy_with_logits(logits, target, reduction());
  }
};

// log-probabilities and a target of one shape: kl_div (log_target: the target is log-probs too).
class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(Reduction reduction = Reduction::Mean, bool log_target = false)
      : Loss("KLDivLoss", reduction), log_target_(log_target) {}

 private:
  Tensor compute(const Tensor& input, const Tensor& target) override {
    return kl_div(input, target, reduction(), log_target_);
  }
  std::string describe_more() const override {
    return log_target_ ? ", log_target=true" : ", log_target=false";
  }
  bool log_target_;
};

}  // namespace hg::nn
