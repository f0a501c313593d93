// Host-side training code on CUDA parameters: the optimizers' tensor-op path (taken for
// non-CPU parameters), gradient clipping and GradScaler, against the same step on the CPU.
#include "parity.h"

using namespace hg;
using cuda_test::Kind;

namespace {

// Runs `steps` steps of opt on one weight, with the gradient of sum(w * w * c) each time, on
// `device`; returns the final weight on the CPU.
template <typename MakeOpt>
Tensor train_weight(Device device, DType dtype, MakeOpt make_opt, int steps, bool clip,
                    bool scaler) {
  Tensor w = cuda_test::input({7, 5}, dtype, 141).to(device).requires_grad_(true);
  const Tensor c = cuda_test::input({7, 5}, dtype, 142).to(device);
  auto opt = make_opt(std::vector<Tensor>{w});
  amp::GradScaler grad_scaler(amp::GradScalerOptions().init_scale(1024.0));
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = (w * w * c).sum();
    if (scaler) loss = grad_scaler.scale(loss);
    loss.backward();
    if (scaler) grad_scaler.unscale_(opt);
    if (clip) (void)optim::clip_grad_norm_({w}, 0.5);
    if (scaler) {
      grad_scaler.step(opt);
      grad_scaler.update();
    } else {
      opt.step();
    }
  }
  CHECK(w.device() == device);
  return w.detach().to(kCPU);
}

}  // namespace

TEST_CASE("SGD and Adam steps on CUDA parameters match the CPU's") {
  HG_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64}) {
    const auto sgd = [](std::vector<Tensor> p) {
      return optim::SGD(std::move(p), optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
    };
    const auto adam = [](std::vector<Tensor> p) {
      return optim::Adam(std::move(p), optim::AdamOptions(0.01));
    };
    cuda_test::check_same("sgd", train_weight(kCUDA, dtype, sgd, 3, false, false),
                          train_weight(kCPU, dtype, sgd, 3, false, false), Kind::Reduction);
    cuda_test::check_same("adam + clip", train_weight(kCUDA, dtype, adam, 3, true, false),
                          train_weight(kCPU, dtype, adam, 3, true, false), Kind::Reduction);
    cuda_test::check_same("adam + GradScaler", train_weight(kCUDA, dtype, adam, 3, false, true),
                          train_weight(kCPU, dtype, adam, 3, false, true), Kind::Reduction);
  }
}

TEST_CASE("Module::to(kCUDA) moves parameters in place, and a step on the GPU matches the CPU") {
  HG_REQUIRE_CUDA();
  manual_seed(5);
  nn::Linear cpu_layer(12, 4);
  manual_seed(5);
  nn::Linear gpu_layer(12, 4);
  gpu_layer.to(kCUDA);
  CHECK(gpu_layer.weight.device() == kCUDA);
  CHECK(gpu_layer.bias.device() == kCUDA);
  cuda_test::check_same("init", gpu_layer.weight, cpu_layer.weight, Kind::Exact);
  const Tensor x = cuda_test::input({6, 12}, kFloat32, 151);
  optim::SGD cpu_opt(cpu_layer.parameters(), optim::SGDOptions(0.1));
  optim::SGD gpu_opt(gpu_layer.parameters(), optim::SGDOptions(0.1));
  square(cpu_layer.forward(x)).sum().backward();
  square(gpu_layer.forward(x.to(kCUDA))).sum().backward();
  cuda_test::check_same("weight grad", gpu_layer.weight.grad(), cpu_layer.weight.grad(),
                        Kind::Gemm);
  cpu_opt.step();
  gpu_opt.step();
  cuda_test::check_same("weight after step", gpu_layer.weight, cpu_layer.weight, Kind::Gemm);
  cuda_test::check_same("bias after step", gpu_layer.bias, cpu_layer.bias, Kind::Gemm);
}

TEST_CASE("nn::BatchNorm2d trains on CUDA: output, running statistics and batch count") {
  HG_REQUIRE_CUDA();
  nn::BatchNorm2d cpu_norm(3), gpu_norm(3);
  gpu_norm.to(kCUDA);
  const Tensor x = cuda_test::input({4, 3, 5, 5}, kFloat32, 161);
  for (int step = 0; step < 2; ++step) {  // training mode: the statistics and the count update
    cuda_test::check_same("batch norm output", gpu_norm.forward(x.to(kCUDA)), cpu_norm.forward(x),
                          Kind::Reduction);
  }
  cuda_test::check_same("running mean", gpu_norm.running_mean, cpu_norm.running_mean,
                        Kind::Reduction);
  cuda_test::check_same("running var", gpu_norm.running_var, cpu_norm.running_var, Kind::Reduction);
  CHECK(gpu_norm.num_batches_tracked.device() == kCUDA);
  CHECK(gpu_norm.num_batches_tracked.to(kCPU).item<int64_t>() == 2);
}
