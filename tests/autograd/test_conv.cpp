// conv2d: forward against a direct-loop fp64 reference, gradcheck in fp64, fp16/bf16 against the
// fp64 result, and the error messages of bad calls.
#include <limits>
#include <string>

#include "grad_util.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::check_lowp;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::leaf;
using hg::test::values;

namespace {

struct ConvCase {
  std::string name;
  Shape x, w;
  bool bias = true;
  Pair stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};

// Several shapes: batch > 1, stride 2, padding, dilation 2, groups, depthwise, no bias,
// non-square kernels and inputs, 1x1 kernels (the no-im2col path and a strided one), small
// planes (several samples per GEMM) and larger ones (the shifted plan).
std::vector<ConvCase> conv_cases() {
  return {
      {"3x3 plain", {2, 3, 7, 6}, {4, 3, 3, 3}},
      {"stride 2 pad 1", {3, 2, 8, 7}, {5, 2, 3, 3}, true, {2, 2}, {1, 1}},
      {"dilation 2 pad 2", {2, 2, 9, 8}, {3, 2, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}},
      {"groups 2", {2, 4, 6, 6}, {6, 2, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 2},
      {"depthwise x2", {2, 4, 6, 5}, {8, 1, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 4},
      {"no bias", {1, 3, 5, 5}, {2, 3, 2, 2}, false},
      {"non-square", {2, 2, 6, 9}, {3, 2, 2, 3}, true, {2, 1}, {1, 0}, {1, 2}},
      {"1x1", {3, 6, 4, 5}, {4, 3, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 2},
      {"1x1 stride 2 pad 1", {2, 3, 5, 5}, {2, 3, 1, 1}, true, {2, 2}, {1, 1}},
      {"batch 5", {5, 2, 5, 4}, {3, 2, 3, 2}, true, {1, 2}, {1, 1}},
      // >= 128 output positions and >= 8 channels per group: the shifted plan (no im2col)
      {"shifted 3x3 pad 1", {2, 8, 12, 12}, {4, 8, 3, 3}, true, {1, 1}, {1, 1}},
      {"shifted dilated, groups 2",
       {1, 16, 11, 14},
       {6, 8, 3, 2},
       false,
       {1, 1},
       {2, 1},
       {2, 2},
       2},
      {"shifted no padding", {3, 8, 14, 13}, {3, 8, 2, 3}},
  };
}

Tensor run_conv(const ConvCase& c, const std::vector<Tensor>& in) {
  return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c.stride, c.padding, c.dilation,
                c.groups);
}

std::vector<Tensor> case_inputs(const ConvCase& c) {
  std::vector<Tensor> in{leaf(c.x), leaf(c.w)};
  if (c.bias) in.push_back(leaf({c.w[0]}));
  return in;
}

// Direct loops in double; returns the output values and sets out_shape.
std::vector<double> conv_reference(const ConvCase& c, const std::vector<Tensor>& in,
                                   Shape& out_shape) {
  const std::vector<double> x = values(in[0]), w = values(in[1]);
  const std::vector<double> b = c.bias ? values(in[2]) : std::vector<double>();
  const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], wd = c.x[3];
  const int64_t o = c.w[0], cg = c.w[1], kh = c.w[2], kw = c.w[3], og = o / c.groups;
  const int64_t ho = (h + 2 * c.padding[0] - c.dilation[0] * (kh - 1) - 1) / c.stride[0] + 1;
  const int64_t wo = (wd + 2 * c.padding[1] - c.dilation[1] * (kw - 1) - 1) / c.stride[1] + 1;
  out_shape = {n, o, ho, wo};
  std::vector<double> out;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < ho; ++y)
        for (int64_t z = 0; z < wo; ++z) {
          double sum = c.bias ? b[oc] : 0.0;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = y * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const int64_t iw = z * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                const int64_t xc = (oc / og) * cg + ic;
                sum +=
                    x[((s * ch + xc) * h + ih) * wd + iw] * w[((oc * cg + ic) * kh + i) * kw + j];
              }
          out.push_back(sum);
        }
  return out;
}

}  // namespace

