#pragma once
// Helpers for the optimizer suites: run a reference case (tests/optim/optim_reference.h) and
// compare the parameter after every step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "optim_reference.h"
#include "test_util.h"

namespace hg::test {

template <size_t N>
std::vector<double> row(const double (&values)[N]) {
  return std::vector<double>(values, values + N);
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Runs kSteps updates with the reference gradients on a parameter of `dtype` starting at kInit
// and checks it against expected after every step. cpu_loops = false runs the device-generic
// tensor-op path.
inline void check_reference(const MakeOptimizer& make, DType dtype,
                            const double (&expected)[optim_ref::kSteps][optim_ref::kN],
                            bool cpu_loops = true) {
  const double tol = dtype == kFloat64 ? 1e-12 : 1e-6;
  Tensor p = from_vector(row(optim_ref::kInit), dtype).requires_grad_();
  auto opt = make({p});
  opt->set_cpu_loops(cpu_loops);
  for (int t = 0; t < optim_ref::kSteps; ++t) {
    CAPTURE(t);
    p.set_grad(from_vector(row(optim_ref::kGrads[t]), dtype));
    opt->step();
    CHECK(p.dtype() == dtype);
    expect_close(values(p), row(expected[t]), tol, tol);
  }
}

// Both dtypes and both code paths.
inline void check_reference(const MakeOptimizer& make,
                            const double (&f64)[optim_ref::kSteps][optim_ref::kN],
                            const double (&f32)[optim_ref::kSteps][optim_ref::kN]) {
  for (bool loops : {true, false}) {
    CAPTURE(loops);
    check_reference(make, kFloat64, f64, loops);
    check_reference(make, kFloat32, f32, loops);
  }
}

template <class Opt, class Options>
MakeOptimizer maker(const Options& options) {
  return [options](std::vector<Tensor> params) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<Opt>(std::move(params), options);
  };
}

// Both code paths and both dtypes of a reference case, each step checked: fp64 within 1e-12,
// fp32 within 2 ulp (relative to max(1, |expected|): elements crossing zero). Ends with the
// parameter's step count.
template <class Opt, class Options>
void check_reference_ulp(const Options& options,
                         const double (&f64)[optim_ref::kSteps][optim_ref::kN],
                         const double (&f32)[optim_ref::kSteps][optim_ref::kN]) {
  for (bool loops : {true, false}) {
    for (DType dtype : {kFloat64, kFloat32}) {
      CAPTURE(loops);
      CAPTURE(dtype);
      const auto& expected = dtype == kFloat64 ? f64 : f32;
      const double tol = dtype == kFloat64 ? 1e-12 : 2.0 * std::ldexp(1.0, -23);
      Tensor p = from_vector(row(optim_ref::kInit), dtype).requires_grad_();
      Opt opt({p}, options);
      opt.set_cpu_loops(loops);
      for (int t = 0; t < optim_ref::kSteps; ++t) {
        CAPTURE(t);
        p.set_grad(from_vector(row(optim_ref::kGrads[t]), dtype));
        opt.step();
        const std::vector<double> got = values(p);
        for (size_t i = 0; i < got.size(); ++i) {
          CAPTURE(i);
          CHECK(std::abs(got[i] - expected[t][i]) <= tol * std::max(1.0, std::abs(expected[t][i])));
        }
      }
      CHECK(opt.state(p)->step == optim_ref::kSteps);
    }
  }
}

// `steps` random gradients of n elements, the same for the same seed.
inline std::vector<Tensor> seeded_grads(int64_t n, int steps, DType dtype, uint64_t seed) {
  manual_seed(seed);
  std::vector<Tensor> grads;
  for (int t = 0; t < steps; ++t) grads.push_back(randn({n}).to(dtype));
  return grads;
}

// Steps a copy of `init` with `grads` (each times `scale`, stepped as step_scaled(scale)); the
// weight it ends with (the master, with master weights).
template <class Opt, class Options>
Tensor run_steps(const Tensor& init, const std::vector<Tensor>& grads, const Options& options,
                 bool loops, bool masters = false, double scale = 1.0) {
  Tensor w = init.clone().requires_grad_();
  Opt opt({w}, options);
  opt.set_cpu_loops(loops);
  opt.set_master_weights(masters);
  for (const Tensor& g : grads) {
    w.set_grad(scale == 1.0 ? g.clone() : g * scale);
    opt.step_scaled(scale);
  }
  return masters ? opt.master_weight(w) : w.detach();
}

// The checks every optimizer with CPU loops and a tensor-op path passes, over a set of option
// combinations; the random weights and gradients come from `seed`.
// The tensor-op path computes what the CPU loops compute, bit for bit, in every dtype.
template <class Opt, class Options, size_t N>
void check_tensor_path_matches_loops(const Options (&combos)[N], uint64_t seed) {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    const Tensor init = seeded_grads(1001, 1, kFloat32, seed)[0].to(dtype);
    const std::vector<Tensor> grads = seeded_grads(1001, 5, dtype, seed);
    for (size_t c = 0; c < N; ++c) {
      CAPTURE(c);
      CHECK(same_bits(run_steps<Opt>(init, grads, combos[c], true),
                      run_steps<Opt>(init, grads, combos[c], false)));
    }
  }
}

// 16-bit parameters with master weights: the masters follow the fp32 run on the widened
// gradients exactly.
template <class Opt, class Options, size_t N>
void check_masters_follow_fp32(const Options (&combos)[N], uint64_t seed) {
  for (DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    const Tensor init = seeded_grads(257, 1, kFloat32, seed)[0].to(dtype);
    const std::vector<Tensor> grads = seeded_grads(257, 6, dtype, seed);
    std::vector<Tensor> widened;
    for (const Tensor& g : grads) widened.push_back(g.to(kFloat32));
    for (size_t c = 0; c < N; ++c) {
      for (bool loops : {true, false}) {
        CAPTURE(c);
        CAPTURE(loops);
        const Tensor master = run_steps<Opt>(init, grads, combos[c], loops, /*masters=*/true);
        CHECK(master.dtype() == kFloat32);
        CHECK(same_bits(master, run_steps<Opt>(init.to(kFloat32), widened, combos[c], loops)));
      }
    }
  }
}

// step_scaled(s) on gradients times s equals step() on the gradients (s a power of two, so the
// scaling is exact).
template <class Opt, class Options, size_t N>
void check_step_scaled(const Options (&combos)[N], uint64_t seed) {
  const Tensor init = seeded_grads(64, 1, kFloat32, seed)[0];
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    const std::vector<Tensor> grads = seeded_grads(64, 4, dtype, seed);
    for (size_t c = 0; c < N; ++c) {
      for (bool loops : {true, false}) {
        CAPTURE(c);
        CAPTURE(loops);
        const Tensor plain = run_steps<Opt>(init.to(dtype), grads, combos[c], loops);
        CHECK(same_bits(plain,
                        run_steps<Opt>(init.to(dtype), grads, combos[c], loops, false, 1024.0)));
      }
    }
  }
}

}  // namespace hg::test
