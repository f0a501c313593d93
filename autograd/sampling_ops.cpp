// dropout (a seeded random mask) and embedding (a row gather with a scatter-add backward).
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "autograd/op_helpers.h"
#include "core/factories.h"
#include "kernels/nn_kernels.h"

namespace hg {

namespace {

class EmbeddingBackward final : public autograd::Node {
 public:
  explicit EmbeddingBackward(const Tensor& index) : index_(index) {}
  std::string name() const override { return "EmbeddingBackward"; }
  void release_saved() override { index_.reset(); }
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

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training) {
  autograd::check_floating(x, "dropout");
  HG_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability ", p, " is outside [0, 1]");
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  Tensor mask;
  {
    NoGradGuard no_grad;  // keep with probability 1 - p, scaled so the expectation is unchanged
    const Tensor draw = rand(x.sizes(), TensorOptions(kFloat32).device(x.device()));
    mask = ge(draw, wrap_scalar(p, draw)).to(x.dtype()) * (1.0 / (1.0 - p));
  }
  return x * mask;
}

Tensor embedding(const Tensor& index, const Tensor& weight) {
  autograd::check_floating(weight, "embedding");
  autograd::check_defined(index, "embedding");
  autograd::check_same_device(index, weight, "embedding");
  HG_CHECK(weight.dim() == 2, "embedding: weight must be [V, D], got ", describe(weight));
  HG_CHECK(index.dtype() == kInt64, "embedding: indices must be int64, got ", describe(index));
  const Tensor idx = index.contiguous();
  if (idx.numel() > 0) {
    NoGradGuard no_grad;
    const int64_t lo = min(idx).item<int64_t>(), hi = max(idx).item<int64_t>();
    HG_CHECK(lo >= 0 && hi < weight.size(0), "embedding: index ", lo < 0 ? lo : hi,
             " is out of range for a table of ", weight.size(0), " rows (", describe(weight), ")");
  }
  const Tensor w = weight.contiguous();
  Shape shape = index.sizes();
  shape.push_back(weight.size(1));
  Tensor out = make_tensor(shape, w.dtype(), w.device());
  kernels::embedding(w.device())(kernels::view_of(w), kernels::view_of(idx), kernels::view_of(out));
  if (autograd::needs_grad({&weight}))
    autograd::record_op<EmbeddingBackward>({index, weight}, out, idx);
  return out;
}

}  // namespace hg
