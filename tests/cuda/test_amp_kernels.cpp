// CPU-vs-CUDA parity of the AMP and fused-optimizer kernels (kernels/cuda/multi_tensor.cu,
// kernels/cuda/fused_optim.cu) and of the optimizers and GradScaler that use them on CUDA
// tensors. The unscale and the scale update are exact on both sides; the fused steps agree to
// the dtype's tolerance (the device may fuse multiply-adds). Skipped without a CUDA device.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "cuda_test_util.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

using namespace hg;
using hg::kernels::view_of;
using hg::test::expect_parity;

namespace {
Tensor on(const Tensor& t, Device d) { return t.to(d); }
}  // namespace

TEST_CASE("cuda unscale_grads: 60 tensors of every dtype in chunked launches, exact") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(41);
  const DType dtypes[] = {kFloat32, kFloat16, kBFloat16, kFloat64};
  std::vector<Tensor> cpu_in, cpu_out, dev_in, dev_out;
  for (int i = 0; i < 60; ++i) {
    const DType dtype = dtypes[i % 4];
    const Tensor g = (randn({1 + 37 * i}) * 1000.0).to(dtype);
    cpu_in.push_back(g.clone());
    dev_in.push_back(g.to(kCUDA));
    const bool low = is_low_precision(dtype);
    cpu_out.push_back(low ? empty(g.sizes()) : cpu_in.back());
    dev_out.push_back(low ? empty(g.sizes(), TensorOptions(kFloat32).device(kCUDA))
                          : dev_in.back());
  }
  auto run = [](std::vector<Tensor>& in, std::vector<Tensor>& out, Device d, float poison) {
    std::vector<kernels::TensorView> iv, ov;
    if (poison != 0.0f) in[17].fill_(poison);
    for (size_t i = 0; i < in.size(); ++i)
      iv.push_back(view_of(in[i])), ov.push_back(view_of(out[i]));
    const Tensor inv = full({1}, 1.0 / 3000.0, TensorOptions(kFloat32).device(d));
    const Tensor found = zeros({1}, TensorOptions(kFloat32).device(d));
    kernels::unscale_grads(d)(iv.data(), ov.data(), static_cast<int64_t>(iv.size()), view_of(inv),
                              view_of(found));
    return found.to(kCPU).item<float>();
  };
  CHECK(run(cpu_in, cpu_out, kCPU, 0.0f) == 0.0f);
  CHECK(run(dev_in, dev_out, kCUDA, 0.0f) == 0.0f);
  for (size_t i = 0; i < cpu_out.size(); ++i)
    CHECK(dev_out[i].to(kCPU).to(kFloat64).to_vector<double>() ==
          cpu_out[i].to(kFloat64).to_vector<double>());
  CHECK(run(dev_in, dev_out, kCUDA, std::numeric_limits<float>::infinity()) == 1.0f);
}

