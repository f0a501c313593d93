// The fused RMSprop and Adagrad steps on CUDA (kernels/cuda/fused_optim_extra.cu): the kernels
// against the CPU column, whole optimizer steps against the CPU loops (optim/rmsprop.cpp,
// optim/adagrad.cpp), and graph replays against eager steps. Every comparison is bit for bit:
// the kernels are built without multiply-add contraction and do the loops' operations in their
// order, with IEEE division and square root. Skipped without a CUDA device.
#include <doctest/doctest.h>

#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

using namespace hg;
using hg::kernels::view_of;
using hg::test::same_bits;

namespace {

const TensorOptions kF32Cuda = TensorOptions(kFloat32).device(kCUDA);

Tensor flag(double value) { return full({1}, value, kF32Cuda); }

// cuda_result, brought to the CPU, has cpu_result's dtype, shape and bits.
void expect_bits(const Tensor& cuda_result, const Tensor& cpu_result, const std::string& what) {
  CAPTURE(what);
  REQUIRE(cuda_result.defined() == cpu_result.defined());
  if (cpu_result.defined()) CHECK(same_bits(cuda_result.to(kCPU), cpu_result));
}

// 60 parameters for one fused call, on the CPU [0] and the device [1]: a run of 50 fp32 ones
// (two launches: 48 + 2), then runs of 2 with other (weight, gradient) dtypes: fp32 masters of
// fp16/bf16 parameters with their 16-bit copies, fp64, fp16 without a master. Optional state
// on some parameters; a few empty ones.
struct KernelParams {
  struct Kind {
    DType weight, grad;
    bool out;
  };
  std::vector<Tensor> w[2], g[2], s1[2], s2[2], s3[2], out[2];
  std::vector<Kind> kinds;

  KernelParams() {
    manual_seed(71);
    const Kind kinds5[] = {{kFloat32, kFloat32, false},
                           {kFloat32, kFloat16, true},
                           {kFloat32, kBFloat16, true},
                           {kFloat64, kFloat64, false},
                           {kFloat16, kFloat16, false}};
    for (int i = 0; i < 60; ++i) {
      const Kind& k = i < 50 ? kinds5[0] : kinds5[(i - 50) / 2];
      kinds.push_back(k);
      const int64_t n = i % 11 == 0 ? 0 : 1 + 41 * i;
      const DType compute = k.weight == kFloat64 ? kFloat64 : kFloat32;
      const Tensor w0 = randn({n}).to(k.weight), g0 = randn({n}).to(k.grad);
      const Tensor a0 = randn({n}).abs().to(compute), b0 = (randn({n}) * 0.1).to(compute);
      const Tensor c0 = randn({n}).to(compute);
      for (int d = 0; d < 2; ++d) {
        const Device dev = d == 0 ? kCPU : kCUDA;
        w[d].push_back(w0.to(dev).clone());
        g[d].push_back(g0.to(dev));
        s1[d].push_back(a0.to(dev).clone());
        s2[d].push_back(b0.to(dev).clone());
        s3[d].push_back(c0.to(dev).clone());
        out[d].push_back(zeros({n}, TensorOptions(k.grad).device(dev)));
      }
    }
  }
  // Parameter i's optional state (grad_avg, a momentum buffer) when i is a multiple of `every`.
  kernels::TensorView optional(const std::vector<Tensor>& t, int i, int every) const {
    return i % every == 0 ? view_of(t[i]) : kernels::TensorView{};
  }
  kernels::TensorView out_of(int d, int i) const {
    return kinds[i].out ? view_of(out[d][i]) : kernels::TensorView{};
  }
  void expect_bits_all(const char* what) const {
    for (int i = 0; i < 60; ++i) {
      CAPTURE(i);
      expect_bits(w[1][i], w[0][i], std::string(what) + " weight");
      expect_bits(s1[1][i], s1[0][i], std::string(what) + " state 1");
      expect_bits(s2[1][i], s2[0][i], std::string(what) + " state 2");
      expect_bits(s3[1][i], s3[0][i], std::string(what) + " state 3");
      expect_bits(out[1][i], out[0][i], std::string(what) + " 16-bit copy");
    }
  }
};

// The step's inputs in memory on device d: inverse scale 1/4, the flag, the lr, an applied count.
struct StepInputs {
  Tensor inv, found, lr, applied;
  kernels::TensorView iv, fv, lv, av;
  kernels::FusedStepInputs in;
  StepInputs(Device d, bool skip, double lr_value, double applied_steps) {
    const TensorOptions f32 = TensorOptions(kFloat32).device(d);
    inv = full({1}, 0.25, f32), found = full({1}, skip ? 1.0 : 0.0, f32);
    lr = full({1}, lr_value, TensorOptions(kFloat64).device(d));
    applied = full({1}, applied_steps, f32);
    iv = view_of(inv), fv = view_of(found), lv = view_of(lr), av = view_of(applied);
    in.inv_scale = &iv, in.found_inf = &fv, in.lr = &lv, in.applied_steps = &av;
  }
};

// Three calls on both sides: plain, one the flag skips, one with the inverse scale, the lr and
// the applied count from memory.
template <typename Call>
void three_calls(KernelParams& kp, const char* what, const Call& call) {
  for (int c = 0; c < 3; ++c) {
    CAPTURE(c);
    for (int d = 0; d < 2; ++d) {
      const Device dev = d == 0 ? kCPU : kCUDA;
      const StepInputs inputs(dev, c == 1, 0.01, 3.0);
      call(d, c == 0 ? kernels::FusedStepInputs{} : inputs.in);
    }
    kp.expect_bits_all(what);
  }
}

}  // namespace

