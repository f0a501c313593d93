#pragma once
// Helpers for the optimizer suites: run a reference case (tests/optim/optim_reference.h) and
// compare the parameter after every step.
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

}  // namespace hg::test
