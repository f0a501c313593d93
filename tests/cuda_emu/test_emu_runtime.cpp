// The emulated CUDA runtime (tests/cuda_emu/emu_runtime.cpp, emu_capture.cpp): device memory and
// its checks, work that runs when the host waits for it, stream capture with what it forbids,
// graphs that replay launches with the arguments they had at the launch, events recorded in a
// capture. Each rule is one that kernels/cuda's runtime
// files rely on, shown here to hold (and to fail as CUDA fails) on the emulated device.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "emu.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "quiet_reporter.h"

namespace {

using hg_emu::LaunchConfig;

void store_kernel(float* out, float value) { out[threadIdx.x] = value; }

// A struct argument that lists its pointers, as kernels/cuda's multi-tensor lists do.
struct TwoOutputs {
  float* first;
  float* second;  // null: none
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(first);
    visit(second);
  }
};
void store_both_kernel(TwoOutputs out, float value) {
  out.first[threadIdx.x] = value;
  if (out.second != nullptr) out.second[threadIdx.x] = value;
}
void store_both(float* first, float* second) {
  hg_emu::launch_named(
      "store_both_kernel", LaunchConfig{dim3(1), dim3(4), 0, nullptr},
      [](auto... a) { store_both_kernel(a...); }, TwoOutputs{first, second}, 3.0f);
}

void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 16)
    __syncthreads();  // the other half never arrives, and never returns: a deadlock
  else
    for (;;) __syncwarp();
  out[threadIdx.x] = 1.0f;
}

cudaStream_t new_stream() {
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  return stream;
}

void* device_bytes(std::size_t bytes) {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, bytes) == cudaSuccess);
  return p;
}

float* pinned_floats(std::size_t count) {
  float* p = nullptr;
  REQUIRE(cudaHostAlloc(reinterpret_cast<void**>(&p), count * sizeof(float),
                        cudaHostAllocDefault) == cudaSuccess);
  return p;
}

// Four floats in device memory set to `value` by a kernel on `stream` (recorded when capturing).
void store(cudaStream_t stream, float* out, float value) {
  hg_emu::launch_named(
      "store_kernel", LaunchConfig{dim3(1), dim3(4), 0, stream},
      [](auto... a) { store_kernel(a...); }, out, value);
}

std::vector<float> read(const float* device, std::size_t n) {
  std::vector<float> out(n);
  REQUIRE(cudaMemcpyAsync(out.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost, nullptr) ==
          cudaSuccess);
  return out;
}

// Ends `stream`'s capture, expecting it to have been invalidated.
void expect_invalidated(cudaStream_t stream) {
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  cudaGetLastError();
}

// At the end of every test case of this executable, the device work it left queued runs: an
// error there (a bad pointer at a graph replay, a deadlock) ends the process with a message,
// instead of vanishing with it (ctest runs each case in a process of its own). Then the caching
// allocator's idle blocks are freed: the emulator opens and closes every live block around each
// piece of device work, so a process that runs many cases (the whole executable, or a ctest
// entry's group of them) would otherwise pay for every earlier case's cached blocks at each
// synchronisation (its cases took 1.3x their time one by one).
struct RunQueuedWork : hg::test::QuietReporter {
  explicit RunQueuedWork(const doctest::ContextOptions&) {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    try {
      (void)cudaStreamSynchronize(nullptr);
      hg::cuda::empty_cache();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cuda_emu: device work queued by the test case failed: %s\n", e.what());
      std::_Exit(1);  // (no unwinding through doctest from a listener)
    }
  }
};
REGISTER_LISTENER("cuda_emu_run_queued_work", 1, RunQueuedWork);

}  // namespace