TEST_CASE("cuda fused_rmsprop: 60 tensors of mixed dtypes equal the CPU column bit for bit") {
  if (!hg::test::cuda_or_skip()) return;
  KernelParams kp;
  kernels::FusedRmspropParams p;
  p.lr = 0.5, p.alpha = 0.9, p.eps = 1e-6, p.weight_decay = 0.02, p.momentum = 0.8;
  three_calls(kp, "fused_rmsprop", [&](int d, const kernels::FusedStepInputs& in) {
    std::vector<kernels::FusedRmspropTensor> list;
    for (int i = 0; i < 60; ++i)  // centered on even, momentum on every third parameter
      list.push_back({view_of(kp.w[d][i]), view_of(kp.g[d][i]), view_of(kp.s1[d][i]),
                      kp.optional(kp.s2[d], i, 2), kp.optional(kp.s3[d], i, 3), kp.out_of(d, i)});
    kernels::fused_rmsprop(d == 0 ? kCPU : kCUDA)(list.data(), 60, in, 0.5, p);
  });
}

TEST_CASE("cuda fused_rmsprop counts a step into count_applied once a call, as the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  KernelParams kp;  // 60 tensors: five launches, only the first counts
  kernels::FusedRmspropParams p;
  p.lr = 0.1, p.alpha = 0.9, p.eps = 1e-6;
  for (int d = 0; d < 2; ++d) {
    const TensorOptions f32 = TensorOptions(kFloat32).device(d == 0 ? kCPU : kCUDA);
    Tensor found = zeros({1}, f32), applied = full({1}, 3.0, f32);
    const kernels::TensorView fv = view_of(found), av = view_of(applied);
    kernels::FusedStepInputs in;
    in.found_inf = &fv, in.count_applied = &av;
    std::vector<kernels::FusedRmspropTensor> list;
    for (int i = 0; i < 60; ++i)
      list.push_back({view_of(kp.w[d][i]), view_of(kp.g[d][i]), view_of(kp.s1[d][i]),
                      kernels::TensorView{}, kernels::TensorView{}, kp.out_of(d, i)});
    const auto step = kernels::fused_rmsprop(d == 0 ? kCPU : kCUDA);
    step(list.data(), 60, in, 1.0, p);
    found.fill_(1.0);
    step(list.data(), 60, in, 1.0, p);  // skipped, counted as 0
    found.fill_(0.0);
    step(list.data(), 0, in, 1.0, p);  // no tensors: a launch anyway, to count
    step(list.data(), 1, in, 1.0, p);  // tensor 0 has no elements (a launch of one x block)
    CAPTURE(d);
    CHECK(applied.to(kCPU).item<float>() == 6.0f);
  }
  kp.expect_bits_all("fused_rmsprop counting");
}

