// kernels/cuda/{batch_norm,pool,norm,fused_nn,lookup}.cu run by the CUDA emulator, behind the
// public ops on CPU tensors (their kernel families swapped for the emulated CUDA ones), against
// the CPU kernels: forward and input gradients in every floating dtype, in both thread orders
// for the kernels with block reductions. Max pooling's byte-sized argmax, which only the CUDA
// op asks for, is called directly.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "emu_util.h"
#include "halfgrad.h"
#include "kernels/cuda/cuda_fused_nn_kernels.h"
#include "kernels/cuda/cuda_nn_kernels.h"
#include "kernels/cuda/target_check.h"
#include "kernels/fused_nn_kernels.h"
#include "kernels/nn_kernels.h"
#include "kernels/tensor_bridge.h"

using namespace hg;
using hg::test::check_emulated;
using hg::test::EmulatedKernel;
namespace emu = hg::kernels::cuda;

namespace {

Tensor leaf(const Shape& shape, DType dtype, double scale = 1.0) {
  return (randn(shape) * scale).to(dtype).requires_grad_();
}

void with_batch_norm(const std::function<void()>& body) {
  EmulatedKernel forward(kernels::batch_norm, &emu::batch_norm);
  EmulatedKernel backward(kernels::batch_norm_backward, &emu::batch_norm_backward);
  EmulatedKernel stats(kernels::batch_norm_running_stats, &emu::batch_norm_running_stats);
  body();
}

}  // namespace

TEST_CASE("batch_norm and batch_norm_relu: training and eval, statistics, every dtype") {
  for (hg_emu::ThreadOrder order : test::kThreadOrders) {
    hg_emu::set_thread_order(order);
    for (DType dtype : test::floating_dtypes()) {
      manual_seed(81);
      const DType stats = dtype == kFloat64 ? kFloat64 : kFloat32;
      for (const Shape& shape : {Shape{8, 6, 5, 7}, Shape{3, 16, 4, 4}, Shape{33, 5}}) {
        const Tensor x = leaf(shape, dtype, 3.0);
        const Tensor w = leaf({shape[1]}, stats), b = leaf({shape[1]}, stats);
        for (const bool relu : {false, true})
          for (const bool training : {true, false}) {
            // fresh running statistics per run: both runs update their own copies
            const Tensor mean0 = randn({shape[1]}).to(stats), var0 = rand({shape[1]}).to(stats);
            Tensor mean, var;
            const auto op = [&](const std::vector<Tensor>& in) {
              mean = mean0.clone(), var = var0.clone();
              return relu ? batch_norm_relu(in[0], mean, var, in[1], in[2], training)
                          : batch_norm(in[0], mean, var, in[1], in[2], training);
            };
            const std::string what = std::string(relu ? "batch_norm_relu" : "batch_norm") +
                                     (training ? " training" : " eval");
            check_emulated(what, op, {x, w, b}, dtype, std::sqrt(double(x.numel() / shape[1])),
                           with_batch_norm);
            // the emulated run came last: its running statistics against a CPU run's
            const Tensor emu_mean = mean, emu_var = var;
            (void)op({x.detach(), w.detach(), b.detach()});
            test::expect_within_parity(emu_mean, mean, stats, what + " running mean");
            test::expect_within_parity(emu_var, var, stats, what + " running var");
          }
      }
    }
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Forward);
}

