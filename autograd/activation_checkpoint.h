#pragma once
// Activation checkpointing, as torch.utils.checkpoint.checkpoint (its reentrant form): the
// function runs without recording, so none of its intermediate tensors is kept; its backward
// runs the function again, with recording on, and back-propagates through that copy. Memory for
// a segment's activations is then needed only while its own backward runs, at the price of a
// second forward pass. Parameters the function uses (a module's weights) get their gradients
// from that inner backward; the inputs' gradients flow on to the rest of the graph.
//
// The rerun sees what the first run saw: the same grad-mode-on recording, the autocast state
// that was active at the call, and (preserve_rng_state) the same random numbers, so dropout
// masks match. The function must be deterministic otherwise, and must not change its inputs.
// State it changes as a side effect changes twice: a BatchNorm in training mode updates its
// running statistics in both runs, as in torch (nn::checkpoint_sequential puts them back).
// Under grad mode every floating output requires grad (the parameters inside are not known
// before the rerun); the function must return at least one. autograd::grad cannot pass through
// a checkpoint (an error, as torch's reentrant checkpoint): its rerun accumulates into .grad.
#include <functional>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::autograd {

using CheckpointFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

std::vector<Tensor> checkpoint(const CheckpointFunction& function,
                               const std::vector<Tensor>& inputs, bool preserve_rng_state = true);
// One tensor in, one out.
Tensor checkpoint(const std::function<Tensor(const Tensor&)>& function, const Tensor& input,
                  bool preserve_rng_state = true);

}  // namespace hg::autograd
