// hg::cuda queries when halfgrad is built without CUDA (kernels/cuda/ defines them otherwise).
#include "core/device.h"

#ifndef HG_WITH_CUDA
namespace hg::cuda {
bool is_available() { return false; }
int device_count() { return 0; }
}  // namespace hg::cuda
#endif
