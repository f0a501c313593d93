// The backward pass: walk the graph from the roots' nodes, newest node first, sum the gradients
// that reach each node, apply it under no-grad, and accumulate (+=) into the leaves' .grad; or,
// for autograd::grad, run only the nodes on the way to its inputs and return their gradients.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

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

// Whether an autograd::grad call is running on this thread (scoped to the call, like grad mode).
thread_local int grad_calls = 0;
struct GradCall {
  GradCall() { ++grad_calls; }
  ~GradCall() { --grad_calls; }
  GradCall(const GradCall&) = delete;
  GradCall& operator=(const GradCall&) = delete;
};

// autograd::grad's inputs: the gradient reaching each is kept here, and no leaf's .grad changes.
struct Capture {
  std::unordered_map<const TensorImpl*, std::vector<size_t>> leaves;  // leaf input -> indices
  std::unordered_map<const Node*, std::vector<std::pair<uint32_t, size_t>>> outputs;  // non-leaf
  std::vector<Tensor> grads;                                                          // by index
};

// A leaf's total gradient: into its .grad, or, under autograd::grad, to the capture (or nowhere,
// for a leaf that is not an input).
void finish_leaf(TensorImpl& leaf, Tensor sum, Capture* capture) {
  if (capture == nullptr) return accumulate_into_leaf(leaf, std::move(sum));
  const auto found = capture->leaves.find(&leaf);
  if (found == capture->leaves.end()) return;
  sum = run_hooks(leaf.autograd.hooks, sum);
  if (sum.dtype() != leaf.dtype) sum = sum.to(leaf.dtype);
  for (const size_t index : found->second) capture->grads[index] = sum;
}

void arrive_at_leaf(LeafSlot& slot, Tensor grad, Capture* capture) {  // by value: may be taken
  if (grad.defined()) slot.sum = slot.sum.defined() ? slot.sum + grad : std::move(grad);
  if (--slot.edges_left == 0 && slot.sum.defined())
    finish_leaf(*slot.leaf, std::move(slot.sum), capture);
}

using Pending = std::unordered_map<Node*, std::vector<Tensor>>;

// Hands a node's input gradients on: to the nodes that made its inputs, or to the leaves.
void send_gradients(const Node& node, std::vector<Tensor> grad_inputs, Pending& pending,
                    LeafSlots& leaves, Capture* capture) {
  grad_inputs.resize(node.next_edges.size());
  for (size_t i = 0; i < node.next_edges.size(); ++i) {
    const Edge& edge = node.next_edges[i];
    if (edge.leaf) {
      arrive_at_leaf(leaves.at(edge.leaf.get()), std::move(grad_inputs[i]), capture);
    } else if (edge.node && grad_inputs[i].defined()) {
      auto& slots = pending[edge.node.get()];
      slots.resize(edge.node->outputs.size());
      add_into(slots[edge.output_nr], grad_inputs[i]);
    }
  }
}

// Under autograd::grad, the nodes a gradient must pass through to reach an input: those with an
// edge to an input, or to a node that is needed or makes an input (oldest first, so each node's
// successors are decided before it).
std::unordered_set<const Node*> needed_nodes(const std::vector<std::shared_ptr<Node>>& nodes,
                                             const Capture& capture) {
  std::unordered_set<const Node*> needed;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    for (const Edge& edge : (*it)->next_edges) {
      const bool reaches = edge.leaf ? capture.leaves.count(edge.leaf.get()) > 0
                                     : edge.node && (needed.count(edge.node.get()) > 0 ||
                                                     capture.outputs.count(edge.node.get()) > 0);
      if (reaches) {
        needed.insert(it->get());
        break;
      }
    }
  }
  return needed;
}

// The gradients a node's outputs received, kept where they are autograd::grad's inputs.
void capture_outputs(const Node& node, const std::vector<Tensor>& grads, Capture* capture) {
  if (capture == nullptr) return;
  const auto found = capture->outputs.find(&node);
  if (found == capture->outputs.end()) return;
  for (const auto& [output_nr, index] : found->second) capture->grads[index] = grads[output_nr];
}

