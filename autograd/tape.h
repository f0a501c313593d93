#pragma once
// The tape: per thread, the recorded nodes in creation order. It holds weak references: output
// tensors own their nodes, so a graph nobody can reach any more frees itself, and the tape
// forgets it. Sequence numbers are per process, so they order nodes from any thread.
#include <cstdint>
#include <memory>
#include <vector>

namespace hg::autograd {

class Node;

// Assigns the next sequence number and appends the node to this thread's tape.
void push_to_tape(const std::shared_ptr<Node>& node);
// The nodes a gradient flowing from `root` can reach, newest first: every edge points to an
// older node, so this is the order backward runs them in (whichever thread recorded them).
std::vector<std::shared_ptr<Node>> graph_nodes(const std::shared_ptr<Node>& root);
// The same from several roots (null ones skipped): the union, newest first.
std::vector<std::shared_ptr<Node>> graph_nodes(const std::vector<std::shared_ptr<Node>>& roots);
// How many live nodes this thread's tape holds (for tests and teaching).
std::size_t tape_size();

}  // namespace hg::autograd
