// kernels/cuda/multi_tensor.cu and kernels/cuda/fused_optim.cu run by the CUDA emulator against
// the CPU kernels: the multi-tensor lists (chunks of 48, runs of equal dtypes, empty tensors, the
// grid's y per tensor), the casts, the unscale's block-wide OR, the optimizers' element updates.
// The emulated device code is compiled without multiply-add contraction, as the CUDA build
// compiles fused_optim.cu (-fmad=false), so every result is the CPU's bit for bit.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "emu.h"
#include "kernels/amp_kernels.h"
#include "kernels/cuda/cuda_amp_kernels.h"
#include "kernels/tensor_bridge.h"
#include "test_util.h"

using namespace hg;
using hg::kernels::TensorView;
using hg::kernels::view_of;
namespace emu_kernels = hg::kernels::cuda;

namespace {

constexpr hg_emu::ThreadOrder kOrders[] = {hg_emu::ThreadOrder::Forward,
                                           hg_emu::ThreadOrder::Reverse};

std::vector<TensorView> views(const std::vector<Tensor>& tensors) {
  std::vector<TensorView> out;
  for (const Tensor& t : tensors) out.push_back(view_of(t));
  return out;
}
void expect_same_bits(const std::vector<Tensor>& emulated, const std::vector<Tensor>& cpu,
                      const char* what) {
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(what);
    CAPTURE(i);
    CHECK(hg::test::same_bits(emulated[i], cpu[i]));
  }
}

}  // namespace

TEST_CASE("cast_tensors: 60 tensors in two lists, NaN, infinities and overflow, bit for bit") {
  manual_seed(51);
  const std::pair<DType, DType> pairs[] = {
      {kFloat32, kFloat16}, {kFloat32, kBFloat16}, {kFloat16, kFloat32}, {kBFloat16, kFloat32}};
  std::vector<Tensor> in, out_cpu, out_emu;
  for (int i = 0; i < 60; ++i) {
    const auto [from, to] = pairs[i % 4];
    Tensor v = randn({29 * i}) * 3e4;  // the first is empty; fp16 overflows past 65504
    if (v.numel() > 2) {
      v.narrow(0, 0, 1).fill_(std::numeric_limits<float>::quiet_NaN());
      v.narrow(0, 1, 1).fill_(-std::numeric_limits<float>::infinity());
    }
    in.push_back(v.to(from));
    out_cpu.push_back(empty(v.sizes(), TensorOptions(to)));
    out_emu.push_back(empty(v.sizes(), TensorOptions(to)));
  }
  const std::vector<TensorView> ins = views(in), cpu = views(out_cpu), emu = views(out_emu);
  kernels::cast_tensors(kCPU)(ins.data(), cpu.data(), 60);
  for (hg_emu::ThreadOrder order : kOrders) {
    hg_emu::set_thread_order(order);
    emu_kernels::cast_tensors(ins.data(), emu.data(), 60);
    expect_same_bits(out_emu, out_cpu, "cast_tensors");
  }
}

TEST_CASE("unscale_grads: 60 tensors of every dtype, one non-finite value sets found_inf") {
  manual_seed(52);
  const DType dtypes[] = {kFloat32, kFloat16, kBFloat16, kFloat64};
  std::vector<Tensor> in, out_cpu, out_emu;
  for (int i = 0; i < 60; ++i) {
    const DType dtype = dtypes[i % 4];
    in.push_back((randn({1 + 41 * i}) * 1000.0).to(dtype));
    const DType out_dtype = dtype == kFloat64 ? kFloat64 : kFloat32;
    out_cpu.push_back(empty({1 + 41 * i}, TensorOptions(out_dtype)));
    out_emu.push_back(empty({1 + 41 * i}, TensorOptions(out_dtype)));
  }
  const Tensor inv = full({1}, 1.0 / 3000.0);
  for (const bool poisoned : {false, true}) {
    if (poisoned) in[37].narrow(0, 700, 1).fill_(std::numeric_limits<float>::infinity());
    const std::vector<TensorView> ins = views(in), cpu = views(out_cpu), emu = views(out_emu);
    const Tensor found_cpu = zeros({1});
    kernels::unscale_grads(kCPU)(ins.data(), cpu.data(), 60, view_of(inv), view_of(found_cpu));
    for (hg_emu::ThreadOrder order : kOrders) {
      hg_emu::set_thread_order(order);
      const Tensor found_emu = zeros({1});
      emu_kernels::unscale_grads(ins.data(), emu.data(), 60, view_of(inv), view_of(found_emu));
      expect_same_bits(out_emu, out_cpu, "unscale_grads");
      CHECK(found_emu.item<float>() == found_cpu.item<float>());
      CHECK(found_emu.item<float>() == (poisoned ? 1.0f : 0.0f));
    }
  }
}

namespace {

// 100 parameters for one fused call: 60 alike (lists of 48 + 12), then runs of 7 with other
// (weight, gradient) dtypes, empty tensors, optional state and 16-bit copies, first steps mixed.
// [0]: for the CPU kernel, [1]: for the emulated one.
struct MixedParams {
  struct Kind {
    DType weight, grad;
    bool out, state;
  };
  std::vector<Tensor> w[2], g, m[2], v[2], vmax[2], out[2];
  std::vector<Kind> kinds;

