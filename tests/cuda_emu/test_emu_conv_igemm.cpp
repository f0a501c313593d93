// The implicit-GEMM convolution (kernels/cuda/conv_igemm.cu, conv_igemm_wgrad.cu) run whole by
// the CUDA emulator: the two-stage shared-memory pipeline, its barriers, the WMMA fragments'
// addresses and leading dimensions (checked against the API's alignment rules), the staging of
// results, the split-K slices and their sum. tests/kernels/test_conv_igemm_tiles.cpp checks the
// index functions alone; this runs the kernels that use them. Reference: the CPU's conv2d in
// float64 on the same 16-bit inputs; the kernels accumulate in float and round once, so each
// result is within about one 16-bit ulp of it.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "emu.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/kernels/cuda/conv_igemm.h"
#include "test_util.h"

using namespace hg;
namespace ig = hg::cuda::igemm;

namespace {

struct ConvCase {
  const char* name;
  int64_t n, cin, h, w, cout, groups, stride, padding, dilation;
  bool bias;
};

ig::ConvDims dims_of(const ConvCase& c) {
  const int64_t extent = c.dilation * 2 + 1;
  const int64_t ho = (c.h + 2 * c.padding - extent) / c.stride + 1;
  const int64_t wo = (c.w + 2 * c.padding - extent) / c.stride + 1;
  return {c.n, c.cin, c.h,      c.w,      c.cout,    c.groups,  3,          3,
          ho,  wo,    c.stride, c.stride, c.padding, c.padding, c.dilation, c.dilation};
}

template <typename T>
const T* device_ptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}
template <typename T>
T* device_ptr_mut(Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// |emulated - reference| within ~1 ulp of the 16-bit result, plus float accumulation noise.
void expect_within_ulp(const Tensor& emulated, const Tensor& reference, DType dtype,
                       const std::string& what) {
  const double ulp = dtype == kFloat16 ? 0x1p-10 : 0x1p-7;
  const std::vector<double> got = emulated.to_vector<double>(),
                            want = reference.to_vector<double>();
  REQUIRE(got.size() == want.size());
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= ulp * std::abs(want[i]) + 1e-3)) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " results off, first at "
                               << first << ": " << (first >= 0 ? got[first] : 0.0) << " vs "
                               << (first >= 0 ? want[first] : 0.0));
}

struct Operands {
  Tensor x, w, bias;        // 16-bit, as the kernels read them, in (emulated) device memory
  Tensor x64, w64, bias64;  // the same values in float64, on the CPU
};
Operands make_operands(const ConvCase& c, DType dtype) {
  Operands o;
  const Tensor x = randn({c.n, c.cin, c.h, c.w}).to(dtype);
  const Tensor w = (randn({c.cout, c.cin / c.groups, 3, 3}) * 0.2).to(dtype);
  o.x = x.to(kCUDA), o.w = w.to(kCUDA);
  o.x64 = x.to(kFloat64), o.w64 = w.to(kFloat64);
  if (c.bias) {
    const Tensor bias = randn({c.cout}).to(dtype);
    o.bias = bias.to(kCUDA), o.bias64 = bias.to(kFloat64);
  }
  return o;
}

template <typename T>
void check_forward(const ConvCase& c, DType dtype) {
  const Operands o = make_operands(c, dtype);
  const ig::ConvDims d = dims_of(c);
  REQUIRE(ig::supported(d));
  Tensor out = full({c.n, c.cout, d.ho, d.wo}, 7.0).to(dtype).to(kCUDA);  // all to be written
  ig::conv_forward<T>(d, device_ptr<T>(o.x), device_ptr<T>(o.w), device_ptr<T>(o.bias),
                      device_ptr_mut<T>(out));
  const Tensor reference = conv2d(o.x64, o.w64, o.bias64, {c.stride, c.stride},
                                  {c.padding, c.padding}, {c.dilation, c.dilation}, c.groups);
  expect_within_ulp(out, reference, dtype, std::string(c.name) + " forward");
}

