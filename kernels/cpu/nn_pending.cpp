// TEMPORARY: placeholders for nn kernels being written now; each is deleted from this file
// when its real implementation lands. This file must be gone before the work is submitted.
#include "core/error.h"
#include "kernels/cpu/cpu_nn_kernels.h"

namespace hg::kernels::cpu {

// ---- conv/pool (owner: conv/pool work) ----
void conv2d(const TensorView&, const TensorView&, const TensorView*, const TensorView&,
            const Conv2dParams&) { HG_FAIL("conv2d: pending"); }
void conv2d_backward(const TensorView&, const TensorView&, const TensorView&, const TensorView*,
                     const TensorView*, const TensorView*, const Conv2dParams&) {
  HG_FAIL("conv2d_backward: pending");
}
void max_pool2d(const TensorView&, const TensorView&, const TensorView&, const Pool2dParams&) {
  HG_FAIL("max_pool2d: pending");
}
void max_pool2d_backward(const TensorView&, const TensorView&, const TensorView&) {
  HG_FAIL("max_pool2d_backward: pending");
}
void avg_pool2d(const TensorView&, const TensorView&, const Pool2dParams&) {
  HG_FAIL("avg_pool2d: pending");
}
void avg_pool2d_backward(const TensorView&, const TensorView&, const Pool2dParams&) {
  HG_FAIL("avg_pool2d_backward: pending");
}
void adaptive_pool2d(bool, const TensorView&, const TensorView&, const TensorView*) {
  HG_FAIL("adaptive_pool2d: pending");
}
void adaptive_avg_pool2d_backward(const TensorView&, const TensorView&) {
  HG_FAIL("adaptive_avg_pool2d_backward: pending");
}

}  // namespace hg::kernels::cpu
