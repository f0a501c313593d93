// l1_loss, smooth_l1_loss and huber_loss (autograd/regression_loss_ops.cpp): values and
// gradients against PyTorch 1.13's, 16-bit results to the bit, gradcheck away from the kinks.
#include <cmath>
#include <cstdint>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

Tensor regression_input() {
  return from_vector<double>({0.5, -1.25, 2.0, 0.0, 1.5, 0.25, -0.75, 3.0}, {8}, kFloat64);
}
Tensor regression_target() {
  return from_vector<double>({0.0, 0.5, -1.0, 0.125, 1.5, 2.5, -0.5, 1.0}, {8}, kFloat64);
}

struct TorchCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> loss;
  double value;
  std::vector<double> grad;
};

// bf16 values from their bits, as PyTorch printed them (.view(torch.int16)).
std::vector<double> from_bf16_bits(const std::vector<uint16_t>& bits) {
  std::vector<double> out;
  for (const uint16_t b : bits) out.push_back(static_cast<float>(BFloat16::from_bits(b)));
  return out;
}

}  // namespace

TEST_CASE("regression losses: PyTorch's values and gradients, each reduction and width") {
  // Reference: torch 1.13, float64, F.<loss>(x, t, ...) then backward.
  const std::vector<TorchCase> cases = {
      {"l1",
       [](const Tensor& x, const Tensor& t) { return l1_loss(x, t); },
       1.234375,
       {0.125, -0.125, 0.125, -0.125, 0.0, -0.125, -0.125, 0.125}},
      {"smooth_l1 beta 1",
       [](const Tensor& x, const Tensor& t) { return smooth_l1_loss(x, t); },
       0.8955078125,
       {0.0625, -0.125, 0.125, -0.015625, 0.0, -0.125, -0.03125, 0.125}},
      {"smooth_l1 beta 0.5, sum",
       [](const Tensor& x, const Tensor& t) { return smooth_l1_loss(x, t, Reduction::Sum, 0.5); },
       8.328125,
       {1.0, -1.0, 1.0, -0.25, 0.0, -1.0, -0.5, 1.0}},
      {"huber delta 2",
       [](const Tensor& x, const Tensor& t) { return huber_loss(x, t, Reduction::Mean, 2.0); },
       1.2744140625,
       {0.0625, -0.21875, 0.25, -0.015625, 0.0, -0.25, -0.03125, 0.25}},
      {"huber delta 0.5, sum",
       [](const Tensor& x, const Tensor& t) { return huber_loss(x, t, Reduction::Sum, 0.5); },
       4.1640625,
       {0.5, -0.5, 0.5, -0.125, 0.0, -0.5, -0.25, 0.5}},
  };
  for (const TorchCase& c : cases) {
    CAPTURE(c.name);
    Tensor x = regression_input().requires_grad_();
    Tensor loss = c.loss(x, regression_target());
    CHECK(loss.item<double>() == c.value);
    loss.backward();
    CHECK(values(x.grad()) == c.grad);
  }
  // beta 0 is l1, and Reduction::None keeps the shape
  CHECK(values(smooth_l1_loss(regression_input(), regression_target(), Reduction::None, 0.0)) ==
        values(l1_loss(regression_input(), regression_target(), Reduction::None)));
  CHECK(huber_loss(regression_input().reshape({2, 4}), regression_target().reshape({2, 4}),
                   Reduction::None)
            .sizes() == Shape{2, 4});
}

// The 16-bit rule, element by element: widen, compute in float, round once.
static std::vector<double> float_reference(const Tensor& x, const Tensor& t, double edge,
                                           bool huber) {
  const std::vector<float> xs = x.to(kFloat32).to_vector<float>();
  const std::vector<float> ts = t.to(kFloat32).to_vector<float>();
  const auto e = static_cast<float>(edge), half_e = static_cast<float>(0.5 * edge);
  std::vector<float> loss;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float z = std::abs(xs[i] - ts[i]);
    loss.push_back(z < e ? (huber ? z * 0.5f * z : z * 0.5f * z / e)
                         : (huber ? (z - half_e) * e : z - half_e));
  }
  return values(from_vector(loss).to(x.dtype()));
}