template <typename T>
void check_weight_grad(const ConvCase& c, DType dtype) {
  const Operands o = make_operands(c, dtype);
  const ig::ConvDims d = dims_of(c);
  const Tensor grad_out = randn({c.n, c.cout, d.ho, d.wo}).to(dtype);
  const Tensor grad_out_device = grad_out.to(kCUDA);
  Tensor grad_weight = full({c.cout, c.cin / c.groups, 3, 3}, 7.0).to(dtype).to(kCUDA);
  ig::weight_grad<T>(d, device_ptr<T>(o.x), device_ptr<T>(grad_out_device),
                     device_ptr_mut<T>(grad_weight));
  const Tensor w64 = o.w64.clone().requires_grad_();
  const Tensor y = conv2d(o.x64, w64, Tensor(), {c.stride, c.stride}, {c.padding, c.padding},
                          {c.dilation, c.dilation}, c.groups);
  sum(y * grad_out.to(kFloat64)).backward();
  expect_within_ulp(grad_weight, w64.grad(), dtype, std::string(c.name) + " weight gradient");
}

const ConvCase kCases[] = {
    // ResNet-9's shape of layer: 16-byte weight runs (kg = 576), one tile of pixels
    {"64 -> 128 channels, 8x8, bias", 2, 64, 8, 8, 128, 1, 1, 1, 1, true},
    // the first layer's 3 input channels: kg = 27, weights one by one, a partial stage
    {"3 -> 64 channels, 10x10", 2, 3, 10, 10, 64, 1, 1, 1, 1, false},
    // two channel tiles (130 > 128), stride, dilation, padding past the kernel, odd sizes
    {"16 -> 130 channels, 9x7, stride 2, dilation 2, padding 2", 3, 16, 9, 7, 130, 1, 2, 2, 2,
     true},
    {"2 groups of 16 -> 24 channels, 6x6, bias", 2, 32, 6, 6, 48, 2, 1, 1, 1, true},
    // 400 pixels: four pixel tiles, the last partial; no padding
    {"8 -> 16 channels, 12x12, no padding", 4, 8, 12, 12, 16, 1, 1, 0, 1, false},
    // 2048 pixels: sixteen pixel tiles forward, eight split-K slices for the weight gradient
    {"8 -> 16 channels, 16x16, batch 8", 8, 8, 16, 16, 16, 1, 1, 1, 1, false},
};

}  // namespace

TEST_CASE("implicit-GEMM conv forward (fp16) matches the CPU in every shape family") {
  manual_seed(61);
  for (const ConvCase& c : kCases) {
    CAPTURE(c.name);
    check_forward<__half>(c, kFloat16);
  }
}

TEST_CASE("implicit-GEMM conv forward: bf16, and threads in reverse order between barriers") {
  manual_seed(62);
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Reverse);
  for (const ConvCase& c : {kCases[0], kCases[1], kCases[3]}) {
    CAPTURE(c.name);
    check_forward<__nv_bfloat16>(c, kBFloat16);
    check_forward<__half>(c, kFloat16);
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Alternate);
}

TEST_CASE("implicit-GEMM conv weight gradient matches the CPU, in one slice and in eight") {
  // The launcher reads the SM count once per process; with an H200's 132, the last case's
  // 2048 pixels (64 stages) split into 8 slices, the others fit one.
  hg_emu::set_sm_count(132);
  manual_seed(63);
  for (const ConvCase& c : kCases) {
    CAPTURE(c.name);
    check_weight_grad<__half>(c, kFloat16);
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Reverse);
  for (const ConvCase& c : {kCases[1], kCases[5]}) {
    CAPTURE(c.name);
    check_weight_grad<__half>(c, kFloat16);
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Alternate);
  check_weight_grad<__nv_bfloat16>(kCases[0], kBFloat16);
}
