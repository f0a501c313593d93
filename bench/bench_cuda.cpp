// GPU benchmarks for the CUDA backend (issue 6 targets, docs/performance.md):
//  - fp16/bf16 GEMM at 4096^3 and 8192^3 (hg::matmul -> cuBLAS), TFLOP/s;
//  - elementwise and cast kernels as GB/s moved, against the device-to-device copy bandwidth
//    measured in the same run (cudaMemcpyAsync D2D of the same byte count);
//  - sort along rows (sort.cu's bitonic sort against PyTorch's radix sort), ms;
//  - the host's time per eager op on tiny tensors (microseconds): what makes a small model's
//    eager step slower than its CUDA graph (issue 7).
// Times are GPU times from CUDA events around a loop of launches on halfgrad's stream (the host
// enqueues faster than the GPU drains, so host overhead is hidden as in PyTorch's own timing).
// Prints one JSON line per measurement, then a ratio table. bench/torch_cuda_ref.py prints the
// same JSON for PyTorch; tools/gpu_check.sh puts both side by side.
//
//   bench_cuda [--quick]   (--quick: smaller sizes and fewer repeats, for a smoke run)
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda_timer.h"
#include "halfgrad/halfgrad.h"
#include "halfgrad/kernels/cuda/cuda_check.h"

namespace {

using namespace hg;
using hg::bench::time_ms;

struct Row {
  std::string name;
  double value;  // TFLOP/s or GB/s
  double ratio;  // to the copy bandwidth (elementwise) or 0
};

void bench_gemm(DType dtype, int64_t n, int iters, std::vector<Row>& rows) {
  NoGradGuard no_grad;
  const TensorOptions on_gpu = TensorOptions(dtype).device(kCUDA);
  const Tensor a = randn({n, n}, on_gpu), b = randn({n, n}, on_gpu);
  Tensor c;
  const double ms = time_ms([&] { c = matmul(a, b); }, iters);
  const double tflops = 2.0 * static_cast<double>(n) * n * n / (ms * 1e-3) / 1e12;
  std::printf(
      "{\"bench\":\"gemm\",\"impl\":\"halfgrad\",\"dtype\":\"%s\",\"n\":%lld,\"ms\":%.4f,"
      "\"tflops\":%.1f}\n",
      std::string(dtype_name(dtype)).c_str(), static_cast<long long>(n), ms, tflops);
  rows.push_back(
      {"gemm " + std::string(dtype_name(dtype)) + " " + std::to_string(n) + "^3", tflops, 0.0});
}

double bench_copy_bandwidth(int64_t bytes) {
  void* src = nullptr;
  void* dst = nullptr;
  HG_CUDA_CHECK(cudaMalloc(&src, static_cast<size_t>(bytes)));
  HG_CUDA_CHECK(cudaMalloc(&dst, static_cast<size_t>(bytes)));
  const double ms = time_ms(
      [&] {
        HG_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes),
                                      cudaMemcpyDeviceToDevice, cuda::current_stream()));
      },
      20);
  HG_CUDA_CHECK(cudaFree(src));
  HG_CUDA_CHECK(cudaFree(dst));
  const double gbps = 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;  // read + write
  std::printf(
      "{\"bench\":\"d2d_copy\",\"impl\":\"cuda\",\"bytes\":%lld,\"ms\":%.4f,\"gbps\":%.1f}\n",
      static_cast<long long>(bytes), ms, gbps);
  return gbps;
}

struct ElementwiseCase {
  const char* name;
  DType in_dtype;
  DType out_dtype;
  int inputs;  // tensors read
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
};

