// hg::cuda when halfgrad is built without CUDA (kernels/cuda/ defines these otherwise): queries
// say "no device", switches are remembered but change nothing, transfers throw.
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/cuda_graph.h"
#include "halfgrad/core/error.h"

#ifndef HG_WITH_CUDA
namespace hg::cuda {

namespace {
bool sync_flag = false;
bool tf32_flag = false;
bool implicit_gemm_flag = false;
}  // namespace

bool is_available() { return false; }
int device_count() { return 0; }
void synchronize() {}

MemoryStats memory_stats() { return {}; }
void reset_peak_memory_stats() {}
void empty_cache() {}
std::size_t allocation_size_class(std::size_t nbytes) { return nbytes; }

void set_sync_after_launch(bool on) { sync_flag = on; }
bool sync_after_launch() { return sync_flag; }
void set_allow_tf32(bool on) { tf32_flag = on; }
bool allow_tf32() { return tf32_flag; }
void set_implicit_gemm_conv(bool on) { implicit_gemm_flag = on; }
bool implicit_gemm_conv() { return implicit_gemm_flag; }
bool is_capturing() { return false; }
int64_t graph_replays() { return 0; }
int64_t cublaslt_epilogue_calls() { return 0; }

void copy_host_to_device(void*, const void*, std::size_t nbytes) {
  HG_FAIL("to: cannot copy ", nbytes, " bytes to cuda: halfgrad was built without CUDA support");
}
void copy_device_to_host(void*, const void*, std::size_t nbytes) {
  HG_FAIL("to: cannot copy ", nbytes, " bytes from cuda: halfgrad was built without CUDA support");
}

struct Graph::Impl {};
Graph::Graph() = default;
Graph::~Graph() = default;
void Graph::capture(const std::function<void()>&) {
  HG_FAIL("cuda::Graph::capture: no CUDA device is available (halfgrad was built without CUDA)");
}
void Graph::replay() {
  HG_FAIL("cuda::Graph::replay: no CUDA device is available (halfgrad was built without CUDA)");
}
bool Graph::captured() const { return false; }
int64_t Graph::kernel_launches() const { return 0; }
int64_t Graph::nodes() const { return 0; }

}  // namespace hg::cuda
#endif
