#include "autograd/print_tape.h"

#include <algorithm>
#include <iomanip>
#include <unordered_set>

#include "autograd/node.h"

namespace hg::autograd {

namespace {

std::vector<std::shared_ptr<Node>> reachable_nodes(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> nodes, stack{root};
  std::unordered_set<Node*> seen{root.get()};
  while (!stack.empty()) {
    auto node = stack.back();
    stack.pop_back();
    nodes.push_back(node);
    for (const Edge& edge : node->next_edges)
      if (edge.node && seen.insert(edge.node.get()).second) stack.push_back(edge.node);
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const auto& a, const auto& b) { return a->sequence_nr > b->sequence_nr; });
  return nodes;
}

std::string info_str(const OutputInfo& info) {
  return shape_str(info.shape) + " " + std::string(dtype_name(info.dtype));
}

}  // namespace

void print_tape(const Tensor& root, std::ostream& out) {
  if (!root.defined() || !root.grad_fn()) {
    out << "(empty tape: " << (root.defined() ? describe(root) : "undefined tensor")
        << " was not produced by a recorded op)\n";
    return;
  }
  for (const auto& node : reachable_nodes(root.grad_fn())) {
    // ids are per-process sequence numbers, so they grow long in a long run: always a space
    // after the id and after the name, even when the columns overflow
    out << '#' << std::left << std::setw(5) << node->sequence_nr << ' ' << std::setw(20)
        << node->name() << ' ';
    for (size_t i = 0; i < node->outputs.size(); ++i)
      out << (i ? ", " : "-> ") << info_str(node->outputs[i]);
    out << "  <-";
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& edge = node->next_edges[i];
      out << (i ? ", " : " ");
      if (edge.node)
        out << '#' << edge.node->sequence_nr << ' ' << edge.node->name();
      else if (edge.leaf)
        out << "leaf " << info_str(node->inputs[i]);
      else
        out << "(no grad)";
    }
    out << '\n';
  }
}

}  // namespace hg::autograd