// Tensor::to's conversions, 60 tensors in two launches (48 + 12), NaN payloads, infinities and
// fp16 overflow included: bit for bit the CPU's.
TEST_CASE("cuda cast_tensors: 60 tensors between float32, float16 and bfloat16, exact") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(43);
  const std::pair<DType, DType> pairs[] = {
      {kFloat32, kFloat16}, {kFloat32, kBFloat16}, {kFloat16, kFloat32}, {kBFloat16, kFloat32}};
  std::vector<Tensor> cpu_in, cpu_out, dev_in, dev_out;
  for (int i = 0; i < 60; ++i) {
    const auto [from, to] = pairs[i % 4];
    Tensor v = randn({37 * i}) * 3e4;  // (the first is empty) fp16 overflows past 65504
    if (v.numel() > 2) {
      v.narrow(0, 0, 1).fill_(std::numeric_limits<float>::quiet_NaN());
      v.narrow(0, 1, 1).fill_(-std::numeric_limits<float>::infinity());
    }
    cpu_in.push_back(v.to(from));
    dev_in.push_back(cpu_in.back().to(kCUDA));
    cpu_out.push_back(empty(v.sizes(), TensorOptions(to)));
    dev_out.push_back(empty(v.sizes(), TensorOptions(to).device(kCUDA)));
  }
  auto run = [](const std::vector<Tensor>& in, const std::vector<Tensor>& out, Device d) {
    std::vector<kernels::TensorView> iv, ov;
    for (size_t i = 0; i < in.size(); ++i) {
      iv.push_back(view_of(in[i]));
      ov.push_back(view_of(out[i]));
    }
    kernels::cast_tensors(d)(iv.data(), ov.data(), static_cast<int64_t>(in.size()));
  };
  run(cpu_in, cpu_out, kCPU);
  run(dev_in, dev_out, kCUDA);
  for (size_t i = 0; i < cpu_out.size(); ++i) {
    CHECK(hg::test::same_bits(dev_out[i].to(kCPU), cpu_out[i]));
    CHECK(hg::test::same_bits(cpu_out[i], cpu_in[i].to(cpu_out[i].dtype())));  // Tensor::to's
  }  // what it does not cast is the CPU column's hg::Error
  const Tensor wide = zeros({3}, TensorOptions(kFloat64).device(kCUDA));
  const Tensor narrow = zeros({3}, TensorOptions(kFloat16).device(kCUDA));
  const kernels::TensorView ins[] = {view_of(wide)}, outs[] = {view_of(narrow)};
  hg::test::expect_error([&] { kernels::cast_tensors(kCUDA)(ins, outs, 1); },
                         {"cast_tensors", "float64 -> float16"});
}

// amp::cache_weight_casts on the device: one launch each way, the same bits as one by one.
TEST_CASE("cuda cache_weight_casts: a step's gradients are those of the casts one by one") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : {kFloat16, kBFloat16}) {
    std::vector<std::vector<Tensor>> grads;
    for (bool together : {true, false}) {
      manual_seed(44);
      const Tensor w1 = randn({16, 8}).to(kCUDA).requires_grad_();
      const Tensor b1 = randn({16}).to(kCUDA).requires_grad_();
      const Tensor w2 = randn({4, 16}).to(kCUDA).requires_grad_();
      const Tensor x = randn({5, 8}).to(kCUDA);
      Tensor loss;
      {
        amp::AutocastGuard region(dtype);
        if (together) amp::cache_weight_casts({w1, b1, w2});
        loss = sum(linear(relu(linear(x, w1, b1)), w2));
      }
      loss.backward();
      grads.push_back({w1.grad(), b1.grad(), w2.grad()});
    }
    for (size_t i = 0; i < 3; ++i)
      CHECK(hg::test::same_bits(grads[0][i].to(kCPU), grads[1][i].to(kCPU)));
  }
}

namespace {

// 100 parameters for one fused_sgd / fused_adam call, on the CPU [0] and the device [1]: a run of
// 60 alike (two launches: 48 + 12), then runs of 7 with other (weight, gradient) dtypes; masters
// with 16-bit copies, optional state (momentum, amsgrad's maximum) and first steps mixed.
struct MixedParams {
  struct Kind {
    DType weight, grad;
    bool out, state;
  };
  std::vector<Tensor> w[2], g[2], m[2], v[2], vmax[2], out[2];
  std::vector<Kind> kinds;

