// matmul (torch.matmul semantics), bmm and linear, on the gemm kernel family.
#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"

namespace hg {

namespace {

// a_name, b_name: what the messages call the operands ("a"/"b", or linear's "input"/"weight").
void check_gemm_operands(const Tensor& a, const Tensor& b, const char* op, const char* a_name = "a",
                         const char* b_name = "b") {
  autograd::check_defined(a, op);
  autograd::check_defined(b, op);
  autograd::check_same_device(a, b, op);
  HG_CHECK(a.is_floating_point() && b.is_floating_point(), op, ": expected floating-point ",
           "tensors, got ", a_name, " ", describe(a), ", ", b_name, " ", describe(b));
  HG_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a_name, " ", describe(a), ", ", b_name,
           " ", describe(b), " (cast one, or use autocast)");
}

// a [*a, M, K] @ b [*b, K, N] -> [broadcast(*a, *b), M, N], no autograd.
Tensor gemm_forward(const Tensor& a, const Tensor& b, const char* op) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  HG_CHECK(b.size(-2) == k, op, ": inner dimensions differ: a ", describe(a), ", b ", describe(b));
  const Shape batch_a(a.sizes().begin(), a.sizes().end() - 2);
  const Shape batch_b(b.sizes().begin(), b.sizes().end() - 2);
  Shape shape = broadcast_shapes(batch_a, batch_b, op);
  Shape shape_a = shape, shape_b = shape;
  shape_a.insert(shape_a.end(), {m, k});
  shape_b.insert(shape_b.end(), {k, n});
  shape.insert(shape.end(), {m, n});
  Tensor out = make_tensor(shape, a.dtype(), a.device());
  kernels::gemm(a.device())(kernels::view_of(a, shape_a), kernels::view_of(b, shape_b),
                            kernels::view_of(out), false);
  return out;
}

class MatmulBackward final : public autograd::Node {
 public:
  // a is needed only for b's gradient and b only for a's (as PyTorch saves them)
  MatmulBackward(const Tensor& a, const Tensor& b)
      : a_(b.requires_grad() ? a : Tensor()), b_(a.requires_grad() ? b : Tensor()) {}
  std::string name() const override { return "MatmulBackward"; }
  bool release_saved() override { return release_all(a_, b_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& a = a_.unpack(*this);
    const Tensor& b = b_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    Tensor ga, gb;
    if (next_edges[0].active())
      ga = sum_to(gemm_forward(g, b.transpose(-1, -2), "matmul"), inputs[0].shape);
    if (next_edges[1].active())
      gb = sum_to(gemm_forward(a.transpose(-1, -2), g, "matmul"), inputs[1].shape);
    return {ga, gb};
  }

 private:
  autograd::SavedTensor a_, b_;
};

Tensor matmul_2d_plus(const Tensor& a, const Tensor& b, const char* op) {
  Tensor out = gemm_forward(a, b, op);
  if (autograd::needs_grad({&a, &b})) autograd::record_op<MatmulBackward>({a, b}, out, a, b);
  return out;
}

class LinearBackward final : public autograd::Node {
 public:
  // x is needed only for the weight's gradient and the weight only for x's
  LinearBackward(const Tensor& x2d, const Tensor& weight, bool x_needs_grad, bool w_needs_grad)
      : x_(w_needs_grad ? x2d : Tensor()),
        w_(x_needs_grad ? weight : Tensor()),
        rows_(x2d.size(0)) {}
  std::string name() const override { return "LinearBackward"; }
  bool release_saved() override { return release_all(x_, w_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& x = x_.unpack(*this);
    const Tensor& w = w_.unpack(*this);
    const Tensor g =
        autograd::grad_as(grads[0], outputs[0].dtype).reshape({rows_, inputs[1].shape[0]});
    Tensor gx, gw, gb;
    const bool want_w = next_edges[1].active();
    const bool want_b = next_edges.size() > 2 && next_edges[2].active();
    if (next_edges[0].active()) gx = gemm_forward(g, w, "linear").reshape(inputs[0].shape);
    if (want_w && want_b && !amp::is_autocast_enabled()) {
      // both in one call (one kernel on CUDA): the bits of the two lines below, which under
      // autocast would take sum's fp32 policy
      gw = make_tensor({g.size(1), x.size(1)}, g.dtype(), g.device());
      gb = make_tensor({g.size(1)}, g.dtype(), g.device());
      kernels::gemm_bias_grad(g.device())(kernels::view_of(g.t()), kernels::view_of(x),
                                          kernels::view_of(gw), kernels::view_of(gb));
    } else {
      if (want_w) gw = gemm_forward(g.t(), x, "linear");
      if (want_b) gb = sum(g, {0});
    }
    return next_edges.size() > 2 ? std::vector<Tensor>{gx, gw, gb} : std::vector<Tensor>{gx, gw};
  }

 private:
  autograd::SavedTensor x_, w_;
  int64_t rows_;  // of the input seen as 2-D
};

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const auto in = amp::autocast(amp::OpId::Matmul, {a_in, b_in});
  const Tensor &a = in[0], &b = in[1];
  check_gemm_operands(a, b, "matmul");
  HG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got a ",
           describe(a), ", b ", describe(b));
  if (a.dim() == 1 && b.dim() == 1) {
    HG_CHECK(a.size(0) == b.size(0), "matmul: inner dimensions differ: a ", describe(a), ", b ",
             describe(b));
    return matmul_2d_plus(a.unsqueeze(0), b.unsqueeze(1), "matmul").reshape({});
  }
  if (a.dim() == 1) return matmul_2d_plus(a.unsqueeze(0), b, "matmul").squeeze(-2);
  if (b.dim() == 1) return matmul_2d_plus(a, b.unsqueeze(1), "matmul").squeeze(-1);
  return matmul_2d_plus(a, b, "matmul");
}

