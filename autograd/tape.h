#pragma once
// The tape: per thread, the recorded nodes in creation order (a topological order). It holds
// weak references: output tensors own their nodes, so a graph nobody can reach any more frees
// itself, and the tape forgets it.
#include <cstdint>
#include <memory>
#include <vector>

namespace hg::autograd {

class Node;

// Assigns the next sequence number and appends the node to this thread's tape.
void push_to_tape(const std::shared_ptr<Node>& node);
// The live nodes with sequence number <= last, oldest first.
std::vector<std::shared_ptr<Node>> tape_nodes_up_to(uint64_t last);
// How many live nodes this thread's tape holds (for tests and teaching).
std::size_t tape_size();

}  // namespace hg::autograd
