// max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d: forward and backward
// against direct-loop fp64 references, gradcheck in fp64, fp16/bf16 against fp64, NaN
// propagation, and the error messages of bad calls.
#include <cmath>
#include <limits>
#include <string>

#include "grad_util.h"
#include "halfgrad/kernels/nn_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::check_lowp;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::leaf;
using hg::test::leaf_distinct;
using hg::test::values;

namespace {

// One spatial dim of a pooling: output o reads [lo, hi), span counts padding too.
struct Win {
  int64_t lo, hi, span;
};

std::vector<Win> regular(int64_t len, int64_t k, int64_t s, int64_t p) {
  std::vector<Win> w;
  for (int64_t start = -p; start + k <= len + p; start += s) {
    const int64_t end = std::min(start + k, len + p);
    w.push_back({std::max<int64_t>(start, 0), std::min(end, len), end - start});
  }
  return w;
}

std::vector<Win> adaptive(int64_t len, int64_t n) {
  std::vector<Win> w;
  for (int64_t o = 0; o < n; ++o) {
    const auto lo = static_cast<int64_t>(std::floor(static_cast<double>(o * len) / n));
    const auto hi = static_cast<int64_t>(std::ceil(static_cast<double>((o + 1) * len) / n));
    w.push_back({lo, hi, hi - lo});
  }
  return w;
}

struct PoolRef {
  Shape shape;
  std::vector<double> out;
  std::vector<double> grad;  // d sum(out * seed) / d x
};

// kind: 'M' max, 'A' average counting padding, 'a' average over the valid part only.
PoolRef pool_reference(char kind, const Tensor& x, const std::vector<Win>& wh,
                       const std::vector<Win>& ww, const std::vector<double>& seed = {}) {
  const std::vector<double> v = values(x);
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const auto ho = static_cast<int64_t>(wh.size()), wo = static_cast<int64_t>(ww.size());
  PoolRef r{{x.size(0), x.size(1), ho, wo}, {}, std::vector<double>(v.size(), 0.0)};
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        const Win a = wh[i], b = ww[j];
        const double g = seed.empty() ? 1.0 : seed[r.out.size()];
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t at = p * h * w + a.lo * w + b.lo;
        for (int64_t y = a.lo; y < a.hi; ++y)
          for (int64_t z = b.lo; z < b.hi; ++z) {
            const double e = v[p * h * w + y * w + z];
            sum += e;
            if (e > best || std::isnan(e)) best = e, at = p * h * w + y * w + z;
          }
        const double count =
            kind == 'A' ? double(a.span * b.span) : double((a.hi - a.lo) * (b.hi - b.lo));
        r.out.push_back(kind == 'M' ? best : sum / count);
        if (kind == 'M') r.grad[at] += g;
        for (int64_t y = a.lo; kind != 'M' && y < a.hi; ++y)
          for (int64_t z = b.lo; z < b.hi; ++z) r.grad[p * h * w + y * w + z] += g / count;
      }
  return r;
}

struct PoolCase {
  std::string name;
  Shape x;
  Pair kernel, stride{0, 0}, padding{0, 0};
};

std::vector<PoolCase> pool_cases() {
  return {
      {"2x2", {2, 3, 8, 8}, {2, 2}},
      {"2x2 odd sizes", {1, 2, 7, 9}, {2, 2}},
      {"2x2 wide rows (vector path + tail)", {2, 2, 4, 42}, {2, 2}},
      {"2x2 stride 1", {1, 2, 5, 6}, {2, 2}, {1, 1}},
      {"3x3 stride 2 pad 1", {2, 2, 8, 8}, {3, 3}, {2, 2}, {1, 1}},
      {"3x3 stride 1 pad 1", {1, 2, 5, 4}, {3, 3}, {1, 1}, {1, 1}},
      {"3x3 default stride", {1, 1, 9, 7}, {3, 3}},
      {"non-square 2x3", {2, 1, 6, 9}, {2, 3}, {1, 2}, {1, 1}},
      {"2x2 large (planes split across threads)", {4, 8, 32, 34}, {2, 2}},
      {"3x3 stride 2 pad 1 large", {4, 8, 32, 34}, {3, 3}, {2, 2}, {1, 1}},
  };
}

void check_max_case(const PoolCase& c, DType dtype) {
  const Tensor x = leaf_distinct(c.x).detach().to(dtype).requires_grad_();
  const Pair s = c.stride[0] == 0 ? c.kernel : c.stride;
  const PoolRef r = pool_reference('M', x, regular(c.x[2], c.kernel[0], s[0], c.padding[0]),
                                   regular(c.x[3], c.kernel[1], s[1], c.padding[1]));
  const Tensor out = max_pool2d(x, c.kernel, c.stride, c.padding);
  CHECK(out.sizes() == r.shape);
  CHECK(out.grad_fn()->name() == "MaxPool2dBackward");
  expect_close(values(out), r.out, 0, 0);
  out.sum().backward();
  CHECK(x.grad().dtype() == dtype);
  expect_close(values(x.grad()), r.grad, 0, 0);
}

}  // namespace

