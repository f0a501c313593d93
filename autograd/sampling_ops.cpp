// dropout (a mask drawn inside the kernel from the default generator's Philox stream, redrawn
// from the same (seed, offset) by the backward) and embedding (a row gather with a scatter-add
// backward).
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/core/random.h"
#include "halfgrad/kernels/fused_nn_kernels.h"
#include "halfgrad/kernels/nn_kernels.h"

namespace hg {

namespace {

class EmbeddingBackward final : public autograd::Node {
 public:
  explicit EmbeddingBackward(const Tensor& index) : index_(index) {}
  std::string name() const override { return "EmbeddingBackward"; }
  bool release_saved() override { return index_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& index = index_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(inputs[1].shape, inputs[1].dtype, g.device());
    kernels::embedding_backward(g.device())(kernels::view_of(g), kernels::view_of(index),
                                            kernels::view_of(grad));
    return {Tensor(), grad};
  }

 private:
  autograd::SavedTensor index_;
};

// grad_x = grad_out * mask, the mask regenerated from the forward's (seed, offset): nothing of
// the input's size is saved.
class DropoutBackward final : public autograd::Node {
 public:
  DropoutBackward(double p, Generator::State stream) : p_(p), stream_(stream) {}
  std::string name() const override { return "DropoutBackward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype).contiguous();
    Tensor grad = make_tensor(g.sizes(), g.dtype(), g.device());
    kernels::dropout(g.device())(kernels::view_of(g), p_, stream_.seed, stream_.offset,
                                 kernels::view_of(grad));
    return {grad};
  }

 private:
  double p_;
  Generator::State stream_;
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training) {
  autograd::check_floating(x, "dropout");
  HG_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability ", p, " is outside [0, 1] (input ",
           describe(x), ")");
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  Tensor xc;
  {
    NoGradGuard no_grad;
    xc = x.contiguous();
  }
  // The same Philox blocks a float32 rand() of x's size would take: the mask is the one
  // ge(rand(x.sizes()), p) gives, kept with probability 1 - p and scaled by 1 / (1 - p).
  const Generator::State stream =
      default_generator().reserve_state(random::blocks_uniform_f32(xc.numel()));
  Tensor out = make_tensor(xc.sizes(), xc.dtype(), xc.device());
  kernels::dropout(xc.device())(kernels::view_of(xc), p, stream.seed, stream.offset,
                                kernels::view_of(out));
  if (autograd::needs_grad({&x})) autograd::record_op<DropoutBackward>({x}, out, p, stream);
  return out;
}

Tensor embedding(const Tensor& index, const Tensor& weight) {
  autograd::check_floating(weight, "embedding");
  autograd::check_defined(index, "embedding");
  autograd::check_same_device(index, weight, "embedding");
  HG_CHECK(weight.dim() == 2, "embedding: weight must be [V, D], got ", describe(weight));
  HG_CHECK(index.dtype() == kInt64, "embedding: indices must be int64, got ", describe(index));
  // On CUDA the kernel checks the indices and reports a bad one late, without stalling the host
  // (kernels/cuda/target_check.h); on the CPU the check costs two passes and no wait.
  if (index.numel() > 0 && !index.device().is_cuda()) {
    NoGradGuard no_grad;
    const int64_t lo = min(index).item<int64_t>(), hi = max(index).item<int64_t>();
    HG_CHECK(lo >= 0 && hi < weight.size(0), "embedding: index ", lo < 0 ? lo : hi,
             " is out of range for a table of ", weight.size(0), " rows (", describe(weight), ")");
  }
  return autograd::lookup_rows(index, weight);
}

// The lookup with the padding positions replaced by the (detached) padding row: the same values,
// and no gradient reaches that row.
Tensor embedding(const Tensor& index, const Tensor& weight, int64_t padding_idx) {
  autograd::check_floating(weight, "embedding");
  HG_CHECK(weight.dim() == 2 && padding_idx >= -weight.size(0) && padding_idx < weight.size(0),
           "embedding: padding_idx ", padding_idx, " is out of range for ", describe(weight));
  const int64_t row = padding_idx < 0 ? padding_idx + weight.size(0) : padding_idx;
  const Tensor looked_up = embedding(index, weight);
  const Tensor is_padding = eq(
      index, scalar_tensor(static_cast<double>(row), TensorOptions(kInt64).device(index.device())));
  return where(is_padding.unsqueeze(-1), weight.detach().select(0, row), looked_up);
}

Tensor autograd::lookup_rows(const Tensor& index, const Tensor& weight, const std::string& call) {
  const Tensor idx = index.contiguous();
  const Tensor w = weight.contiguous();
  Shape shape = index.sizes();
  shape.push_back(weight.size(1));
  Tensor out = make_tensor(shape, w.dtype(), w.device());
  kernels::embedding(w.device())(kernels::view_of(w), kernels::view_of(idx), kernels::view_of(out),
                                 call.empty() ? nullptr : call.c_str());
  if (autograd::needs_grad({&weight}))
    autograd::record_op<EmbeddingBackward>({index, weight}, out, idx);
  return out;
}

}  // namespace hg
