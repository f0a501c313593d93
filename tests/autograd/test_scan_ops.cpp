// cumsum (autograd/scan_ops.cpp, kernels/cpu/scan.cpp): PyTorch's values and gradient, sums in
// double rounded once, integers, 16-bit, views, autocast, and the errors.
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::reference_values;
using hg::test::same_bits;
using hg::test::values;

namespace {

// The running sums of each row of [rows, n] values in double, rounded to float, then to dtype.
std::vector<double> reference_rows(const Tensor& x, DType dtype) {
  const std::vector<double> v = values(x);
  const int64_t n = x.size(1);
  std::vector<float> out;
  for (int64_t r = 0; r < x.size(0); ++r) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) out.push_back(static_cast<float>(sum += v[r * n + i]));
  }
  return values(from_vector(out, x.sizes()).to(dtype));
}

}  // namespace

TEST_CASE("cumsum: PyTorch's values and gradient") {
  // torch 1.13: torch.cumsum(x, 1) of x [2, 3, 4] float64, then (y * g).sum().backward()
  Tensor x = reference_values({2, 3, 4}, 7, 11, 5, 4.0).requires_grad_();
  const Tensor y = cumsum(x, 1);
  CHECK(values(y) == std::vector<double>{-1.25, 0.5, -0.5, 1.25,  -1.0, -0.25, 0.5,  1.25,
                                         -2.0,  0.5, 0.25, 0.0,   0.5,  -0.5,  1.25, 0.25,
                                         -0.25, 0.5, 1.25, -0.75, 0.5,  0.25,  0.0,  -0.25});
  (y * reference_values({2, 3, 4}, 5, 7, 3, 2.0)).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1.0,  1.5,  -1.5, -1.0, 2.5,  0.5,  -1.5, 0.0,
                                                1.0,  0.0,  -1.0, 1.5,  0.0,  -3.0, 1.0,  1.5,
                                                -0.5, -2.5, 2.5,  0.5,  -0.5, -1.5, 1.0,  0.0});
  CHECK(same_bits(x.detach().cumsum(-1), cumsum(x.detach(), 2)));
}

TEST_CASE("cumsum: sums in double rounded once, 16-bit, integers, views, gradcheck") {
  manual_seed(35);
  // fp32: 1e8 then eight ones; a float running sum stays at 1e8, the double one reaches 1e8 + 8
  const Tensor sums = cumsum(cat({full({1}, 1e8), ones({8})}), 0);
  CHECK(sums[0].item<float>() == 1e8f);
  CHECK(sums[8].item<float>() == 1e8f + 8);
  const Tensor x = randn({3, 50});
  for (const DType dtype : {kFloat32, kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor xd = x.to(dtype);
    CHECK(values(cumsum(xd, 1)) == reference_rows(xd, dtype));
    CHECK(cumsum(xd, 1).dtype() == dtype);
  }
  // int64 exactly, bool and uint8 as int64
  CHECK(cumsum(from_vector<int64_t>({int64_t{1} << 60, 1}), 0)[1].item<int64_t>() ==
        (int64_t{1} << 60) + 1);
  const Tensor flags = from_vector<float>({1, 0, 1, 1}).to(kBool);
  CHECK(cumsum(flags, 0).dtype() == kInt64);
  CHECK(values(cumsum(flags, 0)) == std::vector<double>{1, 1, 2, 3});
  // a transposed (non-contiguous) input, the middle and the first dim, a 0-dim tensor
  const Tensor t = randn({4, 5}).t();
  CHECK(same_bits(cumsum(t, 1), cumsum(t.contiguous(), 1)));
  CHECK(values(cumsum(scalar_tensor(2.5), 0)) == std::vector<double>{2.5});
  check_grad([](const std::vector<Tensor>& in) { return cumsum(in[0], 1); },
             {hg::test::leaf({2, 4, 3})});
  check_grad([](const std::vector<Tensor>& in) { return cumsum(in[0].t(), 0); },
             {hg::test::leaf({3, 5})});
  // fp32 under autocast, as PyTorch's list has it
  amp::AutocastGuard autocast(kFloat16);
  CHECK(cumsum(x.to(kFloat16), 1).dtype() == kFloat32);
}

TEST_CASE("cumsum: errors name the op, the dim and the input") {
  expect_error([] { cumsum(zeros({2, 3}), 2); }, {"cumsum", "2", "[2, 3]"});
  expect_error([] { cumsum(scalar_tensor(1.0), 1); }, {"cumsum", "0-dim"});
  expect_error([] { cumsum(Tensor(), 0); }, {"cumsum", "undefined"});
}
