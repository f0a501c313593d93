#pragma once
// The CUDA-vs-CPU parity harness (in the spirit of ggml's test-backend-ops): run the same op, or
// the same small autograd graph, on CPU tensors and on copies of them moved to the GPU, and
// compare results and gradients with a tolerance chosen by dtype and by the kind of op.
//
// Usage in a test file of tests/cuda/:
//   TEST_CASE("my_op matches the CPU") {
//     HG_REQUIRE_CUDA();
//     for (DType dtype : cuda_test::kFloatDtypes)
//       cuda_test::check_op("my_op", {cuda_test::input({4, 7}, dtype, 1)},
//                           [](const Inputs& x) { return my_op(x[0]); }, cuda_test::Kind::Ulp);
//   }
// check_op compares the forward outputs and, for floating inputs, the gradients of
// sum(out * w) with w fixed random weights, so backward kernels are exercised too.
//
// Builds without CUDA; HG_REQUIRE_CUDA() turns every test into a skip (with one message per
// process) when hg::cuda::is_available() is false.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"

namespace hg::cuda_test {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

inline constexpr DType kFloatDtypes[] = {kFloat32, kFloat16, kBFloat16, kFloat64};
inline constexpr DType kAllDtypes[] = {kFloat32, kFloat16, kBFloat16, kFloat64,
                                       kInt64,   kUInt8,   kBool};

inline bool cuda_ready() {
  static const bool ready = [] {
    const bool available = cuda::is_available();
    if (!available)
      std::cerr << "[hg_test_cuda] no CUDA device: the CUDA parity tests are skipped\n";
    return available;
  }();
  return ready;
}
#define HG_REQUIRE_CUDA()                       \
  do {                                          \
    if (!::hg::cuda_test::cuda_ready()) return; \
  } while (0)

// What a result may differ by between the devices.
enum class Kind {
  Exact,      // copies, casts, fills, comparisons, selections, +-*/ sqrt (correctly rounded)
  Ulp,        // elementwise with exp/log/erf/tanh/pow: a few ulp of the compute type, which can
              // flip one rounding to 16 bits
  Reduction,  // sums in another order (tree vs. running sum)
  Gemm        // dot products in another order, and a different blocking
};

struct Tolerance {
  double rtol = 0;
  double atol = 0;
};

inline Tolerance tolerance(DType dtype, Kind kind) {
  if (kind == Kind::Exact) return {0, 0};
  const bool loose = kind != Kind::Ulp;
  switch (dtype) {
    case DType::Float64:
      return loose ? Tolerance{1e-10, 1e-10} : Tolerance{1e-13, 1e-14};
    case DType::Float32:
      return loose ? Tolerance{2e-5, 2e-5} : Tolerance{4e-6, 1e-6};
    case DType::Float16:
      return loose ? Tolerance{4e-3, 2e-3} : Tolerance{1e-3, 1e-5};
    case DType::BFloat16:
      return loose ? Tolerance{2e-2, 1e-2} : Tolerance{8e-3, 1e-4};
    default:
      return {0, 0};  // integers and bool are exact
  }
}

// A CPU tensor of `shape` and `dtype` with values uniform in [low, high) from a private stream
// (the default generator is left alone). Integer dtypes get whole numbers, bool 0/1.
inline Tensor input(const Shape& shape, DType dtype, uint64_t seed, double low = -2.0,
                    double high = 2.0) {
  const int64_t n = shape_numel(shape);
  std::vector<double> values(static_cast<size_t>(n));
  if (n > 0) random::fill_uniform(values.data(), n, low, high, seed, 0);
  if (!is_floating(dtype))
    for (double& v : values) v = dtype == kBool ? (v > 0 ? 1 : 0) : std::floor(std::abs(v) * 10);
  return from_vector(values, shape, TensorOptions(kFloat64)).to(dtype);
}

// The same values as a non-contiguous view: stored transposed in the last two dims (or with a
// step of 2 for 1-D), so kernels see real strides.
inline Tensor strided_input(const Shape& shape, DType dtype, uint64_t seed) {
  if (shape.size() >= 2) {
    Shape swapped = shape;
    std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
    const int64_t d = static_cast<int64_t>(shape.size());
    return input(swapped, dtype, seed).transpose(d - 1, d - 2);
  }
  Shape doubled = shape;
  if (!doubled.empty()) doubled[0] *= 2;
  const Tensor base = input(doubled, dtype, seed);
  return shape.empty() ? base : base.slice(0, 0, base.size(0), 2);
}

// Moves a CPU tensor to the GPU keeping its layout (non-contiguous stays non-contiguous), so
// the CUDA kernels see the same strides as the CPU ones.
inline Tensor to_cuda_same_layout(const Tensor& t) {
  if (t.is_contiguous()) return t.to(kCUDA);
  // Find the dense base the view was cut from and move that, then re-cut it.
  const Tensor base =
      make_view(t, {static_cast<int64_t>(t.storage()->nbytes() / itemsize(t.dtype()))}, {1}, 0);
  const Tensor moved = base.to(kCUDA);
  return make_view(moved, t.sizes(), t.strides(), t.storage_offset());
}

// Compares a result from the GPU with the CPU's; returns "" or the first mismatch.
inline std::string compare(const Tensor& gpu, const Tensor& cpu, Kind kind) {
  std::ostringstream why;
  if (gpu.sizes() != cpu.sizes() || gpu.dtype() != cpu.dtype()) {
    why << "cuda gives " << describe(gpu) << ", cpu gives " << describe(cpu);
    return why.str();
  }
  const Tolerance tol = tolerance(cpu.dtype(), kind);
  const std::vector<double> a = gpu.to(kCPU).to_vector<double>();
  const std::vector<double> b = cpu.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (a[i] == b[i]) continue;  // also equal infinities
    if (std::abs(a[i] - b[i]) <= tol.atol + tol.rtol * std::abs(b[i])) continue;
    why << "element " << i << " of " << describe(cpu) << ": cuda " << a[i] << " vs cpu " << b[i]
        << " (rtol " << tol.rtol << ", atol " << tol.atol << ")";
    return why.str();
  }
  return "";
}

