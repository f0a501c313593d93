// The CUDA runtime: moving tensors between devices (with autograd), the caching allocator,
// errors for misuse. The first case runs without a GPU too: it checks the CPU-only errors.
#include <sstream>

#include "parity.h"
#include "test_util.h"

using namespace hg;
using hg::cuda_test::input;

TEST_CASE("to(kCUDA) without a GPU is a clear error") {
  if (cuda::is_available()) return;
  hg::test::expect_error([] { (void)ones({2, 3}).to(kCUDA); }, {"to", "cuda:0", "no CUDA device"});
  hg::test::expect_error([] { (void)zeros({2}, TensorOptions().device(kCUDA)); }, {"cuda"});
}

TEST_CASE("to moves every dtype to the GPU and back bit for bit") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kAllDtypes) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{5}, Shape{3, 7}, Shape{2, 3, 4}}) {
      const Tensor cpu = input(shape, dtype, 11);
      const Tensor gpu = cpu.to(kCUDA);
      CHECK(gpu.device() == kCUDA);
      CHECK(gpu.dtype() == dtype);
      CHECK(gpu.sizes() == shape);
      cuda_test::check_same("round trip", gpu, cpu, cuda_test::Kind::Exact);
    }
  }
}

TEST_CASE("to copies non-contiguous and large tensors (pinned staging, several chunks)") {
  HG_REQUIRE_CUDA();
  const Tensor t = cuda_test::strided_input({33, 17}, kFloat32, 3);
  cuda_test::check_same("transposed", t.to(kCUDA), t, cuda_test::Kind::Exact);
  const Tensor gpu_view = t.to(kCUDA).t();  // a strided CUDA view going back
  cuda_test::check_same("strided back", gpu_view.to(kCPU), t.t(), cuda_test::Kind::Exact);
  // 20 MiB: three 8 MiB staging chunks each way, the last one partial.
  const Tensor big = input({5 * 1024 * 1024 + 3}, kFloat32, 5);
  const Tensor back = big.to(kCUDA).to(kCPU);
  CHECK(back.to_vector<float>() == big.to_vector<float>());
}

TEST_CASE("gradients flow back across to(device)") {
  HG_REQUIRE_CUDA();
  Tensor w = input({4, 3}, kFloat32, 1).requires_grad_(true);
  const Tensor y = (w.to(kCUDA) * 3.0).sum();
  y.backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().device() == kCPU);
  hg::test::expect_close(hg::test::values(w.grad()), std::vector<double>(12, 3.0));
  Tensor v = input({5}, kFloat32, 2).to(kCUDA).requires_grad_(true);
  (v.to(kCPU) * v.to(kCPU)).sum().backward();
  CHECK(v.grad().device() == kCUDA);
  hg::test::expect_close(hg::test::values(v.grad()), hg::test::values(v * 2.0));
}

TEST_CASE("host reads of CUDA tensors: item, to_vector, printing, and host pointers refused") {
  HG_REQUIRE_CUDA();
  const Tensor t = full({2, 2}, 1.5, TensorOptions().device(kCUDA));
  CHECK(t.sum().item<float>() == 6.0f);
  CHECK(t.to_vector<double>() == std::vector<double>(4, 1.5));
  std::ostringstream out;
  out << t;
  CHECK(out.str().find("cuda:0") != std::string::npos);
  hg::test::expect_error([&] { (void)t.data<float>(); },
                         {"data<float32>", "cuda:0", "to(hg::kCPU)"});
}

TEST_CASE("ops mixing devices are errors that name the op") {
  HG_REQUIRE_CUDA();
  const Tensor a = ones({3}), b = ones({3}).to(kCUDA);
  hg::test::expect_error([&] { (void)(a + b); }, {"different devices", "cuda:0"});
  hg::test::expect_error(
      [&] {
        (void)matmul(ones({2, 2}), ones({2, 2}).to(kCUDA));
      },
      {"matmul", "cuda:0"});
  hg::test::expect_error([&] { (void)where(ones({3}, kBool), a, b); }, {"where"});
  hg::test::expect_error([&] { (void)ones({2}).to(Device(DeviceType::CUDA, 1)); }, {"cuda:1"});
}

TEST_CASE("caching allocator: size classes, reuse, statistics, empty_cache") {
  HG_REQUIRE_CUDA();
  CHECK(cuda::allocation_size_class(0) == 512);
  CHECK(cuda::allocation_size_class(513) == 1024);
  CHECK(cuda::allocation_size_class(1 << 20) == (1 << 20));
  CHECK(cuda::allocation_size_class((1 << 20) + 1) == (1 << 20) + (1 << 18));
  CHECK(cuda::allocation_size_class(3u << 20) == (3u << 20));
  cuda::synchronize();
  cuda::empty_cache();
  const cuda::MemoryStats before = cuda::memory_stats();
  {
    const Tensor t = empty({1000, 1000}, TensorOptions().device(kCUDA));  // 4 MB
    const cuda::MemoryStats during = cuda::memory_stats();
    CHECK(during.allocated == before.allocated + cuda::allocation_size_class(4000000));
    CHECK(during.reserved >= during.allocated);
    CHECK(during.peak_allocated >= during.allocated);
  }
  const cuda::MemoryStats after_free = cuda::memory_stats();
  CHECK(after_free.allocated == before.allocated);
  CHECK(after_free.reserved == before.reserved + cuda::allocation_size_class(4000000));
  {
    const Tensor again = empty({1000, 1000}, TensorOptions().device(kCUDA));
    const cuda::MemoryStats reuse = cuda::memory_stats();
    CHECK(reuse.cache_hits == after_free.cache_hits + 1);
    CHECK(reuse.device_mallocs == after_free.device_mallocs);
  }
  cuda::empty_cache();
  CHECK(cuda::memory_stats().reserved == before.reserved);
  cuda::reset_peak_memory_stats();
  CHECK(cuda::memory_stats().peak_allocated == cuda::memory_stats().allocated);
}

TEST_CASE("out of memory is an hg::Error that says what was asked and what is held") {
  HG_REQUIRE_CUDA();
  hg::test::expect_error(
      // 2^47 bytes (128 TiB): under empty()'s 2^48-element limit, over any GPU's memory.
      [] { (void)empty({int64_t{1} << 47}, TensorOptions().device(kCUDA).dtype(kUInt8)); },
      {"CUDA out of memory", "tried to allocate 140737488355328 bytes", "halfgrad holds",
       "reserved"});
  // The allocator still works afterwards.
  CHECK(ones({8}, TensorOptions().device(kCUDA)).sum().item<float>() == 8.0f);
}

TEST_CASE("debug sync mode and synchronize") {
  HG_REQUIRE_CUDA();
  const bool was = cuda::sync_after_launch();
  cuda::set_sync_after_launch(true);
  const Tensor t = ones({100}, TensorOptions().device(kCUDA)) * 2.0;
  cuda::set_sync_after_launch(was);
  cuda::synchronize();
  CHECK(t.sum().item<double>() == 200.0);
}

// The switch exists in every build (a no-op without CUDA) and takes effect for the next call.
TEST_CASE("the implicit-GEMM convolution switch is remembered") {
  const bool was = cuda::implicit_gemm_conv();
  cuda::set_implicit_gemm_conv(true);
  CHECK(cuda::implicit_gemm_conv());
  cuda::set_implicit_gemm_conv(false);
  CHECK_FALSE(cuda::implicit_gemm_conv());
  cuda::set_implicit_gemm_conv(was);
}
