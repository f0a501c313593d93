// kernels/cpu/conv_backward.cpp's weight and bias gradients through conv2d's backward, against
// direct double loops over the same (rounded) values, on shapes larger than gradcheck's: one
// sample per GEMM and many per GEMM (regrouped grad_out), a batch that does not split evenly,
// stride 2, groups, 1x1 kernels read in place, fp32, fp16 and bf16 (gemm_bf16 where it runs).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"

namespace {

using namespace hg;

struct WgCase {
  std::string name;
  Shape x, w;
  int64_t stride = 1, pad = 0, groups = 1;
};

std::vector<double> wg_values(const Tensor& t) {
  return t.to(kFloat64).contiguous().to_vector<double>();
}

// grad_weight[oc][ic][i][j] = sum over samples and output positions of
// grad_out[s][oc][y][z] * x[s][group's ic][y * stride - pad + i][z * stride - pad + j].
std::vector<double> weight_grad_reference(const WgCase& c, const std::vector<double>& x,
                                          const std::vector<double>& go, int64_t ho, int64_t wo) {
  const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], wd = c.x[3];
  const int64_t o = c.w[0], cg = c.w[1], kh = c.w[2], kw = c.w[3], og = o / c.groups;
  std::vector<double> grad(static_cast<size_t>(o * cg * kh * kw), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t ic = 0; ic < cg; ++ic)
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            double sum = 0.0;
            const double* plane = x.data() + (s * ch + (oc / og) * cg + ic) * h * wd;
            const double* g = go.data() + (s * o + oc) * ho * wo;
            for (int64_t y = 0; y < ho; ++y) {
              const int64_t ih = y * c.stride - c.pad + i;
              if (ih < 0 || ih >= h) continue;
              for (int64_t z = 0; z < wo; ++z) {
                const int64_t iw = z * c.stride - c.pad + j;
                if (iw >= 0 && iw < wd) sum += g[y * wo + z] * plane[ih * wd + iw];
              }
            }
            grad[static_cast<size_t>(((oc * cg + ic) * kh + i) * kw + j)] += sum;
          }
  return grad;
}

struct WgGrads {
  std::vector<double> weight, bias;
};

WgGrads wg_conv_grads(const WgCase& c, const Tensor& x, const Tensor& w, const Tensor& b,
                      const Tensor& go) {
  const Tensor wl = w.clone().requires_grad_(), bl = b.clone().requires_grad_();
  conv2d(x, wl, bl, {c.stride, c.stride}, {c.pad, c.pad}, {1, 1}, c.groups).backward(go);
  return {wg_values(wl.grad()), wg_values(bl.grad())};
}

void wg_check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double scale = 0.0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(got[i] - want[i]) <= tol * scale);
  }
}

}  // namespace

TEST_CASE("conv2d weight and bias gradients match double loops on larger shapes") {
  const std::vector<WgCase> cases = {
      // 9x9 planes: 4 samples per GEMM, a batch of 3
      {"3x3, 20 channels", {3, 20, 9, 9}, {6, 20, 3, 3}, 1, 1},
      // 16x16: one sample per GEMM, 40 samples
      {"3x3, 3 channels", {40, 3, 16, 16}, {8, 3, 3, 3}, 1, 1},
      // 4x4 output planes: 64 samples per GEMM, a batch of 70
      {"stride 2, small planes", {70, 4, 8, 8}, {12, 4, 3, 3}, 2, 1},
      {"groups 2", {2, 32, 10, 10}, {8, 16, 3, 3}, 1, 1, 2},
      // 1x1, stride 1, no padding: x is the column matrix
      {"1x1, 200 channels", {3, 200, 16, 16}, {8, 200, 1, 1}},
      {"1x1, 1024 outputs", {20, 1, 16, 16}, {1024, 1, 1, 1}},
  };
  for (const WgCase& c : cases)
    for (DType dtype : {kFloat32, kFloat16, kBFloat16}) {
      CAPTURE(c.name);
      CAPTURE(dtype_name(dtype));
      manual_seed(21);
      const Tensor x = randn(c.x).to(dtype), w = (randn(c.w) * 0.1).to(dtype);
      const Tensor b = zeros({c.w[0]}, dtype);
      const Tensor probe = conv2d(x, w, b, {c.stride, c.stride}, {c.pad, c.pad}, {1, 1}, c.groups);
      const Tensor go = randn(probe.sizes()).to(dtype);
      const WgGrads got = wg_conv_grads(c, x, w, b, go);
      const std::vector<double> gov = wg_values(go);
      const int64_t ho = probe.size(2), wo = probe.size(3);
      const double tol = dtype == kFloat32 ? 1e-5 : dtype == kFloat16 ? 2e-3 : 1e-2;
      wg_check_close(got.weight, weight_grad_reference(c, wg_values(x), gov, ho, wo), tol);
      std::vector<double> bias(static_cast<size_t>(c.w[0]), 0.0);
      for (size_t i = 0; i < gov.size(); ++i)
        bias[i / static_cast<size_t>(ho * wo) % bias.size()] += gov[i];
      wg_check_close(got.bias, bias, tol);
    }
}