  MixedParams() {
    manual_seed(43);
    const Kind k5[] = {{kFloat32, kFloat32, false, true},
                       {kFloat32, kFloat16, true, true},
                       {kFloat32, kBFloat16, true, false},
                       {kFloat64, kFloat64, false, true},
                       {kFloat16, kFloat16, false, true}};
    for (int i = 0; i < 100; ++i) {
      const Kind& k = i < 60 ? k5[0] : k5[(i / 7) % 5];
      kinds.push_back(k);
      const int64_t n = i % 13 == 0 ? 0 : 1 + 53 * i;
      const Tensor w0 = randn({n}).to(k.weight), g0 = randn({n}).to(k.grad);
      const DType compute = k.weight == kFloat64 ? kFloat64 : kFloat32;
      const Tensor m0 = randn({n}).to(compute), v0 = randn({n}).abs().to(compute);
      for (int d = 0; d < 2; ++d) {
        const Device dev = d == 0 ? kCPU : kCUDA;
        w[d].push_back(w0.to(dev).clone());
        g[d].push_back(g0.to(dev));
        m[d].push_back(m0.to(dev).clone());
        v[d].push_back(v0.to(dev).clone());
        vmax[d].push_back((v0 * 1.5).to(dev));
        out[d].push_back(zeros({n}, TensorOptions(k.grad).device(dev)));
      }
    }
  }
  kernels::TensorView state_of(const std::vector<Tensor>& t, int i) const {
    return kinds[i].state ? view_of(t[i]) : kernels::TensorView{};
  }
  kernels::TensorView out_of(int d, int i) const {
    return kinds[i].out ? view_of(out[d][i]) : kernels::TensorView{};
  }
  void expect_parity_all(const char* what) const {
    for (int i = 0; i < 100; ++i) {
      CAPTURE(i);
      CAPTURE(what);
      expect_parity(w[1][i], w[0][i], w[0][i].dtype(), "weight");
      expect_parity(m[1][i], m[0][i], m[0][i].dtype(), "state m");
      expect_parity(v[1][i], v[0][i], v[0][i].dtype(), "state v");
      expect_parity(vmax[1][i], vmax[0][i], vmax[0][i].dtype(), "state vmax");
      expect_parity(out[1][i], out[0][i], out[0][i].dtype(), "16-bit copy");
    }
  }
};

}  // namespace

TEST_CASE("cuda fused_sgd: 100 tensors of mixed dtypes in multi-tensor launches match the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  MixedParams mp;
  kernels::FusedSgdParams p;
  p.lr = 0.1, p.momentum = 0.9, p.weight_decay = 1e-2, p.nesterov = true;
  for (int d = 0; d < 2; ++d) {
    std::vector<kernels::FusedSgdTensor> list;
    for (int i = 0; i < 100; ++i)
      list.push_back({view_of(mp.w[d][i]), view_of(mp.g[d][i]), mp.state_of(mp.m[d], i),
                      mp.out_of(d, i), i % 3 == 0});
    kernels::fused_sgd(d == 0 ? kCPU : kCUDA)(list.data(), 100, {}, 0.5, p);
  }
  mp.expect_parity_all("fused_sgd");
}

TEST_CASE("cuda fused_sgd counts a step into count_applied once a call, as the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  MixedParams mp;  // 100 tensors: seven launches, only the first counts
  kernels::FusedSgdParams p;
  p.lr = 0.1, p.momentum = 0.9;
  for (int d = 0; d < 2; ++d) {
    const TensorOptions f32 = TensorOptions(kFloat32).device(d == 0 ? kCPU : kCUDA);
    Tensor found = zeros({1}, f32), applied = full({1}, 3.0, f32);
    const kernels::TensorView fv = view_of(found), av = view_of(applied);
    kernels::FusedStepInputs in;
    in.found_inf = &fv, in.count_applied = &av;
    std::vector<kernels::FusedSgdTensor> list;
    for (int i = 0; i < 100; ++i)
      list.push_back({view_of(mp.w[d][i]), view_of(mp.g[d][i]), mp.state_of(mp.m[d], i),
                      mp.out_of(d, i), false});
    const auto step = kernels::fused_sgd(d == 0 ? kCPU : kCUDA);
    step(list.data(), 100, in, 1.0, p);
    found.fill_(1.0);
    step(list.data(), 100, in, 1.0, p);  // skipped, counted as 0
    found.fill_(0.0);
    step(list.data(), 0, in, 1.0, p);  // no tensors: a launch anyway, to count
    step(list.data(), 3, in, 1.0, p);  // tensor 0 has no elements (a launch of one x block)
    CAPTURE(d);
    CHECK(applied.to(kCPU).item<float>() == 6.0f);
  }
  mp.expect_parity_all("fused_sgd counting");
}

