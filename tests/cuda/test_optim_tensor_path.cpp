// RMSprop and Adagrad on CUDA where the fused kernels cannot go (kernels/cuda/fused_optim_extra.cu
// needs a contiguous weight: tests/cuda/test_fused_optim_extra.cpp): a non-contiguous parameter
// without a master takes the tensor-op path, step() and a step gated by a device flag alike, the
// flag read back once per gated step, and follows the CPU's tensor-op path (set_cpu_loops(false));
// fp32 parameters and 16-bit ones updated in place (O3). Compared within an fp32 ulp or two: the
// backends do not promise the same bits for every op. Skipped without a CUDA device.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cuda_test_util.h"

using namespace hg;

namespace {

// Four steps on the same start and gradients, on the CPU and on CUDA: two plain, then one gated
// step that the device flag skips and one it lets through. The parameters are transposed views.
template <class Opt, class Options>
void check_tensor_path(const Options& options, DType dtype, const std::string& buffer) {
  CAPTURE(dtype);
  manual_seed(21);
  const Tensor init = randn({20, 15}).to(dtype);
  std::vector<Tensor> grads;
  for (int t = 0; t < 4; ++t) grads.push_back(randn({15, 20}).to(dtype));
  Tensor cpu = init.clone().t().requires_grad_();
  Tensor gpu = init.to(kCUDA).t().requires_grad_();
  REQUIRE_FALSE(gpu.is_contiguous());
  Opt cpu_opt({cpu}, options);
  Opt gpu_opt({gpu}, options);
  cpu_opt.set_cpu_loops(false);
  const TensorOptions on_device = TensorOptions(kFloat32).device(kCUDA);
  for (int t = 0; t < 4; ++t) {
    cpu.set_grad(grads[t]);
    gpu.set_grad(grads[t].to(kCUDA));
    if (t < 2) {
      cpu_opt.step();
      gpu_opt.step();
      continue;
    }
    const bool skip = t == 2;
    CHECK(gpu_opt.step_unless_found_inf(full({1}, skip ? 1.0 : 0.0, on_device)) ==
          (skip ? optim::GatedStep::Skipped : optim::GatedStep::Stepped));
    if (!skip) cpu_opt.step();
  }
  CHECK(gpu_opt.host_readbacks() == 2);
  CHECK(gpu_opt.state(gpu)->step == 3);
  const Tensor state = gpu_opt.state(gpu)->buffers.at(buffer);
  CHECK(state.device() == gpu.device());
  hg::test::expect_close(hg::test::values(state.to(kCPU)),
                         hg::test::values(cpu_opt.state(cpu)->buffers.at(buffer)), 1e-7, 1e-6);
  // O3: a 16-bit ulp where an fp32 result differs in its last bit
  const double tol = dtype == kFloat32 ? 1e-6 : hg::test::parity_tolerance(dtype);
  hg::test::expect_close(hg::test::values(gpu.detach().to(kCPU)), hg::test::values(cpu.detach()),
                         tol, tol);
}

}  // namespace

TEST_CASE("cuda RMSprop: a non-contiguous parameter takes the tensor ops, as the CPU's") {
  if (!hg::test::cuda_or_skip()) return;
  const auto options = optim::RMSpropOptions(0.01).momentum(0.9).centered(true).weight_decay(0.01);
  for (const DType dtype : {kFloat32, kFloat16})
    check_tensor_path<optim::RMSprop>(options, dtype, "grad_avg");
}

TEST_CASE("cuda Adagrad: a non-contiguous parameter takes the tensor ops, as the CPU's") {
  if (!hg::test::cuda_or_skip()) return;
  // the accumulator starts at initial_accumulator_value on the device too
  const auto options =
      optim::AdagradOptions(0.1).lr_decay(0.1).initial_accumulator_value(0.2).weight_decay(0.01);
  for (const DType dtype : {kFloat32, kBFloat16})
    check_tensor_path<optim::Adagrad>(options, dtype, "sum");
}
