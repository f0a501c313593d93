// The dispatch tables: a kernel's own error, raised on a device, comes back naming the family,
// the device and the views (a CUDA launch failure only knows its file and line).
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/kernels.h"
#include "test_util.h"

using namespace hg;

namespace {
void failing_unary(kernels::UnaryOp, const kernels::TensorView&, const kernels::TensorView&,
                   const kernels::UnaryParams&) {
  throw Error("CUDA error at unary.cu:1 in unary_kernel<<<>>>: invalid configuration argument");
}

kernels::TensorView view_of(DType dtype, std::initializer_list<int64_t> sizes) {
  kernels::TensorView view;
  view.dtype = dtype;
  for (int64_t size : sizes) view.sizes[view.ndim++] = size;
  return view;
}

std::string message_of(Device device) {
  kernels::DispatchTable<kernels::UnaryFn> table{"unary", {}};
  table.set(device.type, failing_unary);
  try {
    table(device)(kernels::UnaryOp::Exp, view_of(DType::Float16, {2, 3}),
                  view_of(DType::Float16, {2, 3}), {});
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a kernel error on the GPU names the family, device and views") {
  CHECK(message_of(kCUDA) ==
        "CUDA error at unary.cu:1 in unary_kernel<<<>>>: invalid configuration argument (in the "
        "unary kernel on cuda:0, views [2, 3] float16, [2, 3] float16)");
}

TEST_CASE("a list kernel's error (no views among its arguments) names the family and device") {
  kernels::DispatchTable<kernels::FusedSgdFn> table{"fused_sgd", {}};
  table.set(DeviceType::CUDA,
            [](const kernels::FusedSgdTensor*, int64_t, const kernels::FusedStepInputs&, double,
               const kernels::FusedSgdParams&) { throw Error("launch failed"); });
  hg::test::expect_error([&] { table(kCUDA)(nullptr, 0, {}, 1.0, {}); },
                         {"launch failed (in the fused_sgd kernel on cuda:0)"});
}

TEST_CASE("a CPU kernel's error passes through unchanged") {
  CHECK(message_of(kCPU) ==
        "CUDA error at unary.cu:1 in unary_kernel<<<>>>: invalid configuration argument");
}

TEST_CASE("a family without a kernel for the device says so") {
  kernels::DispatchTable<kernels::UnaryFn> table{"unary", {}};
  hg::test::expect_error([&] { table(kCUDA); }, {"unary: no kernel for device cuda:0"});
}
