#include "halfgrad/autograd/node.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "halfgrad/autograd/anomaly.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/tape.h"
#include "halfgrad/core/error.h"

namespace hg {

namespace {
thread_local bool grad_enabled = true;
}
bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

namespace {
struct Tape {
  std::vector<std::weak_ptr<Node>> nodes;
  std::size_t prune_at = 1024;
};
thread_local Tape tape;
std::atomic<uint64_t> next_sequence_nr{0};  // per process: orders a graph built on two threads
}  // namespace

// Freeing a graph node by node would recurse once per node through next_edges (a loss summed
// over 100k steps overflows the stack). So a dying node moves its input nodes to a flat list;
// each one popped whose last owner is the list hands its own inputs over before it dies. An
// input reached twice (y * y, h + f(h)) sits in the list twice: the copy popped last owns it.
// The depth stays two frames whatever the graph.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& edge : next_edges)
    if (edge.node) pending.push_back(std::move(edge.node));
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() == 1)
      for (Edge& edge : node->next_edges)
        if (edge.node) pending.push_back(std::move(edge.node));
  }  // each node dies here, its inputs already taken
}

void push_to_tape(const std::shared_ptr<Node>& node) {
  node->sequence_nr = next_sequence_nr.fetch_add(1, std::memory_order_relaxed);
  if (tape.nodes.size() >= tape.prune_at) {  // forget graphs that were freed
    std::erase_if(tape.nodes, [](const std::weak_ptr<Node>& w) { return w.expired(); });
    tape.prune_at = std::max<std::size_t>(1024, 2 * tape.nodes.size());
  }
  tape.nodes.push_back(node);
}

std::vector<std::shared_ptr<Node>> graph_nodes(const std::shared_ptr<Node>& root) {
  return graph_nodes(std::vector<std::shared_ptr<Node>>{root});
}

std::vector<std::shared_ptr<Node>> graph_nodes(const std::vector<std::shared_ptr<Node>>& roots) {
  std::vector<std::shared_ptr<Node>> nodes, stack;
  std::unordered_set<const Node*> seen;
  for (const auto& root : roots)
    if (root && seen.insert(root.get()).second) stack.push_back(root);
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    for (const Edge& edge : node->next_edges)
      if (edge.node && seen.insert(edge.node.get()).second) stack.push_back(edge.node);
    nodes.push_back(std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const auto& a, const auto& b) { return a->sequence_nr > b->sequence_nr; });
  return nodes;
}

std::size_t tape_size() {
  std::size_t n = 0;
  for (const auto& weak : tape.nodes) n += weak.expired() ? 0 : 1;
  return n;
}

const Tensor& SavedTensor::unpack(const Node& owner) const {
  HG_CHECK(!freed_, "backward: trying to backward through the graph a second time (", owner.name(),
           " already freed its saved tensors); pass retain_graph=true to the first backward call");
  HG_CHECK(!tensor_.defined() || tensor_.version() == version_, owner.name(), " (#",
           owner.sequence_nr, " in print_tape)", ": a tensor saved for backward (",
           describe(tensor_),
           ") was modified in place "
           "after it was saved (version ",
           version_, " -> ", tensor_.version(), ")");
  return tensor_;
}

Edge gradient_edge(const Tensor& t) {
  Edge edge;
  if (!t.defined()) return edge;
  if (t.grad_fn()) {
    edge.node = t.grad_fn();
    edge.output_nr = t.impl()->autograd.output_nr;
  } else if (t.requires_grad()) {
    edge.leaf = t.impl_ptr();
  }
  return edge;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs) {
  // A leaf that requires grad would silently stop being one (its .grad never filled): the
  // built-in in-place ops refuse that before computing; an op defined outside must too.
  for (size_t i = 0; i < outputs.size(); ++i)
    HG_CHECK(!(outputs[i].requires_grad() && outputs[i].is_leaf()), node->name(), ": output ", i,
             " ", describe(outputs[i]),
             " is a leaf that requires grad; an op's outputs must be new tensors (or, in place, "
             "a tensor that is not such a leaf)");
  // An output with a history of its own (computed with grad mode on) would lose it: only an
  // in-place op, whose output is one of its inputs, rebases a history.
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& grad_fn = outputs[i].defined() ? outputs[i].grad_fn() : nullptr;
    const bool in_place = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& input) {
      return input.defined() && input.impl() == outputs[i].impl();
    });
    HG_CHECK(grad_fn == nullptr || in_place, node->name(), ": output ", i, " ",
             describe(outputs[i]), " already has a grad_fn (", grad_fn ? grad_fn->name() : "",
             "), whose history recording this op would drop; compute an op's outputs under "
             "NoGradGuard");
  }
  node->next_edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    node->next_edges.push_back(gradient_edge(input));
    node->inputs.push_back(input.defined()
                               ? OutputInfo{input.sizes(), input.dtype(), input.device()}
                               : OutputInfo{{}, kFloat32, kCPU});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    AutogradMeta& meta = outputs[i].impl()->autograd;
    meta.grad_fn = node;
    meta.output_nr = static_cast<uint32_t>(i);
    meta.requires_grad = true;
    node->outputs.push_back({outputs[i].sizes(), outputs[i].dtype(), outputs[i].device()});
  }
  push_to_tape(node);
  check_forward_outputs(*node, outputs);
}

}  // namespace autograd
}  // namespace hg
