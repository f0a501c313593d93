// norm, normalize, cosine_similarity (autograd/distance_ops.cpp): PyTorch 1.13's values and
// gradients in float64, the zero-norm gradient, 16-bit and autocast, and the errors.
#include <cmath>
#include <functional>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

struct NormCase {
  const char* torch_call;
  std::function<Tensor(const Tensor&)> fn;
  std::vector<double> y, grad;
};

}  // namespace

TEST_CASE("norm, normalize, cosine_similarity: PyTorch's values and gradients") {
  // torch 1.13, float64, x [3, 4]: y = <torch_call>, then (y * g).sum().backward()
  const std::vector<NormCase> cases = {
      {"torch.linalg.vector_norm(x)",
       [](const Tensor& x) { return norm(x); },
       {2.9047375096555625},
       {0.6454972243679029, -0.2581988897471611, 0.2581988897471611, -0.6454972243679029,
        -0.12909944487358055, 0.3872983346207417, -0.5163977794943222, -0.0, 0.5163977794943222,
        -0.3872983346207417, 0.12909944487358055, 0.6454972243679029}},
      {"vector_norm(x, 2, (1,))",
       [](const Tensor& x) { return norm(x, 2, {1}); },
       {1.9039432764659772, 1.2747548783981961, 1.7853571071357126},
       {0.984798246447919, -0.39391929857916763, 0.39391929857916763, -0.984798246447919,
        0.19611613513818404, -0.5883484054145521, 0.7844645405527362, 0.0, -0.0, 0.0, -0.0, -0.0}},
      {"vector_norm(x, 1, (0,))",
       [](const Tensor& x) { return norm(x, 1, {0}); },
       {2.5, 2.0, 1.75, 2.5},
       {1.5, 1.0, -0.0, -1.0, -1.5, -1.0, 0.0, -0.0, 1.5, 1.0, -0.0, 1.0}},
      {"vector_norm(x, inf, (1,))",
       [](const Tensor& x) { return norm(x, INFINITY, {1}); },
       {1.25, 1.0, 1.25},
       {0.75, -0.0, 0.0, -0.75, 0.0, -0.0, 1.0, 0.0, -0.0, 0.0, -0.0, -0.0}},
      {"vector_norm(x, 3, (1,), keepdim=True)",
       [](const Tensor& x) { return norm(x, 3, {1}, true); },
       {1.6078068978449063, 1.1285893588685003, 1.5023112517293415},
       {0.906658025100511, -0.14506528401608176, 0.14506528401608176, -0.906658025100511,
        0.04906910255950002, -0.4416219230355002, 0.7851056409520003, 0.0, -0.0, 0.0, -0.0, -0.0}},
      {"F.normalize(x, dim=1)",
       [](const Tensor& x) { return normalize(x); },
       {-0.6565321642986127, 0.2626128657194451, -0.2626128657194451, 0.6565321642986127,
        0.19611613513818404, -0.5883484054145521, 0.7844645405527362, 0.0, -0.5601120336112039,
        0.42008402520840293, -0.14002800840280097, -0.7001400420140048},
       {-0.5840872358242831, 0.4437251869052693, 0.08150054453362086, -0.7289770927729423,
        1.2370402370254685, 0.2112019916872751, -0.15085856549091078, -1.1766968108291043,
        0.09884330004903608, 0.3459515501716259, -0.6754292170017459, 0.2635821334640961}},
      {"F.cosine_similarity(x, x.flip(0) + 0.5, dim=1)",
       [](const Tensor& x) { return cosine_similarity(x, flip(x, {0}) + 0.5); },
       {0.06307757002967701, 0.8320502943378437, -0.17905717868307824},
       {0.219683950793013, -0.617725168566492, -0.13920567178963197, 0.41109174950375693,
        0.11606034874866332, 0.006827079338156794, 0.19798530080654325, 0.08875203139603668,
        0.6113672172107154, -0.20378907240357177, 0.2620145216617352, -0.6598884249258516}},
  };
  for (const NormCase& c : cases) {
    CAPTURE(c.torch_call);
    Tensor x = hg::test::reference_values({3, 4}, 7, 11, 5, 4.0).requires_grad_();
    const Tensor y = c.fn(x);
    expect_close(values(y), c.y, 1e-15, 1e-14);
    (y * hg::test::reference_upstream(y.sizes())).sum().backward();
    expect_close(values(x.grad()), c.grad, 1e-15, 1e-13);
  }
}

TEST_CASE("norm: a zero vector's gradient is 0, gradcheck, 16-bit, autocast, errors") {
  for (const double p : {2.0, 3.0}) {
    Tensor z = zeros({3}, kFloat64).requires_grad_();
    norm(z, p).backward();
    CHECK(values(z.grad()) == std::vector<double>{0, 0, 0});
  }
  Tensor rows = zeros({2, 3}, kFloat64).requires_grad_();
  normalize(rows).sum().backward();  // x / eps there: finite
  expect_close(values(rows.grad()), std::vector<double>(6, 1.0 / 1e-12), 0, 1e-15);
  manual_seed(36);
  const Tensor x = hg::test::leaf_away({3, 4}, {0.0});
  check_grad([](const std::vector<Tensor>& in) { return norm(in[0], 2, {1}); }, {x});
  check_grad([](const std::vector<Tensor>& in) { return norm(in[0], 3, {0}, true); }, {x});
  check_grad([](const std::vector<Tensor>& in) { return normalize(in[0], 2, 0); }, {x});
  check_grad([](const std::vector<Tensor>& in) { return cosine_similarity(in[0], in[1]); },
             {x, hg::test::leaf({3, 4})});
  // fp16: the squares are taken in float (300^2 overflows fp16), the norm rounded once
  const Tensor big = full({4}, 300.0).to(kFloat16);
  CHECK(norm(big).item<float>() == 600.0f);
  CHECK(norm(big).dtype() == kFloat16);
  CHECK(norm(scalar_tensor(-2.5)).item<float>() == 2.5f);
  CHECK(values(norm(from_vector<float>({0, 3, 0, -1}), 0)) == std::vector<double>{2});
  {
    amp::AutocastGuard autocast(kFloat16);
    CHECK(norm(big).dtype() == kFloat32);
    CHECK(cosine_similarity(big.reshape({1, 4}), big.reshape({1, 4})).dtype() == kFloat32);
  }
  // a lower-rank operand broadcasts first, as torch's; shapes that do not broadcast are refused
  const Tensor row = from_vector<float>({1, 2, 3}), matrix = randn({4, 3});
  CHECK(hg::test::same_bits(cosine_similarity(row, matrix, 1),
                            cosine_similarity(row.expand({4, 3}), matrix, 1)));
  expect_error(
      [] {
        cosine_similarity(zeros({2, 3}), zeros({2, 4}));
      },
      {"cosine_similarity", "[2, 3]", "[2, 4]"});
  expect_error([] { norm(zeros({2}), 0.5); }, {"norm", "p must be", "0.5"});
  expect_error([] { norm(arange(3)); }, {"norm", "floating", "int64"});
  expect_error([] { normalize(zeros({2, 2}), 2, 1, -1); }, {"normalize", "eps"});
}
