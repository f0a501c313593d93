#include "halfgrad/autograd/print_tape.h"

#include <iomanip>
#include <unordered_map>

#include "halfgrad/autograd/node.h"
#include "halfgrad/autograd/tape.h"

namespace hg::autograd {

namespace {

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
  std::unordered_map<const TensorImpl*, size_t> leaf_ids;  // L0, L1, ... by first appearance
  for (const auto& node : graph_nodes(root.grad_fn())) {
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
        out << "leaf L" << leaf_ids.try_emplace(edge.leaf.get(), leaf_ids.size()).first->second
            << ' ' << info_str(node->inputs[i]);
      else
        out << "(no grad)";
    }
    out << '\n';
  }
}

}  // namespace hg::autograd