TEST_CASE("cuda fused_adam: 100 tensors of mixed dtypes in multi-tensor launches match the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  for (const bool decoupled : {true, false}) {
    MixedParams mp;
    kernels::FusedAdamParams p;
    p.lr = 1e-2, p.weight_decay = 0.05, p.decoupled = decoupled, p.step = 3;
    for (int d = 0; d < 2; ++d) {
      std::vector<kernels::FusedAdamTensor> list;
      for (int i = 0; i < 100; ++i)
        list.push_back({view_of(mp.w[d][i]), view_of(mp.g[d][i]), view_of(mp.m[d][i]),
                        view_of(mp.v[d][i]), mp.state_of(mp.vmax[d], i), mp.out_of(d, i)});
      kernels::fused_adam(d == 0 ? kCPU : kCUDA)(list.data(), 100, {}, 0.5, p);
    }
    mp.expect_parity_all(decoupled ? "fused_adam (AdamW)" : "fused_adam (Adam)");
  }
}

TEST_CASE("cuda scale_update: the device state follows the CPU family step for step") {
  if (!hg::test::cuda_or_skip()) return;
  kernels::ScaleUpdateParams params;
  params.growth_interval = 2, params.hysteresis = 2, params.growth_factor = 2.0;
  params.backoff_factor = 0.5, params.min_scale = 1.0, params.max_scale = 1e6;
  Tensor state = from_vector<double>({4096.0, 0, 0, 0}, {4}, kFloat64);
  Tensor state_dev = state.to(kCUDA);
  const TensorOptions on_device = TensorOptions(kFloat32).device(kCUDA);
  const Tensor inv = zeros({1}), inv_dev = zeros({1}, on_device);
  const Tensor scale = zeros({1}), scale_dev = zeros({1}, on_device);
  for (bool inf : {false, false, true, true, true, false, false, false, true, false}) {
    const Tensor found = full({1}, inf ? 1.0 : 0.0), found_dev = found.to(kCUDA);
    kernels::scale_update(kCPU)(view_of(state), view_of(found), view_of(inv), view_of(scale),
                                params);
    kernels::scale_update(kCUDA)(view_of(state_dev), view_of(found_dev), view_of(inv_dev),
                                 view_of(scale_dev), params);
    CHECK(state_dev.to(kCPU).to_vector<double>() == state.to_vector<double>());
    CHECK(inv_dev.to(kCPU).item<float>() == inv.item<float>());
    CHECK(scale_dev.to(kCPU).item<float>() == scale.item<float>());
    CHECK(scale.item<float>() == static_cast<float>(state.to_vector<double>()[0]));
    CHECK(found_dev.to(kCPU).item<float>() == 0.0f);
  }
}

