// lstm_cell_pointwise and gru_cell_pointwise: the composition they fuse (sigmoid, tanh, products
// and sums) in fp64 and fp32, gradcheck, 16-bit rounded once from the float computation, the
// saved gates' version check, errors.
#include <functional>
#include <tuple>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

std::tuple<Tensor, Tensor> lstm_composed(const Tensor& x, const Tensor& h, const Tensor& c) {
  const std::vector<Tensor> gates = chunk(x + h, 4, 1);
  const Tensor c_next = sigmoid(gates[1]) * c + sigmoid(gates[0]) * tanh(gates[2]);
  return {sigmoid(gates[3]) * tanh(c_next), c_next};
}

Tensor gru_composed(const Tensor& x, const Tensor& hidden, const Tensor& h) {
  const std::vector<Tensor> a = chunk(x, 3, 1), b = chunk(hidden, 3, 1);
  const Tensor r = sigmoid(a[0] + b[0]), z = sigmoid(a[1] + b[1]);
  const Tensor n = tanh(a[2] + r * b[2]);
  return (1.0 - z) * n + z * h;
}

Tensor recurrent_input(const Shape& shape, DType dtype) { return (randn(shape) * 2.0).to(dtype); }

}  // namespace

TEST_CASE("lstm_cell_pointwise and gru_cell_pointwise: the composition, values and gradients") {
  manual_seed(140);
  for (const DType dtype : {kFloat64, kFloat32}) {
    CAPTURE(dtype);
    const double tol = dtype == kFloat64 ? 1e-14 : 2e-6;
    Tensor x = recurrent_input({5, 12}, dtype).requires_grad_();
    Tensor h = recurrent_input({5, 12}, dtype).requires_grad_();
    Tensor c = recurrent_input({5, 3}, dtype).requires_grad_();
    const auto [h1, c1] = lstm_cell_pointwise(x, h, c);
    const auto [h2, c2] = lstm_composed(x, h, c);
    expect_close(values(h1), values(h2), tol, tol);
    expect_close(values(c1), values(c2), tol, tol);
    const Tensor weights = randn({5, 3}).to(dtype);
    const auto gradients = [&](const Tensor& a, const Tensor& b) {
      x.set_grad(Tensor());
      h.set_grad(Tensor());
      c.set_grad(Tensor());
      ((a * weights).sum() + (b * weights * 0.5).sum()).backward();
      return std::vector<std::vector<double>>{values(x.grad()), values(h.grad()), values(c.grad())};
    };
    const auto fused = gradients(h1, c1), composed = gradients(h2, c2);
    for (size_t i = 0; i < 3; ++i) expect_close(fused[i], composed[i], tol, tol);
    Tensor gh = recurrent_input({5, 9}, dtype).requires_grad_();
    Tensor gx = recurrent_input({5, 9}, dtype).requires_grad_();
    const Tensor g1 = gru_cell_pointwise(gx, gh, c), g2 = gru_composed(gx, gh, c);
    expect_close(values(g1), values(g2), tol, tol);
  }
}

TEST_CASE("lstm_cell_pointwise and gru_cell_pointwise: gradcheck in fp64") {
  manual_seed(141);
  Tensor x = recurrent_input({3, 8}, kFloat64).requires_grad_();
  Tensor h = recurrent_input({3, 8}, kFloat64).requires_grad_();
  Tensor c = recurrent_input({3, 2}, kFloat64).requires_grad_();
  check_grad(
      [](const std::vector<Tensor>& in) {
        const auto [h_next, c_next] = lstm_cell_pointwise(in[0], in[1], in[2]);
        return h_next * 2.0 + c_next;
      },
      {x, h, c});
  Tensor gx = recurrent_input({3, 6}, kFloat64).requires_grad_();
  Tensor gh = recurrent_input({3, 6}, kFloat64).requires_grad_();
  check_grad([](const std::vector<Tensor>& in) { return gru_cell_pointwise(in[0], in[1], in[2]); },
             {gx, gh, c});
}

