// The 3x3 convolutions of ResNet-9 at batch 512 on the GPU (the BENCHMARKS.md model), each
// timed two ways: im2col + cuBLAS, and the implicit-GEMM kernels (cuda::set_implicit_gemm_conv,
// kernels/cuda/conv_igemm.cu and conv_igemm_wgrad.cu). Per layer and 16-bit dtype: the forward, and
// forward + backward (grad_x, grad_weight), in ms of GPU time and effective TFLOP/s (2 n cout ho wo
// cin 9 per pass). bench/torch_conv_cuda.py measures the same layers in PyTorch (cuDNN).
//
//   bench_conv_cuda [--batch B (512)] [--quick (batch 64, fewer repeats)]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_timer.h"
#include "halfgrad/halfgrad.h"

namespace {

using namespace hg;

struct Layer {
  const char* name;
  int64_t cin, cout, size;  // square input and output (stride 1, padding 1)
};

// ResNet-9's convolutions (the first one's implicit-GEMM forward loads its weights one by one:
// 27 is no whole number of 8-weight runs).
const std::vector<Layer> kLayers = {
    {"prep 3->64 32x32", 3, 64, 32},       {"layer1 64->128 32x32", 64, 128, 32},
    {"res1 128->128 16x16", 128, 128, 16}, {"layer2 128->256 16x16", 128, 256, 16},
    {"layer3 256->512 8x8", 256, 512, 8},  {"res3 512->512 4x4", 512, 512, 4},
};

struct Timing {
  double forward_ms, train_ms;
};

Timing time_layer(const Layer& layer, int64_t batch, DType dtype, bool implicit, int iters) {
  cuda::set_implicit_gemm_conv(implicit);
  const TensorOptions on_gpu = TensorOptions(dtype).device(kCUDA);
  const Tensor x = randn({batch, layer.cin, layer.size, layer.size}, on_gpu).requires_grad_(true);
  const Tensor w =
      (randn({layer.cout, layer.cin, 3, 3}, on_gpu) * 0.05).detach().requires_grad_(true);
  const Tensor grad = randn({batch, layer.cout, layer.size, layer.size}, on_gpu);
  Timing t{};
  {
    NoGradGuard no_grad;
    t.forward_ms = bench::time_ms([&] { (void)conv2d(x, w, Tensor(), {1, 1}, {1, 1}); }, iters);
  }
  t.train_ms = bench::time_ms(
      [&] {
        x.set_grad(Tensor());  // no accumulation into the last call's gradients
        w.set_grad(Tensor());
        conv2d(x, w, Tensor(), {1, 1}, {1, 1}).backward(grad);
      },
      iters);
  cuda::set_implicit_gemm_conv(false);
  return t;
}

double tflops(const Layer& layer, int64_t batch, double passes, double ms) {
  const double flop = 2.0 * static_cast<double>(batch) * static_cast<double>(layer.cout) *
                      static_cast<double>(layer.size * layer.size) *
                      static_cast<double>(layer.cin) * 9.0 * passes;
  return flop / (ms * 1e-3) / 1e12;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 512;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) batch = 64, iters = 3;
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoll(argv[++i]);
  }
  if (!cuda::is_available()) {
    std::printf("bench_conv_cuda: no CUDA device, nothing to measure\n");
    return 0;
  }
  try {
    std::printf("%-24s %-9s %10s %10s %12s %12s %9s\n", "layer", "dtype", "im2col fw", "igemm fw",
                "im2col fw+bw", "igemm fw+bw", "fw+bw x");
    for (DType dtype : {kFloat16, kBFloat16}) {
      for (const Layer& layer : kLayers) {
        const Timing cols = time_layer(layer, batch, dtype, false, iters);
        const Timing implicit = time_layer(layer, batch, dtype, true, iters);
        const std::string dt(dtype_name(dtype));
        for (const auto& [impl, t] : {std::pair{"im2col", cols}, std::pair{"igemm", implicit}})
          std::printf(
              "{\"bench\":\"conv3x3\",\"impl\":\"%s\",\"layer\":\"%s\",\"dtype\":\"%s\","
              "\"batch\":%lld,\"forward_ms\":%.4f,\"train_ms\":%.4f,\"forward_tflops\":%.1f,"
              "\"train_tflops\":%.1f}\n",
              impl, layer.name, dt.c_str(), static_cast<long long>(batch), t.forward_ms, t.train_ms,
              tflops(layer, batch, 1, t.forward_ms), tflops(layer, batch, 3, t.train_ms));
        std::printf("%-24s %-9s %10.3f %10.3f %12.3f %12.3f %9.2f\n", layer.name, dt.c_str(),
                    cols.forward_ms, implicit.forward_ms, cols.train_ms, implicit.train_ms,
                    cols.train_ms / implicit.train_ms);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
