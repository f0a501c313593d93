// The backward pass: walk the graph from the root's node, newest node first, sum the gradients
// that reach each node, apply it under no-grad, and accumulate (+=) into the leaves' .grad.
#include <algorithm>
#include <unordered_map>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/anomaly.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/node.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/autograd/tape.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::autograd {

namespace {

void add_into(Tensor& slot, const Tensor& grad) { slot = slot.defined() ? slot + grad : grad; }

Tensor run_hooks(const std::vector<std::function<Tensor(const Tensor&)>>& hooks, Tensor grad) {
  for (const auto& hook : hooks) {
    if (!hook) continue;  // removed (Tensor::remove_hook)
    Tensor replaced = hook(grad);
    if (!replaced.defined()) continue;
    HG_CHECK(replaced.sizes() == grad.sizes() && replaced.dtype() == grad.dtype() &&
                 replaced.device() == grad.device(),
             "backward: a hook replaced the gradient ", describe(grad), " with ",
             describe(replaced), "; a hook must keep the shape, dtype and device");
    grad = replaced;
  }
  return grad;
}

void accumulate_into_leaf(TensorImpl& leaf, Tensor grad) {  // grad by value: may be taken
  if (!leaf.autograd.requires_grad) return;  // requires_grad_(false) since it was used
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
  } else if (slot.is_contiguous()) {
    slot.add_(grad);
  } else {
    // a .grad the user set to a view (an expand cannot be added to in place): out of place, as
    // PyTorch accumulates a gradient that breaks its layout contract
    slot = slot + grad;
  }
}

std::vector<Tensor> gather_outputs(Node& node, std::vector<Tensor>& pending) {
  pending.resize(node.outputs.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i].defined()) {
      if (node.takes_undefined_grads()) continue;  // (and no hooks: there is no gradient)
      const OutputInfo& info = node.outputs[i];
      pending[i] = zeros(info.shape, TensorOptions().dtype(info.dtype).device(info.device));
    }
    auto hooks = node.output_hooks.find(static_cast<uint32_t>(i));
    if (hooks != node.output_hooks.end()) pending[i] = run_hooks(hooks->second, pending[i]);
  }
  return pending;
}

// A leaf's gradient, summed over the edges that reach it and accumulated into .grad once, when
// the last has arrived (as PyTorch's AccumulateGrad): one rounding order however many uses, and
// its hooks see the total.
struct LeafSlot {
  std::shared_ptr<TensorImpl> leaf;
  Tensor sum;
  int64_t edges_left = 0;
};
// In the order the graph first reaches them (newest node first), so that leftover leaves are
// accumulated, and their hooks run, in an order that does not depend on memory addresses.
struct LeafSlots {
  std::vector<LeafSlot> slots;
  std::unordered_map<const TensorImpl*, size_t> index;
  LeafSlot& at(const TensorImpl* leaf) { return slots[index.at(leaf)]; }
};

// The leaves the graph reaches, and a refusal, before any .grad is touched, when a node on the
// way freed its saved tensors.
LeafSlots plan_backward(const std::vector<std::shared_ptr<Node>>& nodes) {
  LeafSlots leaves;
  for (const auto& node : nodes) {
    HG_CHECK(
        !node->released, "backward: trying to backward through the graph a second time (",
        node->name(),
        " already freed its saved tensors); pass retain_graph=true to the first backward call");
    for (const Edge& edge : node->next_edges) {
      if (!edge.leaf) continue;
      const auto [it, added] = leaves.index.try_emplace(edge.leaf.get(), leaves.slots.size());
      if (added) leaves.slots.push_back({edge.leaf, Tensor(), 0});
      ++leaves.slots[it->second].edges_left;
    }
  }
  return leaves;
}

void arrive_at_leaf(LeafSlot& slot, Tensor grad) {  // by value: the sum may take it
  if (grad.defined()) slot.sum = slot.sum.defined() ? slot.sum + grad : std::move(grad);
  if (--slot.edges_left == 0 && slot.sum.defined())
    accumulate_into_leaf(*slot.leaf, std::move(slot.sum));
}

using Pending = std::unordered_map<Node*, std::vector<Tensor>>;

// Hands a node's input gradients on: to the nodes that made its inputs, or to the leaves.
void send_gradients(const Node& node, std::vector<Tensor> grad_inputs, Pending& pending,
                    LeafSlots& leaves) {
  grad_inputs.resize(node.next_edges.size());
  for (size_t i = 0; i < node.next_edges.size(); ++i) {
    const Edge& edge = node.next_edges[i];
    if (edge.leaf) {
      arrive_at_leaf(leaves.at(edge.leaf.get()), std::move(grad_inputs[i]));
    } else if (edge.node && grad_inputs[i].defined()) {
      auto& slots = pending[edge.node.get()];
      slots.resize(edge.node->outputs.size());
      add_into(slots[edge.output_nr], grad_inputs[i]);
    }
  }
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
  HG_CHECK(grad.sizes() == root.sizes() && grad.device() == root.device(), "backward: gradient ",
           describe(grad), " does not match the root ", describe(root));
  if (grad.dtype() != root.dtype()) grad = grad.to(root.dtype());
  NoGradGuard no_grad;
  amp::AutocastGuard no_autocast(kFloat16, false);  // backward runs in the dtypes forward chose
  if (root.is_leaf()) {
    accumulate_into_leaf(*root.impl(), grad);
    return;
  }
  const std::shared_ptr<Node> root_node = root.grad_fn();
  Pending pending;
  pending[root_node.get()].resize(root_node->outputs.size());
  pending[root_node.get()][root.impl()->autograd.output_nr] = grad;

  const std::vector<std::shared_ptr<Node>> nodes = graph_nodes(root_node);
  LeafSlots leaves = plan_backward(nodes);
  for (const auto& node_ptr : nodes) {
    Node& node = *node_ptr;
    auto found = pending.find(&node);
    if (found == pending.end()) continue;
    std::vector<Tensor> grad_outputs = gather_outputs(node, found->second);
    pending.erase(found);
    std::vector<Tensor> grad_inputs = node.apply(grad_outputs);
    check_backward_outputs(node, grad_inputs);
    send_gradients(node, std::move(grad_inputs), pending, leaves);
    if (!retain_graph && node.release_saved()) node.released = true;
  }
  // leaves some of whose edges came from nodes no gradient reached
  for (LeafSlot& slot : leaves.slots)
    if (slot.sum.defined()) accumulate_into_leaf(*slot.leaf, std::move(slot.sum));
}

}  // namespace hg::autograd