TEST_CASE("lstm_cell_pointwise and gru_cell_pointwise: 16-bit rounds the float result once") {
  manual_seed(142);
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    const Tensor x = recurrent_input({4, 20}, dtype), h = recurrent_input({4, 20}, dtype);
    const Tensor c = recurrent_input({4, 5}, dtype);
    const auto [h16, c16] = lstm_cell_pointwise(x, h, c);
    const auto [h32, c32] = lstm_cell_pointwise(x.to(kFloat32), h.to(kFloat32), c.to(kFloat32));
    CHECK(h16.dtype() == dtype);
    CHECK(hg::test::same_bits(h16, h32.to(dtype)));
    CHECK(hg::test::same_bits(c16, c32.to(dtype)));
    const Tensor gx = recurrent_input({4, 15}, dtype), gh = recurrent_input({4, 15}, dtype);
    CHECK(hg::test::same_bits(
        gru_cell_pointwise(gx, gh, c),
        gru_cell_pointwise(gx.to(kFloat32), gh.to(kFloat32), c.to(kFloat32)).to(dtype)));
  }
}

namespace {

// The gradients of sum(out * weight) with respect to the inputs, which are leaves made here.
std::vector<Tensor> input_grads(const std::vector<Tensor>& inputs,
                                const std::function<Tensor(const std::vector<Tensor>&)>& cell,
                                const Tensor& weight) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().requires_grad_());
  (cell(leaves) * weight).sum().backward();
  std::vector<Tensor> grads;
  for (const Tensor& t : leaves) grads.push_back(t.grad());
  return grads;
}

}  // namespace

TEST_CASE(
    "lstm_cell_pointwise and gru_cell_pointwise: 16-bit gradients round the float ones once") {
  manual_seed(143);
  const auto lstm = [](const std::vector<Tensor>& in) {
    const auto [h, c] = lstm_cell_pointwise(in[0], in[1], in[2]);
    return cat({h, c}, 1);
  };
  const auto gru = [](const std::vector<Tensor>& in) {
    return gru_cell_pointwise(in[0], in[1], in[2]);
  };
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    const std::vector<Tensor> lstm_in{recurrent_input({3, 36}, dtype),
                                      recurrent_input({3, 36}, dtype),
                                      recurrent_input({3, 9}, dtype)};
    const std::vector<Tensor> gru_in{recurrent_input({3, 27}, dtype),
                                     recurrent_input({3, 27}, dtype),
                                     recurrent_input({3, 9}, dtype)};
    for (const auto& [cell, in, width] : {std::tuple{std::function(lstm), lstm_in, int64_t{18}},
                                          std::tuple{std::function(gru), gru_in, int64_t{9}}}) {
      const Tensor weight = recurrent_input({3, width}, dtype);  // exact in both dtypes
      std::vector<Tensor> wide;
      for (const Tensor& t : in) wide.push_back(t.to(kFloat32));
      const std::vector<Tensor> g16 = input_grads(in, cell, weight);
      const std::vector<Tensor> g32 = input_grads(wide, cell, weight.to(kFloat32));
      for (size_t i = 0; i < g16.size(); ++i) {
        CAPTURE(i);
        CHECK(g16[i].dtype() == dtype);
        CHECK(hg::test::same_bits(g16[i], g32[i].to(dtype)));
      }
    }
  }
}

TEST_CASE("lstm_cell_pointwise and gru_cell_pointwise: tape names, saved state, errors") {
  Tensor x = zeros({2, 8}).requires_grad_(), h = zeros({2, 8});
  Tensor c = ones({2, 2});
  const auto [h_next, c_next] = lstm_cell_pointwise(x, h, c);
  CHECK(h_next.grad_fn()->name() == "LstmCellBackward");
  // the step saved c: changing it before backward is refused
  c += 1.0;
  expect_error([&] { (h_next.sum() + c_next.sum()).backward(); }, {"LstmCellBackward"});
  expect_error(
      [&] {
        lstm_cell_pointwise(x, h, ones({2, 3}));
      },
      {"lstm_cell_pointwise", "[N, 4 H]", "[2, 3]"});
  expect_error(
      [&] {
        lstm_cell_pointwise(x, h.to(kFloat64), ones({2, 2}));
      },
      {"lstm_cell_pointwise", "float64"});
  expect_error(
      [&] {
        gru_cell_pointwise(zeros({2, 6}), zeros({2, 9}), ones({2, 2}));
      },
      {"gru_cell_pointwise", "[2, 6]", "[2, 9]"});
  expect_error(
      [&] {
        gru_cell_pointwise(zeros({2, 6}), zeros({2, 6}), zeros({2, 2}, kInt64));
      },
      {"gru_cell_pointwise", "floating"});
}
