#pragma once
// Node: one recorded op. It knows where the gradients of its inputs go (edges), what it saved
// from the forward pass, and how to turn output gradients into input gradients (apply).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::autograd {

class Node;

// Where the gradient of one input goes: into another node's output slot, or into a leaf.
struct Edge {
  std::shared_ptr<Node> node;        // set when the input is the output of a recorded op
  uint32_t output_nr = 0;            // which output of `node`
  std::shared_ptr<TensorImpl> leaf;  // set when the input is a leaf that requires grad
  bool active() const { return node != nullptr || leaf != nullptr; }
};

// A tensor saved for backward, with the version it had: changing it in place before backward
// is an error that names the op. It keeps a detached alias (same storage, no grad_fn): a node
// that saves its own output would otherwise own itself through that output, and leak.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t)
      : tensor_(t.defined() ? make_view(t, t.sizes(), t.strides(), t.storage_offset()) : Tensor()),
        version_(t.defined() ? t.version() : 0) {}
  const Tensor& unpack(const Node& owner) const;
  // Frees the tensor; true when there was one (a later unpack is then an error).
  bool reset() {
    freed_ = freed_ || tensor_.defined();
    tensor_ = Tensor();
    return freed_;
  }
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
  bool freed_ = false;
};

// For release_saved(): resets every saved tensor, true when any was held.
template <typename... Saved>
bool release_all(Saved&... saved) {
  bool any = false;
  ((any = saved.reset() || any), ...);
  return any;
}

struct OutputInfo {
  Shape shape;
  DType dtype;
  Device device;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  virtual ~Node();  // frees the nodes only it kept alive without recursing (node.cpp)
  // One gradient per output in, one per input out (undefined where no gradient flows).
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  virtual std::string name() const = 0;
  // Drops saved tensors after a backward pass without retain_graph; true when it held any.
  virtual bool release_saved() { return false; }
  // Whether apply() takes an undefined gradient for an output no gradient reached (else the
  // engine passes zeros): a node with many independent outputs then does no work for those.
  virtual bool takes_undefined_grads() const { return false; }

  uint64_t sequence_nr = 0;
  std::vector<Edge> next_edges;     // one per input
  std::vector<OutputInfo> inputs;   // one per input: what its gradient must look like
  std::vector<OutputInfo> outputs;  // one per output
  // Hooks registered on non-leaf outputs (Tensor::register_hook), by output number.
  std::map<uint32_t, std::vector<std::function<Tensor(const Tensor&)>>> output_hooks;
  // Freed saved tensors in a backward without retain_graph: a later backward through this node
  // is an error. A node that saved nothing can be run again (as in PyTorch).
  bool released = false;
};

// The edge for gradients flowing into `t`.
Edge gradient_edge(const Tensor& t);

// True when grad mode is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Finishes recording `node` (created by the op): edges from `inputs`, outputs become its
// results, a sequence number, and a place on the tape.
void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs);

// Convenience: make a NodeT, record it with one output, return it for saving tensors.
template <typename NodeT, typename... Args>
std::shared_ptr<NodeT> record_op(const std::vector<Tensor>& inputs, const Tensor& output,
                                 Args&&... args) {
  auto node = std::make_shared<NodeT>(std::forward<Args>(args)...);
  record(node, inputs, {output});
  return node;
}

}  // namespace hg::autograd
