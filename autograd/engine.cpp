// The backward pass: replay the tape in reverse from the root's node, sum the gradients that
// reach each node, apply it under no-grad, and accumulate (+=) into the leaves' .grad.
#include <algorithm>
#include <unordered_map>

#include "amp/autocast.h"
#include "autograd/anomaly.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "core/error.h"
#include "core/factories.h"

namespace hg::autograd {

namespace {

void add_into(Tensor& slot, const Tensor& grad) { slot = slot.defined() ? slot + grad : grad; }

Tensor run_hooks(const std::vector<std::function<Tensor(const Tensor&)>>& hooks, Tensor grad) {
  for (const auto& hook : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) grad = replaced;
  }
  return grad;
}

void accumulate_into_leaf(TensorImpl& leaf, Tensor grad) {  // grad by value: may be taken
  grad = run_hooks(leaf.autograd.hooks, grad);
  if (grad.dtype() != leaf.dtype) grad = grad.to(leaf.dtype);
  Tensor& slot = leaf.autograd.grad;
  if (!slot.defined()) {
    // Take the gradient when nothing else can see it (as PyTorch steals it); else copy, so the
    // leaf's .grad never aliases a tensor that later ops might change.
    const bool sole_owner = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1;
    slot = sole_owner && grad.is_contiguous() ? grad
           : grad.contiguous().is_same(grad)  ? grad.clone()
                                              : grad.contiguous();
  } else {
    slot.add_(grad);
  }
}

std::vector<Tensor> gather_outputs(Node& node, std::vector<Tensor>& pending) {
  pending.resize(node.outputs.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i].defined()) {
      const OutputInfo& info = node.outputs[i];
      pending[i] = zeros(info.shape, TensorOptions().dtype(info.dtype).device(info.device));
    }
    auto hooks = node.output_hooks.find(static_cast<uint32_t>(i));
    if (hooks != node.output_hooks.end()) pending[i] = run_hooks(hooks->second, pending[i]);
  }
  return pending;
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  HG_CHECK(root.requires_grad(), "backward: tensor ", describe(root),
           " does not require grad and has no grad_fn");
  Tensor grad = gradient;
  if (!grad.defined()) {
    HG_CHECK(root.numel() == 1,
             "backward: grad can be implicitly created only for scalar "
             "outputs; root is ",
             describe(root), " (pass a gradient of that shape)");
    grad = ones_like(root);
  }
  HG_CHECK(grad.sizes() == root.sizes(), "backward: gradient ", describe(grad),
           " does not match the root ", describe(root));
  if (grad.dtype() != root.dtype()) grad = grad.to(root.dtype());
  NoGradGuard no_grad;
  amp::AutocastGuard no_autocast(kFloat16, false);  // backward runs in the dtypes forward chose
  if (root.is_leaf()) {
    accumulate_into_leaf(*root.impl(), grad);
    return;
  }
  const std::shared_ptr<Node> root_node = root.grad_fn();
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  pending[root_node.get()].resize(root_node->outputs.size());
  pending[root_node.get()][root.impl()->autograd.output_nr] = grad;

  const std::vector<std::shared_ptr<Node>> nodes = tape_nodes_up_to(root_node->sequence_nr);
  HG_CHECK(!nodes.empty() && nodes.back() == root_node, "backward: the graph of ", describe(root),
           " was recorded on another thread's tape");
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node& node = **it;
    auto found = pending.find(&node);
    if (found == pending.end()) continue;
    HG_CHECK(!node.released,
             "backward: trying to backward through the graph a second time "
             "(",
             node.name(),
             " already freed its saved tensors); pass retain_graph=true to "
             "the first backward call");
    std::vector<Tensor> grad_outputs = gather_outputs(node, found->second);
    pending.erase(found);
    std::vector<Tensor> grad_inputs = node.apply(grad_outputs);
    check_backward_outputs(node, grad_inputs);
    for (size_t i = 0; i < node.next_edges.size() && i < grad_inputs.size(); ++i) {
      const Edge& edge = node.next_edges[i];
      if (!edge.active() || !grad_inputs[i].defined()) continue;
      if (edge.leaf) {
        accumulate_into_leaf(*edge.leaf, std::move(grad_inputs[i]));
      } else {
        auto& slots = pending[edge.node.get()];
        slots.resize(edge.node->outputs.size());
        add_into(slots[edge.output_nr], grad_inputs[i]);
      }
    }
    if (!retain_graph) {
      node.release_saved();
      node.released = true;
    }
  }
}

}  // namespace hg::autograd