TEST_CASE("cuda fused_sgd / fused_adam match the CPU family: masters, skip, lr from memory") {
  // fused_adam's steps form one device-gated run: step number 1 plus the run's applied steps
  // before it (0, 1, 1: step 2 is skipped), read on the device; step 3's bias corrections use 2
  if (!hg::test::cuda_or_skip()) return;
  for (DType grad_dtype : {kFloat32, kFloat16, kBFloat16}) {
    manual_seed(42);
    const Tensor w0 = randn({1000}), g = (randn({1000}) * 256.0).to(grad_dtype);
    const Tensor p16 = w0.to(kFloat16);
    for (int algo = 0; algo < 2; ++algo) {
      Tensor w[2] = {w0.clone(), w0.to(kCUDA)}, out[2] = {p16.clone(), p16.to(kCUDA)};
      Tensor s0[2] = {zeros({1000}), zeros({1000}, TensorOptions(kFloat32).device(kCUDA))};
      Tensor s1[2] = {zeros({1000}), zeros({1000}, TensorOptions(kFloat32).device(kCUDA))};
      for (int step = 1; step <= 3; ++step) {
        for (int d = 0; d < 2; ++d) {
          const Device dev = d == 0 ? kCPU : kCUDA;
          const Tensor gd = on(g, dev),
                       inv = full({1}, 1.0 / 256.0, TensorOptions(kFloat32).device(dev));
          const Tensor found =
              full({1}, step == 2 ? 1.0 : 0.0, TensorOptions(kFloat32).device(dev));
          // the run's steps the device applied before this one, for fused_adam's step number
          const Tensor applied =
              full({1}, step > 1 ? 1.0 : 0.0, TensorOptions(kFloat32).device(dev));
          // from step 3 on the lr comes from memory (as after a scheduler's set_lr)
          const Tensor lr = full({1}, algo == 0 ? 0.05 : 5e-3, TensorOptions(kFloat64).device(dev));
          const kernels::TensorView ov = view_of(out[d]), iv = view_of(inv), fv = view_of(found);
          const kernels::TensorView b0 = view_of(s0[d]), av = view_of(applied), lv = view_of(lr);
          kernels::FusedStepInputs inputs;
          inputs.inv_scale = &iv, inputs.found_inf = &fv;
          if (step == 3) inputs.lr = &lv;
          if (algo == 0) {
            kernels::FusedSgdParams p;
            p.lr = 0.1, p.momentum = 0.9, p.weight_decay = 1e-2;
            const kernels::FusedSgdTensor t{view_of(w[d]), view_of(gd), b0, ov, step == 1};
            kernels::fused_sgd(dev)(&t, 1, inputs, 1.0, p);
          } else {
            kernels::FusedAdamParams p;
            p.lr = 1e-2, p.weight_decay = 0.05, p.step = 1;
            inputs.applied_steps = &av;
            const kernels::FusedAdamTensor t{view_of(w[d]),  view_of(gd), b0,
                                             view_of(s1[d]), {},          ov};
            kernels::fused_adam(dev)(&t, 1, inputs, 1.0, p);
          }
        }
        const char* what = algo == 0 ? "fused_sgd" : "fused_adam";
        expect_parity(w[1], w[0], kFloat32, what);
        expect_parity(out[1], out[0], kFloat16, what);
        expect_parity(s0[1], s0[0], kFloat32, what);
        expect_parity(s1[1], s1[0], kFloat32, what);
      }
    }
  }
}

TEST_CASE("cuda optimizers with GradScaler and master weights follow the CPU run") {
  if (!hg::test::cuda_or_skip()) return;
  for (int which = 0; which < 2; ++which) {
    manual_seed(43);
    const Tensor init = randn({64}).to(kFloat16);
    Tensor p[2] = {init.clone().requires_grad_(), init.to(kCUDA).requires_grad_()};
    std::unique_ptr<optim::Optimizer> opt[2];
    amp::GradScaler scaler[2] = {amp::GradScaler(amp::GradScalerOptions().init_scale(1024.0)),
                                 amp::GradScaler(amp::GradScalerOptions().init_scale(1024.0))};
    for (int d = 0; d < 2; ++d) {
      if (which == 0)
        opt[d] = std::make_unique<optim::SGD>(std::vector<Tensor>{p[d]},
                                              optim::SGDOptions(0.1).momentum(0.9));
      else
        opt[d] =
            std::make_unique<optim::AdamW>(std::vector<Tensor>{p[d]}, optim::AdamWOptions(1e-2));
      opt[d]->set_master_weights(true);
    }
    for (int step = 0; step < 4; ++step) {
      const Tensor g =
          (randn({64}) * (step == 2 ? 1e6 : 1.0) * 1024.0).to(kFloat16);  // step 2 overflows
      for (int d = 0; d < 2; ++d) {
        p[d].set_grad(d == 0 ? g : g.to(kCUDA));
        CHECK(scaler[d].step(*opt[d]) == (step != 2));
        scaler[d].update();
      }
      CHECK(scaler[1].get_scale() == scaler[0].get_scale());
      expect_parity(p[1].detach(), p[0].detach(), kFloat16, "parameter");
      expect_parity(opt[1]->master_weight(p[1]), opt[0]->master_weight(p[0]), kFloat32, "master");
    }
  }
}