TEST_CASE("conv2d: forward matches a direct-loop reference (fp64 and fp32)") {
  manual_seed(11);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    const std::vector<Tensor> in = case_inputs(c);
    Shape shape;
    const std::vector<double> expected = conv_reference(c, in, shape);
    const Tensor out = run_conv(c, in);
    CHECK(out.sizes() == shape);
    expect_close(values(out), expected, 1e-12, 1e-12);
    std::vector<Tensor> in32;
    for (const Tensor& t : in) in32.push_back(t.detach().to(kFloat32));
    const Tensor out32 = run_conv(c, in32);
    CHECK(out32.dtype() == kFloat32);
    expect_close(values(out32), expected, 1e-4, 1e-4);
  }
}

TEST_CASE("conv2d: gradcheck in fp64 for every configuration") {
  manual_seed(12);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    check_grad([&](const std::vector<Tensor>& in) { return run_conv(c, in); }, case_inputs(c));
  }
}

TEST_CASE("conv2d: fp16 and bf16 forward and backward stay within dtype tolerance of fp64") {
  manual_seed(13);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    const auto fn = [&](const std::vector<Tensor>& in) { return run_conv(c, in); };
    check_lowp(fn, case_inputs(c), kFloat16, 2e-3, c.name + " fp16");
    check_lowp(fn, case_inputs(c), kBFloat16, 1e-2, c.name + " bf16");
  }
}

TEST_CASE("conv2d: non-contiguous inputs, partial gradients and the node name") {
  manual_seed(14);
  const Tensor base = randn({2, 3, 6, 5}, kFloat64);
  const Tensor x = base.transpose(2, 3);  // [2, 3, 5, 6], not contiguous
  const Tensor w = leaf({4, 3, 3, 3});
  const Tensor out = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  CHECK(out.grad_fn()->name() == "Conv2dBackward");
  expect_close(values(out), values(conv2d(x.contiguous(), w, Tensor(), {1, 1}, {1, 1})), 1e-12,
               1e-12);
  out.sum().backward();
  CHECK_FALSE(x.grad().defined());
  REQUIRE(w.grad().defined());
  CHECK(w.grad().sizes() == w.sizes());
  check_grad(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0].transpose(2, 3), in[1], Tensor(), {2, 1}, {1, 1});
      },
      {leaf({1, 2, 5, 4}), leaf({2, 2, 3, 3})});
}

TEST_CASE("conv2d: a larger batch split across threads matches the reference") {
  manual_seed(15);
  const ConvCase c{"batch 9", {9, 8, 10, 10}, {16, 4, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 2};
  std::vector<Tensor> in = case_inputs(c);
  for (Tensor& t : in) t = t.detach().to(kFloat32).requires_grad_();
  Shape shape;
  const Tensor out = run_conv(c, in);
  expect_close(values(out), conv_reference(c, in, shape), 1e-4, 1e-4);
  // grad_weight summed over the batch equals the per-sample sum computed one sample at a time
  out.sum().backward();
  Tensor per_sample = zeros(c.w, kFloat32);
  for (int64_t s = 0; s < c.x[0]; ++s) {
    const Tensor xs = in[0].detach().narrow(0, s, 1);
    const Tensor ws = in[1].detach().requires_grad_();
    conv2d(xs, ws, Tensor(), c.stride, c.padding, c.dilation, c.groups).sum().backward();
    per_sample = per_sample + ws.grad();
  }
  expect_close(values(in[1].grad()), values(per_sample), 1e-3, 1e-4);
  expect_close(values(in[2].grad()), std::vector<double>(16, 9.0 * 100.0), 1e-3, 1e-5);
}

// The forward pass and grad_x hand chunks of samples to the threads as they finish; the chunks
// are aligned at fixed samples, so which samples share a GEMM, and so every bit, is the same on
// one thread and on two (4x4 planes: 16 samples per GEMM, a batch of 30 that an even split would
// cut at 15; 12x12: one sample per GEMM; fp32, fp16, and bf16 through gemm_bf16 where it runs).
TEST_CASE("conv2d: output and grad_x have the same bits on 1 and 2 threads") {
  const int before = get_num_threads();
  for (const int64_t plane : {4, 12})
    for (DType dtype : {kFloat32, kFloat16, kBFloat16}) {
      CAPTURE(plane);
      CAPTURE(dtype_name(dtype));
      manual_seed(16);
      const Tensor x0 = randn({30, 8, plane, plane}).to(dtype), w = randn({16, 8, 3, 3}).to(dtype);
      const Tensor g = randn({30, 16, plane, plane}).to(dtype);
      std::vector<double> out[2], grad_x[2];
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        const Tensor x = x0.clone().requires_grad_();
        const Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
        y.backward(g);
        out[threads - 1] = values(y);
        grad_x[threads - 1] = values(x.grad());
      }
      CHECK(out[0] == out[1]);
      CHECK(grad_x[0] == grad_x[1]);
    }
  set_num_threads(before);
}