TEST_CASE("avg, adaptive and max pooling through the ops (int64 argmax) match the CPU") {
  const auto with_pooling = [](const std::function<void()>& body) {
    EmulatedKernel max(kernels::max_pool2d, &emu::max_pool2d);
    EmulatedKernel max_back(kernels::max_pool2d_backward, &emu::max_pool2d_backward);
    EmulatedKernel avg(kernels::avg_pool2d, &emu::avg_pool2d);
    EmulatedKernel avg_back(kernels::avg_pool2d_backward, &emu::avg_pool2d_backward);
    EmulatedKernel adaptive(kernels::adaptive_pool2d, &emu::adaptive_pool2d);
    EmulatedKernel adaptive_back(kernels::adaptive_avg_pool2d_backward,
                                 &emu::adaptive_avg_pool2d_backward);
    body();
  };
  for (DType dtype : test::floating_dtypes()) {
    manual_seed(82);
    const Tensor x = leaf({3, 4, 9, 11}, dtype);
    check_emulated(
        "max_pool2d 2x2",
        [](auto& in) {
          return max_pool2d(in[0], {2, 2});
        },
        {x}, dtype, 1.0, with_pooling);
    check_emulated(
        "max_pool2d 3/2/1",
        [](auto& in) {
          return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1});
        },
        {x}, dtype, 1.0, with_pooling);
    check_emulated(
        "avg_pool2d 3/2/1 without padding counted",
        [](auto& in) {
          return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, false);
        },
        {x}, dtype, 1.0, with_pooling);
    check_emulated(
        "adaptive_avg_pool2d 4x3",
        [](auto& in) {
          return adaptive_avg_pool2d(in[0], {4, 3});
        },
        {x}, dtype, 1.0, with_pooling);
    check_emulated(
        "adaptive_max_pool2d 4x3",
        [](auto& in) {
          return adaptive_max_pool2d(in[0], {4, 3});
        },
        {x}, dtype, 1.0, with_pooling);
  }
}

// What the CUDA op asks for (autograd/pool_ops.cpp): the argmax as a byte, its position in the
// window; backward in one gather pass where windows cannot overlap (2x2 / 2), else a scatter.
TEST_CASE("max pooling with a byte's argmax, forward and backward, matches the CPU's int64") {
  test::device_memory_on_the_cpu();  // the overlapping windows' fp32 accumulator
  for (DType dtype : test::floating_dtypes()) {
    manual_seed(83);
    Tensor x = randn({2, 3, 10, 9}).to(dtype);
    x.narrow(3, 4, 1).fill_(std::numeric_limits<double>::quiet_NaN());  // NaN wins its window
    for (const auto& [kernel, stride, pad] :
         {std::array<int64_t, 3>{2, 2, 0}, {3, 2, 1}, {2, 1, 0}, {3, 3, 1}}) {
      CAPTURE(kernel);
      CAPTURE(stride);
      kernels::Pool2dParams p;
      p.kernel_h = p.kernel_w = kernel, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
      const int64_t ho = (10 + 2 * pad - kernel) / stride + 1,
                    wo = (9 + 2 * pad - kernel) / stride + 1;
      const Tensor out_cpu = empty({2, 3, ho, wo}, TensorOptions(dtype)),
                   out_emu = empty_like(out_cpu);
      const Tensor idx_cpu = empty({2, 3, ho, wo}, TensorOptions(kInt64));
      const Tensor idx_emu = empty({2, 3, ho, wo}, TensorOptions(kUInt8));
      using kernels::view_of;
      kernels::max_pool2d(kCPU)(view_of(x), view_of(out_cpu), view_of(idx_cpu), p);
      emu::max_pool2d(view_of(x), view_of(out_emu), view_of(idx_emu), p);
      CHECK(test::same_bits(out_emu, out_cpu));
      const Tensor gout = randn({2, 3, ho, wo}).to(dtype);
      const Tensor gx_cpu = full({2, 3, 10, 9}, 5.0).to(dtype), gx_emu = gx_cpu.clone();
      kernels::max_pool2d_backward(kCPU)(view_of(gout), view_of(idx_cpu), view_of(gx_cpu), &p);
      emu::max_pool2d_backward(view_of(gout), view_of(idx_emu), view_of(gx_emu), &p);
      test::expect_within_parity(gx_emu, gx_cpu, dtype, "max_pool2d backward");
    }
  }
}

