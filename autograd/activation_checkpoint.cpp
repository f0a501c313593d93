// Activation checkpointing (autograd/activation_checkpoint.h): a node that keeps the function and
// its inputs, and in its backward reruns the function with recording on and back-propagates
// through the rerun (a backward inside the backward: the engine keeps no state between calls).
#include "halfgrad/autograd/activation_checkpoint.h"

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/engine.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/node.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/core/random.h"

namespace hg::autograd {

namespace {

// What the rerun must see as the first run did.
struct RunContext {
  bool autocast = false;
  DType autocast_dtype = kFloat16;
  bool restore_rng = false;
  Generator::State rng;
};

class CheckpointBackward final : public Node {
 public:
  CheckpointBackward(CheckpointFunction function, const std::vector<Tensor>& inputs,
                     RunContext context)
      : function_(std::move(function)), context_(context) {
    for (const Tensor& x : inputs) {
      inputs_.emplace_back(x);
      input_needs_grad_.push_back(x.requires_grad());
    }
  }
  std::string name() const override { return "CheckpointBackward"; }
  bool takes_undefined_grads() const override { return true; }
  bool release_saved() override {
    bool any = false;
    for (SavedTensor& saved : inputs_) any = saved.reset() || any;
    return any;
  }

  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    HG_CHECK(!in_grad_call(),
             "checkpoint: autograd::grad cannot pass through a checkpointed function (its rerun's "
             "backward accumulates the parameters' .grad, which grad promises to leave alone); "
             "call backward instead");
    std::vector<Tensor> detached;  // the rerun's leaves, to collect the inputs' gradients
    for (size_t i = 0; i < inputs_.size(); ++i)
      detached.push_back(inputs_[i].unpack(*this).detach().requires_grad_(input_needs_grad_[i]));
    std::vector<Tensor> outputs;  // the floating ones, as the first run recorded them
    for (const Tensor& out : rerun(detached))
      if (out.is_floating_point()) outputs.push_back(out);
    HG_CHECK(outputs.size() == grads.size(), "checkpoint: the rerun returned ", outputs.size(),
             " floating-point outputs where the first run returned ", grads.size(),
             " (the function must do the same each time)");
    std::vector<Tensor> roots, root_grads;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!grads[i].defined() || !outputs[i].requires_grad()) continue;
      roots.push_back(outputs[i]);
      root_grads.push_back(grads[i]);
    }
    if (!roots.empty()) backward(roots, root_grads);
    std::vector<Tensor> input_grads;
    for (const Tensor& x : detached) input_grads.push_back(x.grad());
    return input_grads;
  }

 private:
  // The function again, recording, under the first run's autocast state and random numbers.
  std::vector<Tensor> rerun(const std::vector<Tensor>& inputs) {
    EnableGradGuard grad_mode;
    amp::AutocastGuard autocast(context_.autocast_dtype, context_.autocast);
    if (!context_.restore_rng) return function_(inputs);
    Generator& generator = default_generator();
    const Generator::State now = generator.state();
    generator.set_state(context_.rng);
    std::vector<Tensor> outputs;
    try {
      outputs = function_(inputs);
    } catch (...) {
      generator.set_state(now);
      throw;
    }
    generator.set_state(now);
    return outputs;
  }

  CheckpointFunction function_;
  std::vector<SavedTensor> inputs_;
  std::vector<bool> input_needs_grad_;
  RunContext context_;
};

}  // namespace

std::vector<Tensor> checkpoint(const CheckpointFunction& function,
                               const std::vector<Tensor>& inputs, bool preserve_rng_state) {
  HG_CHECK(function != nullptr, "checkpoint: got an empty function");
  for (size_t i = 0; i < inputs.size(); ++i)
    HG_CHECK(inputs[i].defined(), "checkpoint: input ", i, " is undefined");
  const bool recording = is_grad_enabled();
  RunContext context{amp::is_autocast_enabled(), amp::autocast_dtype(), preserve_rng_state, {}};
  if (preserve_rng_state) context.rng = default_generator().state();
  std::vector<Tensor> outputs;
  {
    NoGradGuard no_grad;  // keep nothing: the backward reruns the function
    outputs = function(inputs);
  }
  if (!recording) return outputs;
  // Every floating output gets the node (under grad mode the outputs require grad, whether or
  // not an input does: the parameters inside are not known until the rerun).
  std::vector<Tensor> recorded;
  for (Tensor& out : outputs) {
    HG_CHECK(out.defined(), "checkpoint: the function returned an undefined tensor");
    if (!out.is_floating_point()) continue;
    out = out.detach();  // a fresh tensor even where the function returned an input as it is
    recorded.push_back(out);
  }
  HG_CHECK(!recorded.empty(),
           "checkpoint: the function returned no floating-point tensor to differentiate");
  record(std::make_shared<CheckpointBackward>(function, inputs, context), inputs, recorded);
  return outputs;
}

Tensor checkpoint(const std::function<Tensor(const Tensor&)>& function, const Tensor& input,
                  bool preserve_rng_state) {
  HG_CHECK(function != nullptr, "checkpoint: got an empty function");
  return checkpoint(
      [function](const std::vector<Tensor>& in) { return std::vector<Tensor>{function(in[0])}; },
      {input}, preserve_rng_state)[0];
}

}  // namespace hg::autograd