TEST_CASE("max_pool2d: forward and backward match a direct-loop reference") {
  manual_seed(21);
  for (const PoolCase& c : pool_cases()) {
    CAPTURE(c.name);
    check_max_case(c, kFloat64);
    check_max_case(c, kFloat32);
  }
}

TEST_CASE("avg_pool2d: forward and backward match a direct-loop reference") {
  manual_seed(22);
  for (const PoolCase& c : pool_cases()) {
    for (bool include_pad : {true, false}) {
      CAPTURE(c.name);
      CAPTURE(include_pad);
      const Tensor x = leaf(c.x);
      const Pair s = c.stride[0] == 0 ? c.kernel : c.stride;
      const auto wh = regular(c.x[2], c.kernel[0], s[0], c.padding[0]);
      const auto ww = regular(c.x[3], c.kernel[1], s[1], c.padding[1]);
      const Tensor out = avg_pool2d(x, c.kernel, c.stride, c.padding, include_pad);
      const Tensor g = randn(out.sizes(), kFloat64);
      const PoolRef r = pool_reference(include_pad ? 'A' : 'a', x, wh, ww, values(g));
      CHECK(out.sizes() == r.shape);
      CHECK(out.grad_fn()->name() == "AvgPool2dBackward");
      expect_close(values(out), r.out, 1e-12, 1e-12);
      out.backward(g);
      expect_close(values(x.grad()), r.grad, 1e-12, 1e-12);
    }
  }
}

TEST_CASE("adaptive pooling: PyTorch's windows, forward and backward") {
  manual_seed(23);
  const std::vector<std::pair<Shape, Pair>> cases = {{{2, 3, 7, 5}, {3, 2}},
                                                     {{1, 2, 5, 5}, {1, 1}},
                                                     {{1, 1, 3, 4}, {5, 6}},
                                                     {{2, 2, 6, 6}, {3, 3}}};
  for (const auto& [shape, size] : cases) {
    CAPTURE(size[0]);
    CAPTURE(size[1]);
    const auto wh = adaptive(shape[2], size[0]), ww = adaptive(shape[3], size[1]);
    const Tensor xa = leaf(shape);
    const Tensor avg = adaptive_avg_pool2d(xa, size);
    CHECK(avg.grad_fn()->name() == "AdaptiveAvgPool2dBackward");
    const Tensor g = randn(avg.sizes(), kFloat64);
    const PoolRef ra = pool_reference('a', xa, wh, ww, values(g));
    expect_close(values(avg), ra.out, 1e-12, 1e-12);
    avg.backward(g);
    expect_close(values(xa.grad()), ra.grad, 1e-12, 1e-12);
    const Tensor xm = leaf_distinct(shape);
    const Tensor mx = adaptive_max_pool2d(xm, size);
    CHECK(mx.grad_fn()->name() == "AdaptiveMaxPool2dBackward");
    const PoolRef rm = pool_reference('M', xm, wh, ww, values(g));
    expect_close(values(mx), rm.out, 0, 0);
    mx.backward(g);
    expect_close(values(xm.grad()), rm.grad, 1e-12, 1e-12);
  }
}

TEST_CASE("pooling: gradcheck in fp64") {
  manual_seed(24);
  for (const PoolCase& c : pool_cases()) {
    CAPTURE(c.name);
    if (c.x[3] > 20) continue;  // the wide case has too many outputs for a full Jacobian
    check_grad(
        [&](const std::vector<Tensor>& in) {
          return max_pool2d(in[0], c.kernel, c.stride, c.padding);
        },
        {leaf_distinct(c.x)});
    for (bool include_pad : {true, false})
      check_grad(
          [&](const std::vector<Tensor>& in) {
            return avg_pool2d(in[0], c.kernel, c.stride, c.padding, include_pad);
          },
          {leaf(c.x)});
  }
  check_grad(
      [](const std::vector<Tensor>& in) {
        return adaptive_avg_pool2d(in[0], {3, 2});
      },
      {leaf({2, 2, 7, 5})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return adaptive_max_pool2d(in[0], {3, 2});
      },
      {leaf_distinct({2, 2, 7, 5})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return adaptive_avg_pool2d(in[0], {4, 5});
      },
      {leaf({1, 2, 3, 3})});
}