TEST_CASE("conv2d: bad inputs raise hg::Error naming the op, shapes and dtypes") {
  const Tensor x = randn({1, 4, 5, 5});
  const Tensor w = randn({4, 3, 3, 3});
  expect_error(
      [&] {
        conv2d(randn({4, 5, 5}), w);
      },
      {"conv2d", "4-D", "x [4, 5, 5] float32", "weight [4, 3, 3, 3] float32"});
  expect_error(
      [&] {
        conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, 1}, 2);
      },
      {"conv2d", "groups = 2", "x [1, 4, 5, 5] float32", "weight [4, 3, 3, 3]"});
  expect_error(
      [&] {
        conv2d(x, randn({3, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2);
      },
      {"conv2d", "groups = 2", "weight [3, 2, 3, 3]"});
  expect_error(
      [&] {
        conv2d(randn({1, 1, 2, 2}), randn({1, 1, 5, 5}), Tensor(), {1, 1}, {1, 1});
      },
      {"conv2d", "larger than the padded input", "[1, 1, 2, 2]", "[1, 1, 5, 5]"});
  expect_error(
      [&] {
        conv2d(randn({1, 1, 5, 5}), randn({1, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {3, 3});
      },
      {"conv2d", "larger than the padded input", "dilation (3, 3)"});
  // a 0-wide kernel gave an output larger than the input (the bias alone), as PyTorch refuses
  expect_error(
      [&] {
        conv2d(randn({1, 3, 5, 5}), randn({2, 3, 0, 3}));
      },
      {"conv2d", "kernel size must be at least 1x1", "0x3", "[2, 3, 0, 3]"});
  expect_error(
      [&] {
        conv2d(zeros({1, 3, 5, 5}, kInt64), zeros({2, 3, 3, 3}, kInt64));
      },
      {"conv2d", "floating", "x [1, 3, 5, 5] int64", "int64"});
  expect_error(
      [&] {
        conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}, kFloat64));
      },
      {"conv2d", "dtypes differ", "[1, 3, 5, 5] float32", "[2, 3, 3, 3] float64"});
  expect_error(
      [&] {
        conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}), randn({3}));
      },
      {"conv2d", "bias [3] float32", "weight [2, 3, 3, 3]"});
  expect_error(
      [&] {
        conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}), randn({2}, kFloat16));
      },
      {"conv2d", "dtypes differ", "bias [2] float16"});
  expect_error(
      [&] {
        conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}), Tensor(), {0, 1});
      },
      {"conv2d", "stride (0, 1)", "x [1, 3, 5, 5] float32"});
}