TEST_CASE("emulated device memory: fresh blocks hold NaNs, capacity, copies checked by kind") {
  auto* p = static_cast<float*>(device_bytes(16));
  CHECK(std::isnan(read(p, 4)[0]));  // as uninitialised as a GPU's, not zeros
  std::size_t free_bytes = 0, total = 0;
  cudaMemGetInfo(&free_bytes, &total);
  hg_emu::set_device_memory(total - free_bytes + 1024);  // 1 KiB left
  void* big = nullptr;
  CHECK(cudaMalloc(&big, 2048) == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaSuccess);             // read once
  hg_emu::set_device_memory((total - free_bytes) / 2);  // below what is in use: nothing free
  CHECK(cudaMalloc(&big, 16) == cudaErrorMemoryAllocation);
  cudaMemGetInfo(&free_bytes, &total);
  CHECK(free_bytes == 0);
  cudaGetLastError();
  hg_emu::set_device_memory(std::size_t{16} << 30);
  const float host[4] = {1, 2, 3, 4};
  CHECK(cudaMemcpyAsync(p, host, 16, cudaMemcpyHostToDevice, nullptr) == cudaSuccess);
  CHECK(read(p, 4) == std::vector<float>{1, 2, 3, 4});
  float back[4] = {};
  // the kind must match the pointers, and a copy must stay inside its block
  CHECK(cudaMemcpyAsync(back, p, 16, cudaMemcpyHostToDevice, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaMemcpyAsync(back, p, 20, cudaMemcpyDeviceToHost, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaMemsetAsync(back, 0, 16, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaFree(back) == cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK(cudaFree(p) == cudaSuccess);
}

TEST_CASE("a kernel given host memory, or a block it runs past, is an error naming it") {
  std::vector<float> host(4);
  CHECK_THROWS_WITH_AS(store(nullptr, host.data(), 1.0f),
                       doctest::Contains("store_kernel's argument 1"), hg::Error);
  auto* p = static_cast<float*>(device_bytes(16));
  // a struct argument's pointers too (a null one is absent)
  CHECK_THROWS_WITH_AS(store_both(p, host.data()),
                       doctest::Contains("store_both_kernel's argument 1 (pointer 2 inside it)"),
                       hg::Error);
  store_both(p, nullptr);
  CHECK(read(p, 4) == std::vector<float>(4, 3.0f));
  CHECK_THROWS_WITH(hg_emu::require_device_memory(p + 2, 12, false, "a row"),
                    doctest::Contains("runs past the end"));
  store(nullptr, p, 2.0f);  // device memory: runs
  CHECK(read(p, 4) == std::vector<float>(4, 2.0f));
  cudaFree(p);
}

// Runs `act` in a child process whose SIGSEGV goes to the emulator's handler, then to the
// default action (no test report); returns what the child wrote to stderr, and expects it to have
// died of SIGSEGV.
template <typename Act>
std::string segfault_message(const Act& act) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  if (child == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    std::signal(SIGSEGV, SIG_DFL);
    void* scratch = device_bytes(16);
    cudaMemsetAsync(scratch, 0, 16, nullptr);
    cudaStreamSynchronize(nullptr);  // the device ran: its memory closes, the handler goes back
    act();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
    message.append(buffer, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSEGV);
  return message;
}

TEST_CASE("device memory faults when host code touches it, or a kernel runs past a block") {
  auto* p = static_cast<float*>(device_bytes(16));
  const std::string host = segfault_message([p] {
    const volatile float touched = p[0];
    (void)touched;
  });
  CHECK(host.find("device memory touched") != std::string::npos);
  CHECK(host.find("block of 16 bytes") != std::string::npos);
  auto* q = static_cast<float*>(device_bytes(256));  // 64 floats; a 65th thread writes past it
  const std::string kernel = segfault_message([q] {
    hg_emu::launch_named(
        "store_kernel", LaunchConfig{dim3(1), dim3(65), 0, nullptr},
        [](auto... a) { store_kernel(a...); }, q, 1.0f);
    cudaStreamSynchronize(nullptr);
  });
  CHECK(kernel.find("block of 256 bytes") != std::string::npos);
  // a handler that was there before the emulator's is called next, directly
  const std::string chained = segfault_message([p] {
    std::signal(SIGSEGV, [](int) {
      const char text[] = "previous handler called\n";
      (void)!write(STDERR_FILENO, text, sizeof text - 1);
      std::signal(SIGSEGV, SIG_DFL);
    });
    cudaMemsetAsync(p, 0, 16, nullptr);
    cudaStreamSynchronize(nullptr);  // the emulator's handler goes in front of it again
    const volatile float touched = p[0];
    (void)touched;
  });
  CHECK(chained.find("device memory touched") < chained.find("previous handler called"));
  cudaFree(p);
  cudaFree(q);
}

TEST_CASE("device work runs when the host waits for it, as on a GPU") {
  cudaStream_t stream = new_stream();
  auto* p = static_cast<float*>(device_bytes(16));
  float* pinned = pinned_floats(4);
  pinned[0] = -1.0f;
  cudaEvent_t landed = nullptr;
  cudaEventCreateWithFlags(&landed, cudaEventDisableTiming);
  store(stream, p, 7.0f);
  REQUIRE(cudaMemcpyAsync(pinned, p, 16, cudaMemcpyDeviceToHost, stream) == cudaSuccess);
  cudaEventRecord(landed, stream);
  CHECK(std::isnan(pinned[0]));  // queued: a host that reads now reads fresh bytes (NaNs)
  REQUIRE(cudaEventSynchronize(landed) == cudaSuccess);
  CHECK(pinned[0] == 7.0f);
  // a copy from pageable memory takes its source at the call, one from pinned memory at its run
  float pageable[4] = {1, 2, 3, 4};
  cudaMemcpyAsync(p, pageable, 16, cudaMemcpyHostToDevice, stream);
  pageable[0] = 99.0f;
  CHECK(read(p, 4) == std::vector<float>{1, 2, 3, 4});  // (a copy into pageable memory waits)
  cudaMemcpyAsync(p, pinned, 16, cudaMemcpyHostToDevice, stream);
  pinned[0] = 5.0f;  // a write before the wait for the copy: a race, reported at its run
  CHECK_THROWS_WITH(cudaStreamSynchronize(stream),
                    doctest::Contains("the host wrote pinned memory at"));
  // in stream order a copy out of a pinned buffer runs before a later copy into it
  pinned[0] = 6.0f;
  cudaMemcpyAsync(p, pinned, 16, cudaMemcpyHostToDevice, stream);
  store(stream, p + 1, 8.0f);
  cudaMemcpyAsync(pinned, p + 1, 4, cudaMemcpyDeviceToHost, stream);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(read(p, 1)[0] == 6.0f);
  CHECK(pinned[0] == 8.0f);
  // an error in queued work comes out of the wait for it
  hg_emu::launch_named(
      "divergent_barrier_kernel", LaunchConfig{dim3(1), dim3(32), 0, stream},
      [](auto... a) { divergent_barrier_kernel(a...); }, p);
  CHECK_THROWS_WITH(cudaStreamSynchronize(stream), doctest::Contains("deadlock"));
  CHECK(cudaStreamSynchronize(stream) == cudaSuccess);  // the queue was dropped
  cudaFreeHost(pinned);
  cudaFree(p);
}

TEST_CASE("a captured launch replays with the arguments it had at the capture") {
  cudaStream_t stream = new_stream();
  auto* p = static_cast<float*>(device_bytes(16));
  float value = 3.0f;
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  store(stream, p, value);  // recorded, not run
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  CHECK(std::isnan(read(p, 4)[0]));
  std::size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  CHECK(nodes == 1);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  value = 5.0f;  // a host value changed after the capture does not reach the replay
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  CHECK(read(p, 4) == std::vector<float>(4, 3.0f));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaFree(p);
}

TEST_CASE("device work queued before a pinned copy may write its source (not the host's doing)") {
  cudaStream_t stream = new_stream();
  auto* p = static_cast<float*>(device_bytes(16));
  float* pinned = pinned_floats(4);
  // a kernel writes the pinned buffer (unified addressing), then a copy reads it: stream order
  store(stream, pinned, 4.0f);
  cudaMemcpyAsync(p, pinned, 16, cudaMemcpyHostToDevice, stream);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(read(p, 4) == std::vector<float>(4, 4.0f));
  // the same from a graph replay, which may touch any pinned memory
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  store(stream, pinned, 9.0f);
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  cudaMemcpyAsync(p, pinned, 16, cudaMemcpyHostToDevice, stream);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(read(p, 4) == std::vector<float>(4, 9.0f));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaFreeHost(pinned);
  cudaFree(p);
}

TEST_CASE("what a capture forbids fails it as in CUDA, unless relaxed") {
  cudaStream_t stream = new_stream();
  auto* p = static_cast<float*>(device_bytes(16));
  SUBCASE("synchronising the capturing stream") {
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaStreamSynchronize(stream) == cudaErrorStreamCaptureUnsupported);
    expect_invalidated(stream);
  }
  SUBCASE("cudaMalloc, but not in relaxed mode") {
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode);
    void* allowed = device_bytes(16);
    cudaThreadExchangeStreamCaptureMode(&mode);
    CHECK(mode == cudaStreamCaptureModeRelaxed);  // the previous mode came back
    void* refused = nullptr;
    CHECK(cudaMalloc(&refused, 16) == cudaErrorStreamCaptureUnsupported);
    expect_invalidated(stream);
    cudaFree(allowed);
  }
  SUBCASE("a copy from pageable memory; pinned memory is recorded") {
    float* pinned = pinned_floats(4);
    const float pageable[4] = {};
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaMemcpyAsync(p, pinned, 16, cudaMemcpyHostToDevice, stream) == cudaSuccess);
    CHECK(cudaMemcpyAsync(p, pageable, 16, cudaMemcpyHostToDevice, stream) ==
          cudaErrorStreamCaptureUnsupported);
    expect_invalidated(stream);
    cudaFreeHost(pinned);
  }
  SUBCASE("waiting on an event recorded in the capture") {
    cudaEvent_t event = nullptr;
    cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaEventRecord(event, stream) == cudaSuccess);
    cudaGraph_t graph = nullptr;
    REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
    CHECK(cudaEventSynchronize(event) == cudaErrorCapturedEvent);
    cudaEventRecord(event, stream);  // recorded eagerly again: complete
    CHECK(cudaEventSynchronize(event) == cudaSuccess);
    cudaGraphDestroy(graph);
  }
  SUBCASE("work on another stream (stricter than CUDA, which would run it outside the graph)") {
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    CHECK_THROWS_WITH_AS(store(nullptr, p, 1.0f), doctest::Contains("outside the graph"),
                         hg::Error);
    cudaGraph_t graph = nullptr;
    REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
    cudaGraphDestroy(graph);
  }
  cudaGetLastError();
  cudaFree(p);
}

// Run only by the ctest entry "cuda_emu: work a test case leaves queued runs at its end" (doctest
// skips it otherwise): its deadlocking kernel is still queued when the case ends.
TEST_CASE("a test case that leaves a deadlocking kernel queued" * doctest::skip()) {
  auto* p = static_cast<float*>(device_bytes(256));
  hg_emu::launch_named(
      "divergent_barrier_kernel", LaunchConfig{dim3(1), dim3(32), 0, nullptr},
      [](auto... a) { divergent_barrier_kernel(a...); }, p);
}