void bench_elementwise(int64_t n, double copy_gbps, std::vector<Row>& rows) {
  NoGradGuard no_grad;
  const std::vector<ElementwiseCase> cases = {
      {"add", kFloat32, kFloat32, 2, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"add", kFloat16, kFloat16, 2, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"mul", kBFloat16, kBFloat16, 2, [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"relu", kFloat16, kFloat16, 1, [](const Tensor& a, const Tensor&) { return relu(a); }},
      {"gelu", kBFloat16, kBFloat16, 1, [](const Tensor& a, const Tensor&) { return gelu(a); }},
      {"affine", kFloat32, kFloat32, 1,
       [](const Tensor& a, const Tensor&) { return affine(a, 0.5, 1.0); }},
      {"cast", kFloat32, kFloat16, 1,
       [](const Tensor& a, const Tensor&) { return a.to(kFloat16); }},
      {"cast", kFloat16, kFloat32, 1,
       [](const Tensor& a, const Tensor&) { return a.to(kFloat32); }},
      {"cast", kFloat32, kBFloat16, 1,
       [](const Tensor& a, const Tensor&) { return a.to(kBFloat16); }},
      {"cast", kBFloat16, kFloat32, 1,
       [](const Tensor& a, const Tensor&) { return a.to(kFloat32); }},
  };
  for (const ElementwiseCase& c : cases) {
    const TensorOptions on_gpu = TensorOptions(c.in_dtype).device(kCUDA);
    const Tensor a = randn({n}, on_gpu), b = randn({n}, on_gpu);
    Tensor out;
    const double ms = time_ms([&] { out = c.fn(a, b); }, 20);
    const double bytes =
        static_cast<double>(n) * (c.inputs * static_cast<double>(itemsize(c.in_dtype)) +
                                  static_cast<double>(itemsize(c.out_dtype)));
    const double gbps = bytes / (ms * 1e-3) / 1e9;
    const std::string label = std::string(c.name) + " " + std::string(dtype_name(c.in_dtype)) +
                              "->" + std::string(dtype_name(c.out_dtype));
    std::printf(
        "{\"bench\":\"elementwise\",\"impl\":\"halfgrad\",\"op\":\"%s\",\"n\":%lld,"
        "\"ms\":%.4f,\"gbps\":%.1f,\"of_copy\":%.3f}\n",
        label.c_str(), static_cast<long long>(n), ms, gbps, gbps / copy_gbps);
    rows.push_back({label, gbps, gbps / copy_gbps});
  }
}

// Stable sort of each row of a [rows, cols] tensor, ms per call: the bitonic sort pads a row to
// a power of two and takes log2(padded / 2048) merge rounds, so long rows cost the most.
void bench_sort(DType dtype, int64_t rows_count, int64_t cols, std::vector<Row>& rows) {
  NoGradGuard no_grad;
  const Tensor x = randn({rows_count, cols}, TensorOptions(dtype).device(kCUDA));
  ValuesIndices sorted;
  const double ms = time_ms([&] { sorted = sort(x, 1); }, 10);
  const std::string shape = std::to_string(rows_count) + "x" + std::to_string(cols);
  std::printf(
      "{\"bench\":\"sort\",\"impl\":\"halfgrad\",\"dtype\":\"%s\",\"n\":%lld,"
      "\"op\":\"%s\",\"ms\":%.4f}\n",
      std::string(dtype_name(dtype)).c_str(), static_cast<long long>(cols), shape.c_str(), ms);
  rows.push_back({"sort " + std::string(dtype_name(dtype)) + " " + shape + " (ms)", ms, 0.0});
}

// Host microseconds per call of `fn`: calls issued back to back, one synchronisation at the end.
// Each kernel here is far shorter than the host's work to issue it, so the device keeps up and
// the time is the host's: halfgrad's checks, dispatch, allocation and tape, and the launches.
double host_us(const std::function<void()>& fn, int iters) {
  for (int i = 0; i < 200; ++i) fn();
  cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  cuda::synchronize();
  const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
  return spent.count() / iters;
}

void bench_host_overhead(int iters, std::vector<Row>& rows) {
  const TensorOptions on_gpu = TensorOptions(kFloat32).device(kCUDA);
  const Tensor a = randn({4}, on_gpu), b = randn({4}, on_gpu);
  const Tensor w = randn({4}, on_gpu).requires_grad_();
  const Tensor x = randn({4, 16}, on_gpu), w1 = randn({16, 16}, on_gpu).requires_grad_();
  const Tensor b1 = zeros({16}, on_gpu).requires_grad_(), w2 = randn({4, 16}, on_gpu);
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"add [4] no grad",
       [&] {
         NoGradGuard no_grad;
         (void)(a + b);
       }},
      {"add [4] taped", [&] { (void)(a + w); }},
      {"linear [4,16] x [16,16] + bias no grad",
       [&] {
         NoGradGuard no_grad;
         (void)linear(x, w1, b1);
       }},
      {"tiny mlp forward + backward",
       [&] { linear(relu(linear(x, w1, b1)), w2).sum().backward(); }},
  };
  for (const auto& [name, fn] : cases) {
    const double us = host_us(fn, iters);
    std::printf("{\"bench\":\"host_overhead\",\"impl\":\"halfgrad\",\"op\":\"%s\",\"us\":%.2f}\n",
                name.c_str(), us);
    rows.push_back({"host us/call: " + name, us, 0.0});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!cuda::is_available()) {
    std::printf("bench_cuda: no CUDA device, nothing to measure\n");
    return 0;
  }
  try {
    std::vector<Row> rows;
    const std::vector<int64_t> sizes =
        quick ? std::vector<int64_t>{1024, 2048} : std::vector<int64_t>{4096, 8192};
    for (DType dtype : {kFloat16, kBFloat16})
      for (int64_t n : sizes) bench_gemm(dtype, n, n >= 8192 ? 10 : 40, rows);
    const int64_t elements = quick ? (int64_t{1} << 22) : (int64_t{1} << 26);  // 256 MiB fp32
    const double copy_gbps = bench_copy_bandwidth(elements * 4);
    bench_elementwise(elements, copy_gbps, rows);
    bench_sort(kFloat32, quick ? 16 : 256, 50000, rows);
    bench_sort(kFloat16, quick ? 2 : 16, int64_t{1} << 20, rows);
    bench_host_overhead(quick ? 500 : 5000, rows);
    std::printf("\n%-32s %12s %10s\n", "benchmark", "TFLOP/s|GB/s", "of copy");
    std::printf("%-32s %12.1f %10s\n", "d2d copy (GB/s)", copy_gbps, "1.000");
    for (const Row& r : rows) {
      if (r.ratio > 0)
        std::printf("%-32s %12.1f %10.3f\n", r.name.c_str(), r.value, r.ratio);
      else
        std::printf("%-32s %12.1f %10s\n", r.name.c_str(), r.value, "-");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