TEST_CASE("pooling: fp16 and bf16 forward and backward stay within dtype tolerance of fp64") {
  manual_seed(25);
  for (const PoolCase& c : pool_cases()) {
    CAPTURE(c.name);
    const std::vector<std::pair<std::string, hg::test::Fn>> ops = {
        {"max",
         [&](const std::vector<Tensor>& in) {
           return max_pool2d(in[0], c.kernel, c.stride, c.padding);
         }},
        {"avg",
         [&](const std::vector<Tensor>& in) {
           return avg_pool2d(in[0], c.kernel, c.stride, c.padding);
         }},
        {"adaptive avg",
         [](const std::vector<Tensor>& in) {
           return adaptive_avg_pool2d(in[0], {3, 2});
         }},
        {"adaptive max",
         [](const std::vector<Tensor>& in) {
           return adaptive_max_pool2d(in[0], {2, 3});
         }},
    };
    for (const auto& [name, fn] : ops) {
      check_lowp(fn, {leaf(c.x)}, kFloat16, 2e-3, c.name + " " + name + " fp16");
      check_lowp(fn, {leaf(c.x)}, kBFloat16, 1e-2, c.name + " " + name + " bf16");
    }
  }
}

TEST_CASE("max_pool2d: NaN propagates like PyTorch, in the 2x2 fast path and the general one") {
  std::vector<float> v(2 * 32, 1.0f);
  v[5] = std::nanf("");        // row 0, col 5: output (0, 2)
  v[32 + 20] = std::nanf("");  // row 1, col 20: output (0, 10)
  const Tensor x = from_vector(v, {1, 1, 2, 32}).requires_grad_();
  const std::vector<double> out = values(max_pool2d(x, {2, 2}));
  for (size_t j = 0; j < out.size(); ++j) CHECK((std::isnan(out[j]) == (j == 2 || j == 10)));
  max_pool2d(x, {2, 2}).sum().backward();
  const std::vector<double> g = values(x.grad());
  CHECK(g[5] == 1.0);
  CHECK(g[52] == 1.0);
  const std::vector<double> general = values(max_pool2d(x, {2, 3}, {1, 3}, {0, 1}));
  CHECK(std::isnan(general[2]));  // window cols 5..7
  CHECK(std::isnan(general[7]));  // window cols 20..22
  CHECK(general[0] == 1.0);
}

TEST_CASE("pooling: bad inputs raise hg::Error naming the op, shapes and dtypes") {
  const Tensor x = randn({1, 2, 6, 6});
  expect_error(
      [] {
        max_pool2d(randn({2, 6, 6}), {2, 2});
      },
      {"max_pool2d", "4-D", "[2, 6, 6] float32"});
  expect_error(
      [] {
        max_pool2d(zeros({1, 1, 4, 4}, kInt64), {2, 2});
      },
      {"max_pool2d", "floating", "[1, 1, 4, 4] int64"});
  expect_error(
      [&] {
        max_pool2d(x, {2, 2}, {2, 2}, {2, 2});
      },
      {"max_pool2d", "half the kernel", "padding (2, 2)", "[1, 2, 6, 6] float32"});
  expect_error([&] { avg_pool2d(x, {3, 3}, {1, 1}, {-1, 0}); }, {"avg_pool2d", "padding (-1, 0)"});
  expect_error(
      [] {
        avg_pool2d(randn({1, 1, 3, 3}, kFloat16), {5, 5});
      },
      {"avg_pool2d", "larger than the padded input", "[1, 1, 3, 3] float16"});
  expect_error([&] { max_pool2d(x, {0, 2}); }, {"max_pool2d", "kernel (0, 2)"});
  expect_error([&] { max_pool2d(x, {2, 2}, {-1, 1}); }, {"max_pool2d", "stride (-1, 1)"});
  expect_error(
      [&] {
        adaptive_avg_pool2d(x, {0, 2});
      },
      {"adaptive_avg_pool2d", "output size", "(0, 2)", "[1, 2, 6, 6] float32"});
  expect_error(
      [] {
        adaptive_max_pool2d(zeros({1, 1, 4, 4}, kBool), {2, 2});
      },
      {"adaptive_max_pool2d", "floating", "bool"});
  expect_error(
      [] {
        adaptive_max_pool2d(randn({1, 1, 0, 4}), {2, 2});
      },
      {"adaptive_max_pool2d", "[1, 1, 0, 4]"});
}

// The kernel family lets a backend keep the argmax as a uint8 position in the window (CUDA
// does); the CPU kernels keep int64 plane positions and say so when handed anything else.
TEST_CASE("max pooling's CPU kernels refuse window-position (uint8) indices") {
  const Tensor x = randn({1, 1, 4, 4}), out = zeros({1, 1, 2, 2});
  const Tensor bytes = zeros({1, 1, 2, 2}, TensorOptions(kUInt8));
  const kernels::Pool2dParams params{2, 2, 2, 2, 0, 0, true};
  expect_error(
      [&] {
        kernels::max_pool2d(kCPU)(kernels::view_of(x), kernels::view_of(out),
                                  kernels::view_of(bytes), params);
      },
      {"max_pool2d", "int64", "uint8"});
  expect_error(
      [&] {
        kernels::max_pool2d_backward(kCPU)(kernels::view_of(out), kernels::view_of(bytes),
                                           kernels::view_of(x), &params);
      },
      {"max_pool2d_backward", "int64", "uint8"});
}