TEST_CASE("cuda fused_adagrad: 60 tensors of mixed dtypes equal the CPU column bit for bit") {
  if (!hg::test::cuda_or_skip()) return;
  KernelParams kp;
  kernels::FusedAdagradParams p;
  p.lr = 0.3, p.lr_decay = 0.1, p.weight_decay = 0.05, p.eps = 1e-6, p.step = 2;
  three_calls(kp, "fused_adagrad", [&](int d, const kernels::FusedStepInputs& in) {
    std::vector<kernels::FusedAdagradTensor> list;
    for (int i = 0; i < 60; ++i)
      list.push_back(
          {view_of(kp.w[d][i]), view_of(kp.g[d][i]), view_of(kp.s1[d][i]), kp.out_of(d, i)});
    kernels::fused_adagrad(d == 0 ? kCPU : kCUDA)(list.data(), 60, in, 0.5, p);
  });
}

namespace {

struct Precision {
  DType dtype;
  bool masters;
};
// fp32, fp64, O2 (fp16 and bf16 with fp32 masters), O3 (fp16 without)
const Precision kPrecisions[] = {
    {kFloat32, false}, {kFloat64, false}, {kFloat16, true}, {kBFloat16, true}, {kFloat16, false}};

// A parameter's step count and state buffers, bit for bit.
void expect_same_state(const optim::ParamState* got, const optim::ParamState* want) {
  REQUIRE(got != nullptr);
  REQUIRE(want != nullptr);
  CHECK(got->step == want->step);
  CHECK(got->buffers.size() == want->buffers.size());
  for (const auto& [name, buffer] : want->buffers) {
    REQUIRE(got->buffers.count(name) == 1);
    expect_bits(got->buffers.at(name), buffer, name);
  }
}

// Five steps over three parameters on the CPU (its loops, decided on the host) and on CUDA (the
// fused kernel): a plain step(); a step gated on a set flag, which the device skips (the CPU takes
// none); two gated steps through; a step_scaled(2) decided on the host. The third parameter gets
// its first gradient in the skipped step, so its state is made by a skipped step and, for
// Adagrad, its step number lags the others' (a call of its own). Weights, 16-bit parameters,
// state buffers and step counts must have the CPU's bits.
template <class Opt, class Options>
void check_follows_loops(const Options& options, Precision precision, bool reads_steps) {
  CAPTURE(precision.dtype);
  CAPTURE(precision.masters);
  manual_seed(72);
  const Shape shapes[] = {{300}, {7, 9}, {5}};
  std::vector<Tensor> cpu, gpu;
  for (const Shape& shape : shapes) {
    const Tensor init = randn(shape).to(precision.dtype);
    cpu.push_back(init.clone().requires_grad_());
    gpu.push_back(init.to(kCUDA).requires_grad_());
  }
  Opt cpu_opt(cpu, options), gpu_opt(gpu, options);
  cpu_opt.set_master_weights(precision.masters);
  gpu_opt.set_master_weights(precision.masters);
  for (int step = 0; step < 5; ++step) {
    CAPTURE(step);
    for (size_t i = 0; i < 3; ++i) {
      const bool none = i == 2 && step == 0;
      const Tensor g = none ? Tensor() : (randn(shapes[i]) * (step == 4 ? 2.0 : 1.0));
      cpu[i].set_grad(none ? g : g.to(precision.dtype));
      gpu[i].set_grad(none ? g : g.to(precision.dtype).to(kCUDA));
    }
    if (step == 0) {
      cpu_opt.step();
      gpu_opt.step();
    } else if (step < 4) {
      CHECK(gpu_opt.step_unless_found_inf(flag(step == 1 ? 1.0 : 0.0)) ==
            optim::GatedStep::OnDevice);
      if (step != 1) cpu_opt.step();
    } else {
      // nothing read back so far but, for Adagrad, the settling where the third parameter joined
      CHECK(gpu_opt.host_readbacks() == (reads_steps ? 1 : 0));
      cpu_opt.step_scaled(2.0);
      gpu_opt.step_scaled(2.0);
    }
    for (size_t i = 0; i < 3; ++i) {
      expect_bits(gpu[i].detach(), cpu[i].detach(), "parameter " + std::to_string(i));
      expect_bits(gpu_opt.master_weight(gpu[i]), cpu_opt.master_weight(cpu[i]), "master");
    }
  }
  CHECK(gpu_opt.steps_taken() == cpu_opt.steps_taken());
  for (size_t i = 0; i < 3; ++i) expect_same_state(gpu_opt.state(gpu[i]), cpu_opt.state(cpu[i]));
}

}  // namespace

