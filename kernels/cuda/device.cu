// hg::cuda device queries. The CUDA backend proper (allocator, kernels, cuBLAS) builds on this.
#include <cuda_runtime.h>

#include "halfgrad/core/device.h"

namespace hg::cuda {

int device_count() {
  int count = 0;
  // No driver or no device is not an error here: it means "no CUDA".
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

bool is_available() { return device_count() > 0; }

}  // namespace hg::cuda
