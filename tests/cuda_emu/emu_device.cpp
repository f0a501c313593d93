// The emulated CUDA device: in hg_test_cuda_emu, tensors on kCUDA live in host memory and the
// kernel tables' CUDA column holds the emulated kernels (kernels/cuda/*_register.cpp, compiled
// as they are), so tests/cuda's parity cases run through the CUDA code paths of the whole
// library (the ops' CUDA branches, the fused optimizers, the device-side loss scaling) without
// a GPU.
//
// The runtime functions here replace libhalfgrad's CPU-only stubs (core/cuda_runtime_stub.cpp)
// in this process: the executable's definitions interpose on the shared library's. Every
// kernel family is the emulated CUDA one.
#include <cstring>

#include "core/allocator.h"
#include "core/cuda.h"
#include "kernels/cuda/graph_pool.h"
#include "kernels/cuda/target_check.h"

namespace hg::cuda {

bool is_available() { return true; }
int device_count() { return 1; }
void synchronize() { report_bad_targets(); }

void copy_host_to_device(void* dst, const void* src, std::size_t nbytes) {
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}
void copy_device_to_host(void* dst, const void* src, std::size_t nbytes) {
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}

// No graph is ever captured here (core/cuda_graph.h's stub refuses): nothing to relax.
RelaxedCaptureMode::RelaxedCaptureMode() : previous_(0) {}
RelaxedCaptureMode::~RelaxedCaptureMode() { (void)previous_; }

namespace {

// Device memory is the CPU's, from the start: tensors may be made on kCUDA before any test.
[[maybe_unused]] const bool device_memory = [] {
  register_allocator(DeviceType::CUDA, &cpu_allocator());
  return true;
}();

}  // namespace
}  // namespace hg::cuda