namespace {

// Every 16-bit pattern of dtype T as a [1, 1, 256, 256] tensor.
template <typename T>
Tensor all_patterns(DType dtype) {
  Tensor x = empty({1, 1, 256, 256}, dtype);
  T* p = x.data<T>();
  for (uint32_t i = 0; i < 65536; ++i) p[i] = T::from_bits(static_cast<uint16_t>(i));
  return x;
}

// conv2d with a 1x1 weight w computes round(float(x) * float(w)) per element (one product,
// no sum), so it checks the kernels' bulk widening and rounding against the scalar conversions.
// bf16 on a CPU with AVX-512 BF16 multiplies with vdpbf16ps (kernels/cpu/gemm_bf16.h), which
// flushes subnormal inputs and products to zero: there those elements come out 0.
template <typename T>
void check_roundtrip(DType dtype, float weight) {
  const bool flushes = dtype == kBFloat16 && kernels::cpu::bf16_gemm_enabled();
  const Tensor x = all_patterns<T>(dtype);
  const Tensor w = full({1, 1, 1, 1}, weight, dtype);
  const float wf = static_cast<float>(w.data<T>()[0]);
  const Tensor out = conv2d(x, w);
  const Tensor pooled = max_pool2d(x, {1, 1});
  for (uint32_t i = 0; i < 65536; ++i) {
    const float in = static_cast<float>(x.data<T>()[i]);
    const T expected(in * wf);
    const T got = out.data<T>()[i], same = pooled.data<T>()[i];
    if (std::isnan(in)) {
      CHECK(std::isnan(static_cast<float>(got)));
      CHECK(std::isnan(static_cast<float>(same)));
      continue;
    }
    const bool flushed = flushes && (std::fabs(in) < std::numeric_limits<float>::min() ||
                                     std::fabs(in * wf) < std::numeric_limits<float>::min());
    if (in == 0.0f || flushed) {  // a GEMM sum starts at +0: -0 * w comes out +0
      CHECK(static_cast<float>(got) == 0.0f);
    } else {
      CHECK_MESSAGE(got.bits == expected.bits, "pattern " << i << " times " << wf);
    }
    CHECK_MESSAGE(same.bits == x.data<T>()[i].bits, "pattern " << i << " through max_pool2d");
  }
}

}  // namespace

TEST_CASE("conv2d: fp16/bf16 rounding matches the scalar conversions on every 16-bit pattern") {
  check_roundtrip<Half>(kFloat16, 1.0f);
  check_roundtrip<Half>(kFloat16, 0.3f);
  check_roundtrip<Half>(kFloat16, 3.0f);
  check_roundtrip<BFloat16>(kBFloat16, 1.0f);
  check_roundtrip<BFloat16>(kBFloat16, 0.3f);
  check_roundtrip<BFloat16>(kBFloat16, 3.0f);
}

TEST_CASE("conv2d: under autocast it runs in 16 bits and fp32 leaves get fp32 gradients") {
  manual_seed(16);
  const Tensor x = randn({2, 3, 6, 6}).requires_grad_();
  const Tensor w = (randn({4, 3, 3, 3}) * 0.2).detach().requires_grad_();
  const Tensor b = randn({4}).requires_grad_();
  for (DType dtype : {kFloat16, kBFloat16}) {
    Tensor out;
    {
      amp::AutocastGuard autocast(dtype);
      out = conv2d(x, w, b, {1, 1}, {1, 1});
    }
    CHECK(out.dtype() == dtype);
    const Tensor ref = conv2d(x.detach(), w.detach(), b.detach(), {1, 1}, {1, 1});
    hg::test::expect_close_scaled(values(out), values(ref), dtype == kFloat16 ? 2e-3 : 1e-2,
                                  "autocast forward");
    max_pool2d(out, {2, 2}).sum().backward();
    for (const Tensor& t : {x, w, b}) {
      REQUIRE(t.grad().defined());
      CHECK(t.grad().dtype() == kFloat32);
      t.set_grad(Tensor());
    }
  }
}