  MixedParams() {
    manual_seed(53);
    const Kind k5[] = {{kFloat32, kFloat32, false, true},
                       {kFloat32, kFloat16, true, true},
                       {kFloat32, kBFloat16, true, false},
                       {kFloat64, kFloat64, false, true},
                       {kBFloat16, kBFloat16, false, true}};
    for (int i = 0; i < 100; ++i) {
      const Kind& k = i < 60 ? k5[0] : k5[(i / 7) % 5];
      kinds.push_back(k);
      const int64_t n = i % 13 == 0 ? 0 : 1 + 37 * i;
      const DType compute = k.weight == kFloat64 ? kFloat64 : kFloat32;
      const Tensor w0 = randn({n}).to(k.weight), m0 = randn({n}).to(compute);
      const Tensor v0 = randn({n}).abs().to(compute);
      g.push_back(randn({n}).to(k.grad));
      for (int d = 0; d < 2; ++d) {
        w[d].push_back(w0.clone());
        m[d].push_back(m0.clone());
        v[d].push_back(v0.clone());
        vmax[d].push_back(v0 * 1.5);
        out[d].push_back(zeros({n}, TensorOptions(k.grad)));
      }
    }
  }
  TensorView state_of(const std::vector<Tensor>& t, size_t i) const {
    return kinds[i].state ? view_of(t[i]) : TensorView{};
  }
  TensorView out_of(int d, size_t i) const {
    return kinds[i].out ? view_of(out[d][i]) : TensorView{};
  }
  void expect_same(const char* what) const {
    expect_same_bits(w[1], w[0], what);
    expect_same_bits(m[1], m[0], what);
    expect_same_bits(v[1], v[0], what);
    expect_same_bits(vmax[1], vmax[0], what);
    expect_same_bits(out[1], out[0], what);
  }
};

}  // namespace

TEST_CASE("fused_sgd: 100 tensors of mixed dtypes, gated by found_inf and scaled, bit for bit") {
  for (hg_emu::ThreadOrder order : kOrders) {
    hg_emu::set_thread_order(order);
    MixedParams mp;
    kernels::FusedSgdParams p;
    p.lr = 0.1, p.momentum = 0.9, p.weight_decay = 1e-2, p.nesterov = true;
    const Tensor inv_scale = full({1}, 0.25), found_inf = zeros({1});
    const TensorView inv_view = view_of(inv_scale), found_view = view_of(found_inf);
    kernels::FusedStepInputs inputs;
    inputs.inv_scale = &inv_view, inputs.found_inf = &found_view;
    for (int d = 0; d < 2; ++d) {
      std::vector<kernels::FusedSgdTensor> list;
      for (size_t i = 0; i < 100; ++i)
        list.push_back({view_of(mp.w[d][i]), view_of(mp.g[i]), mp.state_of(mp.m[d], i),
                        mp.out_of(d, i), i % 3 == 0});
      if (d == 0)
        kernels::fused_sgd(kCPU)(list.data(), 100, inputs, 1.0, p);
      else
        emu_kernels::fused_sgd(list.data(), 100, inputs, 1.0, p);
    }
    mp.expect_same("fused_sgd");
  }
}

TEST_CASE("fused_adam: 100 tensors of mixed dtypes, Adam with amsgrad and AdamW, bit for bit") {
  for (const bool decoupled : {true, false}) {
    hg_emu::set_thread_order(decoupled ? hg_emu::ThreadOrder::Forward
                                       : hg_emu::ThreadOrder::Reverse);
    MixedParams mp;
    kernels::FusedAdamParams p;
    p.lr = 1e-2, p.weight_decay = 0.05, p.decoupled = decoupled, p.step = 3;
    p.amsgrad = !decoupled;
    for (int d = 0; d < 2; ++d) {
      std::vector<kernels::FusedAdamTensor> list;
      for (size_t i = 0; i < 100; ++i)
        list.push_back({view_of(mp.w[d][i]), view_of(mp.g[i]), view_of(mp.m[d][i]),
                        view_of(mp.v[d][i]), p.amsgrad ? view_of(mp.vmax[d][i]) : TensorView{},
                        mp.out_of(d, i)});
      if (d == 0)
        kernels::fused_adam(kCPU)(list.data(), 100, {}, 0.5, p);
      else
        emu_kernels::fused_adam(list.data(), 100, {}, 0.5, p);
    }
    mp.expect_same(decoupled ? "fused_adam (AdamW)" : "fused_adam (Adam, amsgrad)");
  }
}

TEST_CASE("scale_update: the one-thread kernel follows the CPU's loss-scale state step by step") {
  kernels::ScaleUpdateParams params;
  params.growth_interval = 2, params.hysteresis = 2, params.backoff_factor = 0.5;
  params.min_scale = 1.0, params.max_scale = 1e6;
  const Tensor state_cpu = from_vector<double>({4096.0, 0, 0, 0}, {4}, kFloat64);
  const Tensor state_emu = state_cpu.clone(), inv_cpu = zeros({1}), inv_emu = zeros({1});
  for (bool inf : {false, false, true, true, true, false, false, false, true, false}) {
    const Tensor found_cpu = full({1}, inf ? 1.0 : 0.0), found_emu = found_cpu.clone();
    kernels::scale_update(kCPU)(view_of(state_cpu), view_of(found_cpu), view_of(inv_cpu), params);
    emu_kernels::scale_update(view_of(state_emu), view_of(found_emu), view_of(inv_emu), params);
    CHECK(state_emu.to_vector<double>() == state_cpu.to_vector<double>());
    CHECK(inv_emu.item<float>() == inv_cpu.item<float>());
    CHECK(found_emu.item<float>() == 0.0f);
  }
}