TEST_CASE("layer_norm with and without affine parameters matches the CPU") {
  const auto with_layer_norm = [](const std::function<void()>& body) {
    EmulatedKernel forward(kernels::layer_norm, &emu::layer_norm);
    EmulatedKernel backward(kernels::layer_norm_backward, &emu::layer_norm_backward);
    body();
  };
  for (hg_emu::ThreadOrder order : test::kThreadOrders) {
    hg_emu::set_thread_order(order);
    for (DType dtype : test::floating_dtypes()) {
      manual_seed(84);
      const Tensor x = leaf({6, 5, 300}, dtype, 2.0);
      const Tensor w = leaf({300}, dtype), b = leaf({300}, dtype);
      check_emulated(
          "layer_norm affine", [](auto& in) { return layer_norm(in[0], {300}, in[1], in[2]); },
          {x, w, b}, dtype, std::sqrt(30.0), with_layer_norm);
      check_emulated(
          "layer_norm over two dims",
          [](auto& in) {
            return layer_norm(in[0], {5, 300});
          },
          {x}, dtype, std::sqrt(6.0), with_layer_norm);
    }
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Forward);
}

TEST_CASE("cross_entropy and nll_loss, every reduction, smoothing, ignore_index, match the CPU") {
  const auto with_losses = [](const std::function<void()>& body) {
    EmulatedKernel ce(kernels::cross_entropy, &emu::cross_entropy);
    EmulatedKernel ce_back(kernels::cross_entropy_backward, &emu::cross_entropy_backward);
    EmulatedKernel mean(kernels::mean_over_targets, &emu::mean_over_targets);
    EmulatedKernel mean_back(kernels::mean_over_targets_backward, &emu::mean_over_targets_backward);
    EmulatedKernel nll(kernels::nll_loss, &emu::nll_loss);
    EmulatedKernel nll_back(kernels::nll_loss_backward, &emu::nll_loss_backward);
    body();
  };
  for (hg_emu::ThreadOrder order : test::kThreadOrders) {
    hg_emu::set_thread_order(order);
    for (DType dtype : test::floating_dtypes()) {
      manual_seed(85);
      const Tensor logits = leaf({37, 10}, dtype, 3.0);
      Tensor target = randint(0, 10, {37});
      target.narrow(0, 5, 3).fill_(-100);  // ignored rows
      for (const Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
        for (const double smoothing : {0.0, 0.1}) {
          check_emulated(
              "cross_entropy",
              [&](auto& in) { return cross_entropy(in[0], in[1], r, -100, smoothing); },
              {logits, target}, dtype, 1.0, with_losses);
          check_emulated(
              "nll_loss", [&](auto& in) { return nll_loss(log_softmax(in[0], 1), in[1], r); },
              {logits, target}, dtype, 1.0, with_losses);
        }
    }
  }
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Forward);
}

TEST_CASE("embedding forward and backward match the CPU, a bad index is a late error") {
  const auto with_embedding = [](const std::function<void()>& body) {
    EmulatedKernel forward(kernels::embedding, &emu::embedding);
    EmulatedKernel backward(kernels::embedding_backward, &emu::embedding_backward);
    body();
  };
  for (DType dtype : test::floating_dtypes()) {
    manual_seed(86);
    const Tensor weight = leaf({50, 24}, dtype);
    const Tensor index = randint(0, 50, {7, 9});  // repeats: the backward adds rows up
    check_emulated(
        "embedding", [](auto& in) { return embedding(in[1], in[0]); }, {weight, index}, dtype, 2.0,
        with_embedding);
  }
  // On the device a bad index (7, at position 1) is found by the kernel and reported by the
  // next such call.
  const Tensor weight = randn({5, 3}), out = empty({2, 3});
  const Tensor index = from_vector<int64_t>({1, 7}, {2}, kInt64);
  emu::embedding(kernels::view_of(weight), kernels::view_of(index), kernels::view_of(out));
  CHECK(std::isnan(out.narrow(0, 1, 1).to_vector<double>()[0]));
  test::expect_error([] { cuda::report_bad_targets(); },
                     {"the index at position 1 is out of range"});
}