inline void check_same(const std::string& what, const Tensor& gpu, const Tensor& cpu, Kind kind) {
  const std::string mismatch = compare(gpu, cpu, kind);
  CHECK_MESSAGE(mismatch.empty(), what << ": " << mismatch);
}

// Runs fn on the CPU inputs and on their GPU copies and compares the outputs; when
// `backward` and some input is floating, also compares the gradients of sum(out * w).
// Gradients get `grad_kind` (by default the forward's kind loosened to Reduction, since
// broadcast inputs sum their gradients).
inline void check_op(const std::string& name, const Inputs& cpu_inputs, const OpFn& fn, Kind kind,
                     bool backward = true, std::optional<Kind> grad_kind = std::nullopt) {
  Inputs cpu_leaves, gpu_leaves;
  bool any_floating = false;
  for (const Tensor& t : cpu_inputs) {
    Tensor c = t.detach(), g = to_cuda_same_layout(t.detach());
    if (backward && t.is_floating_point()) {
      c.requires_grad_(true);
      g.requires_grad_(true);
      any_floating = true;
    }
    cpu_leaves.push_back(c);
    gpu_leaves.push_back(g);
  }
  const Tensor cpu_out = fn(cpu_leaves);
  const Tensor gpu_out = fn(gpu_leaves);
  CHECK_MESSAGE(gpu_out.device() == kCUDA, name << ": output is on " << gpu_out.device().str());
  check_same(name + " forward", gpu_out, cpu_out, kind);
  if (!backward || !any_floating || !cpu_out.requires_grad()) return;
  const Tensor w = input(cpu_out.sizes(), cpu_out.dtype(), 977, 0.5, 1.5);
  (cpu_out * w).sum().backward();
  (gpu_out * w.to(kCUDA)).sum().backward();
  const Kind gk = grad_kind.value_or(kind == Kind::Exact ? Kind::Reduction : kind);
  for (size_t i = 0; i < cpu_leaves.size(); ++i) {
    if (!cpu_leaves[i].requires_grad()) continue;
    const Tensor cg = cpu_leaves[i].grad(), gg = gpu_leaves[i].grad();
    REQUIRE_MESSAGE(cg.defined() == gg.defined(), name << ": input " << i << " has a gradient on "
                                                       << (cg.defined() ? "cpu" : "cuda")
                                                       << " only");
    if (!cg.defined()) continue;
    CHECK_MESSAGE(gg.device() == kCUDA,
                  name << ": gradient " << i << " is on " << gg.device().str());
    check_same(name + " grad of input " + std::to_string(i), gg, cg, gk);
  }
}

}  // namespace hg::cuda_test