TEST_CASE("cuda RMSprop takes the fused kernel: the CPU loops' bits, a device skip, no readback") {
  if (!hg::test::cuda_or_skip()) return;
  using optim::RMSpropOptions;
  const RMSpropOptions combos[] = {
      RMSpropOptions(0.01),
      RMSpropOptions(0.01).momentum(0.9),
      RMSpropOptions(0.02).centered(true).alpha(0.9).eps(1e-6),
      RMSpropOptions(0.005).alpha(0.95).momentum(0.7).centered(true).weight_decay(0.1),
  };
  for (size_t c = 0; c < std::size(combos); ++c) {
    CAPTURE(c);
    for (const Precision precision : kPrecisions)
      check_follows_loops<optim::RMSprop>(combos[c], precision, false);
  }
}

TEST_CASE("cuda Adagrad takes the fused kernel: the CPU loops' bits, a device skip, step numbers") {
  if (!hg::test::cuda_or_skip()) return;
  using optim::AdagradOptions;
  const AdagradOptions combos[] = {
      AdagradOptions(0.1),
      AdagradOptions(0.2).lr_decay(0.3).eps(1e-6),
      AdagradOptions(0.1).initial_accumulator_value(0.5).weight_decay(0.2),
      AdagradOptions(0.3).lr_decay(0.05).weight_decay(0.01).initial_accumulator_value(0.1),
  };
  for (size_t c = 0; c < std::size(combos); ++c) {
    CAPTURE(c);
    for (const Precision precision : kPrecisions)
      check_follows_loops<optim::Adagrad>(combos[c], precision, true);
  }
}

// A captured plain step replays as the eager step would run: the buffers advance, and Adagrad's
// step number (its decayed lr) comes from the device's count of applied steps.
TEST_CASE("cuda graph: replayed RMSprop and Adagrad steps equal eager ones") {
  if (!hg::test::cuda_or_skip()) return;
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which);
    manual_seed(73);
    const Tensor eager = randn({200}).to(kCUDA).requires_grad_();
    const Tensor graphed = eager.detach().clone().requires_grad_();
    auto make = [&](const Tensor& p) -> std::unique_ptr<optim::Optimizer> {
      if (which == 0)
        return std::make_unique<optim::RMSprop>(
            std::vector<Tensor>{p}, optim::RMSpropOptions(0.01).momentum(0.9).centered(true));
      return std::make_unique<optim::Adagrad>(
          std::vector<Tensor>{p}, optim::AdagradOptions(0.1).lr_decay(0.5).weight_decay(0.01));
    };
    const auto eager_opt = make(eager), graphed_opt = make(graphed);
    std::vector<Tensor> grads;
    for (int i = 0; i < 6; ++i) grads.push_back(randn({200}).to(kCUDA));
    graphed.set_grad(grads[0].clone());  // the graph's input
    cuda::Graph graph;
    for (int i = 0; i < 6; ++i) {
      eager.set_grad(grads[i]);
      eager_opt->step();
      graphed.grad().copy_(grads[i]);
      if (i < 2) {  // warm-up: the state, the lr tensor and the gated run exist
        graphed_opt->step();
        continue;
      }
      if (i == 2) graph.capture([&] { graphed_opt->step(); });
      graph.replay();
      CHECK(same_bits(graphed.detach().to(kCPU), eager.detach().to(kCPU)));
    }
    CHECK(graphed_opt->steps_taken() == 6);
    CHECK(graphed_opt->state(graphed)->step == 6);
  }
}