TEST_CASE("regression losses: 16-bit inputs computed in float and rounded once") {
  const Tensor x32 = from_vector<float>({0.1f, 1000, -3.3f, 65504, 0.0007f, 0.3f, 2.5f, -1});
  const Tensor t32 = from_vector<float>({0.3f, 1001.5f, -3.25f, -65504, 0, 0.1001f, 2.4f, 1});
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = x32.to(dtype), t = t32.to(dtype);
    for (const double edge : {1.0, 0.3}) {
      CAPTURE(edge);
      CHECK(values(smooth_l1_loss(x, t, Reduction::None, edge)) ==
            float_reference(x, t, edge, false));
      CHECK(values(huber_loss(x, t, Reduction::None, edge)) == float_reference(x, t, edge, true));
    }
    CHECK(values(l1_loss(x, t, Reduction::None)) == values(abs(x - t)));
    CHECK(smooth_l1_loss(x, t).dtype() == dtype);
  }
  // huber's 65504 - -65504 is finite in float and halved back into fp16's range
  CHECK(huber_loss(x32.to(kFloat16), t32.to(kFloat16), Reduction::None, 0.5)[3].item<float>() ==
        65504.0f);
  // PyTorch 1.13's bf16 smooth_l1 computes so too (reduction='none', .view(torch.int16)); its
  // fp16 kernels round some steps to fp16, differently in their vectorised and scalar paths
  const Tensor xb = x32.slice(0, 0, 6).to(kBFloat16), tb = t32.slice(0, 0, 6).to(kBFloat16);
  CHECK(values(smooth_l1_loss(xb, tb, Reduction::None, 0.3)) ==
        from_bf16_bits({15753, 0, 15216, 18432, 13660, 15753}));
  CHECK(values(smooth_l1_loss(xb, tb, Reduction::None)) ==
        from_bf16_bits({15525, 0, 14992, 18432, 13444, 15525}));
  // under a 16-bit autocast they are fp32, as PyTorch lists them
  amp::AutocastGuard autocast(kFloat16);
  const Tensor x = x32.to(kFloat16), t = t32.to(kFloat16);
  CHECK(huber_loss(x, t).dtype() == kFloat32);
  CHECK(l1_loss(x, t).dtype() == kFloat32);
  CHECK(smooth_l1_loss(x, t).dtype() == kFloat32);
}

TEST_CASE("regression losses: gradcheck away from the kinks, and their errors") {
  manual_seed(61);
  // |x - t| at least 0.1 from 0 and from beta or delta (1 and 0.5)
  const Tensor t = zeros({3, 4}, kFloat64);
  const Tensor x = hg::test::leaf_away({3, 4}, {-1, -0.5, 0, 0.5, 1});
  check_grad([&](const std::vector<Tensor>& in) { return l1_loss(in[0], t); }, {x});
  check_grad([&](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], t); }, {x});
  check_grad(
      [&](const std::vector<Tensor>& in) { return huber_loss(in[0], t, Reduction::Sum, 0.5); },
      {x});
  // the target's gradient too
  check_grad([&](const std::vector<Tensor>& in) { return smooth_l1_loss(t, in[0]); }, {x});
  const Tensor a = zeros({2, 3});
  expect_error(
      [&] {
        (void)l1_loss(a, zeros({3, 2}));
      },
      {"l1_loss: input [2, 3] float32 and target [3, 2] float32 differ in shape"});
  expect_error([&] { (void)smooth_l1_loss(a, a, Reduction::Mean, -1); },
               {"smooth_l1_loss: beta must be >= 0, got -1"});
  expect_error([&] { (void)huber_loss(a, a, Reduction::Mean, 0); },
               {"huber_loss: delta must be > 0, got 0"});
  expect_error([&] { (void)huber_loss(a.to(kInt64), a.to(kInt64)); }, {"huber_loss", "int64"});
}