Tensor bmm(const Tensor& a_in, const Tensor& b_in) {
  const auto in = amp::autocast(amp::OpId::Bmm, {a_in, b_in});
  const Tensor &a = in[0], &b = in[1];
  check_gemm_operands(a, b, "bmm");
  HG_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0),
           "bmm: expected [B, M, K] "
           "and [B, K, N] with the same B, got a ",
           describe(a), ", b ", describe(b));
  return matmul_2d_plus(a, b, "bmm");
}

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  const auto in = amp::autocast(amp::OpId::Linear, {x_in, weight_in, bias_in});
  const Tensor &x = in[0], &weight = in[1], &bias = in[2];
  check_gemm_operands(x, weight, "linear", "input", "weight");
  HG_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ",
           describe(x), " does not match weight ", describe(weight), " ([out, in])");
  const int64_t out_features = weight.size(0);
  if (bias.defined()) {
    check_gemm_operands(x, bias, "linear", "input", "bias");
    HG_CHECK(bias.dim() == 1 && bias.size(0) == out_features, "linear: bias ", describe(bias),
             " does not match weight ", describe(weight));
  }
  const Tensor x2d = [&] {  // untaped: LinearBackward reshapes the gradient itself
    NoGradGuard no_grad;
    int64_t rows = 1;  // the leading dims' product: -1 cannot be inferred when in_features = 0
    for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
    return x.reshape({rows, x.size(-1)});
  }();
  Shape out_shape = x.sizes();
  out_shape.back() = out_features;
  Tensor out = make_tensor({x2d.size(0), out_features}, x.dtype(), x.device());
  const Tensor wt = weight.t();
  if (bias.defined()) {  // out = x @ W^T + bias, rounded once
    kernels::gemm_bias(x.device())(kernels::view_of(x2d), kernels::view_of(wt),
                                   kernels::view_of(bias.contiguous()), kernels::view_of(out));
  } else {
    kernels::gemm(x.device())(kernels::view_of(x2d), kernels::view_of(wt), kernels::view_of(out),
                              false);
  }
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  Tensor result = out.view(out_shape);
  if (autograd::needs_grad(inputs))
    autograd::record_op<LinearBackward>(inputs, result, x2d, weight, x.requires_grad(),
                                        weight.requires_grad());
  return result;
}

}  // namespace hg
