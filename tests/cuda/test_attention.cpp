// The fused attention's CUDA column (kernels/cuda/attention.cu) against the CPU's: outputs and
// input gradients in every floating dtype, with no mask, float and bool masks that broadcast,
// causal, broadcast batch dims, rows longer than a warp and empty ones; that the device takes the
// fused node (also under autocast and in MultiheadAttention); and a fully masked row's NaN.
#include <cmath>
#include <limits>

#include "../test_util.h"
#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

namespace {

bool recorded_fused(const Tensor& out) {
  return hg::test::made_by_node(out, "ScaledDotProductAttentionBackward");
}

// check_op over q, k, v of the given shapes, with a mask (on the CPU; moved to the inputs'
// device) that is not an input, so it wants no gradient and the fused path runs on both sides.
void check_attention(const std::string& name, const Shape& q, const Shape& k, const Shape& v,
                     DType dtype, const Tensor& mask, bool causal) {
  const Inputs in{cuda_test::input(q, dtype, 70), cuda_test::input(k, dtype, 71),
                  cuda_test::input(v, dtype, 72)};
  cuda_test::check_op(
      name + " " + std::string(dtype_name(dtype)), in,
      [&](const Inputs& x) {
        const Tensor m = mask.defined() ? mask.to(x[0].device()) : Tensor();
        const Tensor out = scaled_dot_product_attention(x[0], x[1], x[2], m, 0.0, causal);
        CHECK_MESSAGE(recorded_fused(out),
                      name << " did not take the fused kernel on " << x[0].device().str());
        return out;
      },
      Kind::Gemm);
}

}  // namespace

TEST_CASE("cuda fused attention: the CPU's outputs and gradients, every dtype and mask") {
  HG_REQUIRE_CUDA();
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor float_mask = cuda_test::input({5, 7}, kFloat32, 73);
  const Tensor keep = gt(cuda_test::input({5, 7}, kFloat32, 74), full({}, -1.0));
  const Tensor padding = where(gt(cuda_test::input({2, 1, 1, 7}, kFloat32, 75), full({}, 1.2)),
                               full({}, -inf), zeros({}));
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Shape q{2, 3, 5, 8}, k{2, 3, 7, 8}, v{2, 3, 7, 4};
    check_attention("attention", q, k, v, dtype, Tensor(), false);
    check_attention("attention, float mask", q, k, v, dtype, float_mask.to(dtype), false);
    check_attention("attention, bool mask", q, k, v, dtype, keep, false);
    check_attention("attention, padding mask", q, k, v, dtype, padding, false);
    check_attention("causal attention", {2, 3, 7, 8}, k, v, dtype, Tensor(), true);
    check_attention("shared keys", q, {2, 1, 7, 8}, {1, 7, 4}, dtype, keep, false);
    // 70 keys: each lane of a row's warp takes 2 or 3; no batch dims
    check_attention("long rows", {6, 3}, {70, 3}, {70, 5}, dtype, Tensor(), true);
  }
}

TEST_CASE("cuda fused attention: no keys, no queries, a fully masked row") {
  HG_REQUIRE_CUDA();
  // no keys: zeros and zero gradients, as the CPU's (an empty product of the inner dim)
  check_attention("no keys", {2, 3, 4}, {2, 0, 4}, {2, 0, 5}, kFloat32, Tensor(), false);
  check_attention("no queries", {2, 0, 4}, {2, 3, 4}, {2, 3, 5}, kBFloat16, Tensor(), false);
  const Tensor q = cuda_test::input({2, 4, 8}, kFloat32, 76).to(kCUDA);
  const Tensor kv = cuda_test::input({2, 6, 8}, kFloat32, 77).to(kCUDA);
  Tensor none = ones({4, 6}, kBool);
  none.narrow(0, 1, 1).fill_(0.0);  // query 1 sees no key
  const Tensor out = scaled_dot_product_attention(q, kv, kv, none.to(kCUDA)).to(kCPU);
  CHECK(std::isnan(out.select(1, 1).sum().item<double>()));
  CHECK(std::isfinite(out.select(1, 0).sum().item<double>()));
}

TEST_CASE("cuda fused attention: under autocast and in MultiheadAttention, the CPU's results") {
  HG_REQUIRE_CUDA();
  const Tensor q = cuda_test::input({2, 4, 6, 16}, kFloat32, 78);
  const Tensor kv = cuda_test::input({2, 4, 9, 16}, kFloat32, 79);
  const auto autocast_run = [&](Device device) {
    const Tensor qd = q.to(device).detach().requires_grad_();
    const Tensor kvd = kv.to(device).detach().requires_grad_();
    amp::AutocastGuard autocast(kFloat16);
    const Tensor out = scaled_dot_product_attention(qd, kvd, kvd, Tensor(), 0.0, true);
    CHECK(out.dtype() == kFloat16);
    CHECK(recorded_fused(out));
    out.to(kFloat32).square().sum().backward();
    return std::vector<Tensor>{out, qd.grad(), kvd.grad()};
  };
  const std::vector<Tensor> cpu = autocast_run(kCPU), gpu = autocast_run(kCUDA);
  for (size_t i = 0; i < cpu.size(); ++i)
    cuda_test::check_same("autocast attention, result " + std::to_string(i), gpu[i], cpu[i],
                          Kind::Gemm);

  manual_seed(80);
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions(16, 4).batch_first(true));
  const Tensor x = cuda_test::input({3, 5, 16}, kFloat32, 81);
  Tensor padding = zeros({3, 5}, kBool);
  padding.narrow(1, 3, 2).fill_(1.0);  // the last two positions are padding
  const auto mha_run = [&](Device device) {
    mha.to(device);
    for (const Tensor& p : mha.parameters()) p.set_grad(Tensor());
    const Tensor xd = x.to(device);
    const Tensor y = std::get<0>(mha.forward(xd, xd, xd, padding.to(device), false));
    y.square().sum().backward();
    std::vector<Tensor> results{y.to(kCPU)};
    for (const Tensor& p : mha.parameters()) results.push_back(p.grad().to(kCPU));
    return results;
  };
  const std::vector<Tensor> mha_cpu = mha_run(kCPU), mha_gpu = mha_run(kCUDA);
  for (size_t i = 0; i < mha_cpu.size(); ++i)
    cuda_test::check_same("MultiheadAttention, result " + std::to_string(i), mha_gpu[i], mha_cpu[i],
                          Kind::Gemm);
}
