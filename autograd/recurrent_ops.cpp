// lstm_cell_pointwise and gru_cell_pointwise (autograd/recurrent_ops.h): checks, the fused
// kernels, and backward nodes that keep the activated gates the forward computed.
#include "halfgrad/autograd/recurrent_ops.h"

#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/kernels/recurrent_kernels.h"

namespace hg {

namespace {

using autograd::SavedTensor;

// input_gates and hidden_gates [N, gates H], state [N, H], all one floating dtype and device.
void check_cell(const char* op, const Tensor& input_gates, const Tensor& hidden_gates,
                const Tensor& state, int64_t gates) {
  autograd::check_floating(state, op);
  autograd::check_defined(input_gates, op);
  autograd::check_defined(hidden_gates, op);
  const bool shapes =
      state.dim() == 2 && input_gates.dim() == 2 && input_gates.sizes() == hidden_gates.sizes() &&
      input_gates.size(0) == state.size(0) && input_gates.size(1) == gates * state.size(1);
  const bool same = input_gates.dtype() == state.dtype() && hidden_gates.dtype() == state.dtype() &&
                    input_gates.device() == state.device() &&
                    hidden_gates.device() == state.device();
  HG_CHECK(shapes && same, op, ": expected input_gates and hidden_gates [N, ", gates,
           " H] and the state [N, H], one dtype and device, got ", describe(input_gates), ", ",
           describe(hidden_gates), " and ", describe(state));
}

class LstmCellBackward final : public autograd::Node {
 public:
  LstmCellBackward(const Tensor& c, const Tensor& saved) : c_(c), saved_(saved) {}
  std::string name() const override { return "LstmCellBackward"; }
  bool release_saved() override { return autograd::release_all(c_, saved_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& c = c_.unpack(*this);
    const Tensor grad_h = autograd::grad_as(grads[0], c.dtype()).contiguous();
    const Tensor grad_c_next = autograd::grad_as(grads[1], c.dtype()).contiguous();
    Tensor grad_gates = make_tensor({c.size(0), 4 * c.size(1)}, c.dtype(), c.device());
    Tensor grad_c = make_tensor(c.sizes(), c.dtype(), c.device());
    kernels::lstm_cell_backward(c.device())(kernels::view_of(grad_h), kernels::view_of(grad_c_next),
                                            kernels::view_of(c),
                                            kernels::view_of(saved_.unpack(*this)),
                                            kernels::view_of(grad_gates), kernels::view_of(grad_c));
    return {grad_gates, grad_gates, grad_c};  // both gate inputs enter the same sum
  }

 private:
  SavedTensor c_, saved_;
};

class GruCellBackward final : public autograd::Node {
 public:
  GruCellBackward(const Tensor& h, const Tensor& saved) : h_(h), saved_(saved) {}
  std::string name() const override { return "GruCellBackward"; }
  bool release_saved() override { return autograd::release_all(h_, saved_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& h = h_.unpack(*this);
    const Tensor grad_h_next = autograd::grad_as(grads[0], h.dtype()).contiguous();
    const Shape gates{h.size(0), 3 * h.size(1)};
    Tensor grad_input = make_tensor(gates, h.dtype(), h.device());
    Tensor grad_hidden = make_tensor(gates, h.dtype(), h.device());
    Tensor grad_h = make_tensor(h.sizes(), h.dtype(), h.device());
    kernels::gru_cell_backward(h.device())(
        kernels::view_of(grad_h_next), kernels::view_of(h), kernels::view_of(saved_.unpack(*this)),
        kernels::view_of(grad_input), kernels::view_of(grad_hidden), kernels::view_of(grad_h));
    return {grad_input, grad_hidden, grad_h};
  }

 private:
  SavedTensor h_, saved_;
};

}  // namespace

std::tuple<Tensor, Tensor> lstm_cell_pointwise(const Tensor& input_gates,
                                               const Tensor& hidden_gates, const Tensor& c) {
  check_cell("lstm_cell_pointwise", input_gates, hidden_gates, c, 4);
  const Tensor x = input_gates.contiguous(), h = hidden_gates.contiguous(), cc = c.contiguous();
  Tensor h_next = make_tensor(c.sizes(), c.dtype(), c.device());
  Tensor c_next = make_tensor(c.sizes(), c.dtype(), c.device());
  Tensor saved =
      make_tensor({c.size(0), 5 * c.size(1)}, kernels::cell_saved_dtype(c.dtype()), c.device());
  kernels::lstm_cell(c.device())(kernels::view_of(x), kernels::view_of(h), kernels::view_of(cc),
                                 kernels::view_of(h_next), kernels::view_of(c_next),
                                 kernels::view_of(saved));
  if (autograd::needs_grad({&input_gates, &hidden_gates, &c})) {
    auto node = std::make_shared<LstmCellBackward>(cc, saved);
    autograd::record(node, {input_gates, hidden_gates, c}, {h_next, c_next});
  }
  return {h_next, c_next};
}

Tensor gru_cell_pointwise(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h) {
  check_cell("gru_cell_pointwise", input_gates, hidden_gates, h, 3);
  const Tensor x = input_gates.contiguous(), hid = hidden_gates.contiguous(), hc = h.contiguous();
  Tensor h_next = make_tensor(h.sizes(), h.dtype(), h.device());
  Tensor saved =
      make_tensor({h.size(0), 4 * h.size(1)}, kernels::cell_saved_dtype(h.dtype()), h.device());
  kernels::gru_cell(h.device())(kernels::view_of(x), kernels::view_of(hid), kernels::view_of(hc),
                                kernels::view_of(h_next), kernels::view_of(saved));
  if (autograd::needs_grad({&input_gates, &hidden_gates, &h})) {
    auto node = std::make_shared<GruCellBackward>(hc, saved);
    autograd::record(node, {input_gates, hidden_gates, h}, {h_next});
  }
  return h_next;
}

}  // namespace hg