Tensor seed_gradient(const Tensor& root, const Tensor& gradient) {
  HG_CHECK(root.defined() && root.requires_grad(), "backward: tensor ", describe(root),
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
  return grad.dtype() != root.dtype() ? grad.to(root.dtype()) : grad;
}

// The engine: seeds each root with its gradient and runs every node the roots reach, newest
// first. capture: null for backward (leaves accumulate into .grad), else autograd::grad's.
void execute(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients,
             bool retain_graph, Capture* capture) {
  NoGradGuard no_grad;
  amp::AutocastGuard no_autocast(kFloat16, false);  // backward runs in the dtypes forward chose
  Pending pending;
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t r = 0; r < roots.size(); ++r) {
    const Tensor grad = seed_gradient(roots[r], gradients[r]);
    if (roots[r].is_leaf()) {
      finish_leaf(*roots[r].impl(), grad, capture);
      continue;
    }
    const std::shared_ptr<Node> node = roots[r].grad_fn();
    auto& slots = pending[node.get()];
    slots.resize(node->outputs.size());
    add_into(slots[roots[r].impl()->autograd.output_nr], grad);
    root_nodes.push_back(node);
  }
  const std::vector<std::shared_ptr<Node>> nodes = graph_nodes(root_nodes);
  LeafSlots leaves = plan_backward(nodes);
  const std::unordered_set<const Node*> needed =
      capture ? needed_nodes(nodes, *capture) : std::unordered_set<const Node*>{};
  for (const auto& node_ptr : nodes) {
    Node& node = *node_ptr;
    auto found = pending.find(&node);
    if (found == pending.end()) continue;
    const bool leads_to_input = !capture || needed.count(&node) > 0;
    if (!leads_to_input && capture->outputs.count(&node) == 0) {  // nothing to run, nothing to keep
      pending.erase(found);
      continue;
    }
    std::vector<Tensor> grad_outputs = gather_outputs(node, found->second);
    pending.erase(found);
    capture_outputs(node, grad_outputs, capture);
    if (!leads_to_input) continue;
    std::vector<Tensor> grad_inputs = node.apply(grad_outputs);
    check_backward_outputs(node, grad_inputs);
    send_gradients(node, std::move(grad_inputs), pending, leaves, capture);
    if (!retain_graph && node.release_saved()) node.released = true;
  }
  // leaves some of whose edges came from nodes no gradient reached
  for (LeafSlot& slot : leaves.slots)
    if (slot.sum.defined()) finish_leaf(*slot.leaf, std::move(slot.sum), capture);
}

}  // namespace

bool in_grad_call() { return grad_calls > 0; }

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  execute({root}, {gradient}, retain_graph, nullptr);
}

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              bool retain_graph) {
  HG_CHECK(grad_tensors.empty() || grad_tensors.size() == tensors.size(),
           "autograd::backward: ", grad_tensors.size(), " gradients for ", tensors.size(),
           " tensors (give one per tensor, or none for scalars)");
  std::vector<Tensor> grads = grad_tensors;
  grads.resize(tensors.size());
  execute(tensors, grads, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool allow_unused) {
  HG_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
           "autograd::grad: ", grad_outputs.size(), " gradients for ", outputs.size(),
           " outputs (give one per output, or none for scalars)");
  Capture capture;
  capture.grads.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    HG_CHECK(x.defined() && x.requires_grad(), "autograd::grad: input ", i, " (", describe(x),
             ") does not require grad");
    if (x.is_leaf())
      capture.leaves[x.impl()].push_back(i);
    else
      capture.outputs[x.grad_fn().get()].emplace_back(x.impl()->autograd.output_nr, i);
  }
  std::vector<Tensor> grads = grad_outputs;
  grads.resize(outputs.size());
  {
    GradCall call;
    execute(outputs, grads, retain_graph, &capture);
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    HG_CHECK(allow_unused || capture.grads[i].defined(), "autograd::grad: input ", i, " (",
             describe(inputs[i]),
             ") was not used in computing the outputs (pass allow_unused=true to get an undefined "
             "gradient for it)");
  return capture.grads;
}

}  // namespace hg::autograd
