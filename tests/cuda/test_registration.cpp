// Every dispatch table has its CUDA column filled when the CUDA backend is built in (the
// backend's static registrars in kernels/cuda/*register.cpp run at load time), so no op on a
// CUDA tensor fails with "no kernel for device cuda:0". Runs without a GPU: it only inspects the
// tables. In a CPU-only build the CUDA column is empty and asking for it is an hg::Error.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/fused_nn_kernels.h"
#include "halfgrad/kernels/kernels.h"
#include "halfgrad/kernels/nn_kernels.h"
#include "halfgrad/kernels/random_kernels.h"
#include "test_util.h"

using namespace hg;

namespace {

struct Column {
  std::string family;
  bool cpu, cuda;
};

template <typename Fn>
Column column_of(const kernels::DispatchTable<Fn>& table) {
  return {table.family, table.fns[static_cast<int>(DeviceType::CPU)] != nullptr,
          table.fns[static_cast<int>(DeviceType::CUDA)] != nullptr};
}

std::vector<Column> all_columns() {
  namespace k = kernels;
  return {column_of(k::copy),
          column_of(k::fill),
          column_of(k::unary),
          column_of(k::unary_backward),
          column_of(k::binary),
          column_of(k::where),
          column_of(k::reduce),
          column_of(k::arg_reduce),
          column_of(k::gemm),
          column_of(k::gemm_bias),
          column_of(k::gemm_bias_grad),
          column_of(k::softmax),
          column_of(k::softmax_backward),
          column_of(k::random_fill),
          column_of(k::conv2d),
          column_of(k::conv2d_backward),
          column_of(k::max_pool2d),
          column_of(k::max_pool2d_backward),
          column_of(k::avg_pool2d),
          column_of(k::avg_pool2d_backward),
          column_of(k::adaptive_pool2d),
          column_of(k::adaptive_avg_pool2d_backward),
          column_of(k::batch_norm),
          column_of(k::batch_norm_backward),
          column_of(k::layer_norm),
          column_of(k::layer_norm_backward),
          column_of(k::nll_loss),
          column_of(k::nll_loss_backward),
          column_of(k::embedding),
          column_of(k::embedding_backward),
          column_of(k::dropout),
          column_of(k::cross_entropy),
          column_of(k::cross_entropy_backward),
          column_of(k::unscale_grads),
          column_of(k::cast_tensors),
          column_of(k::scale_update),
          column_of(k::fused_sgd),
          column_of(k::fused_adam),
          column_of(k::fused_rmsprop),
          column_of(k::fused_adagrad)};
}

}  // namespace

TEST_CASE("every kernel family has a CPU column, and a CUDA column exactly in CUDA builds") {
#if defined(HG_WITH_CUDA) || defined(HG_CUDA_EMULATED)  // (tests/cuda_emu fills it too)
  constexpr bool kCudaBuilt = true;
#else
  constexpr bool kCudaBuilt = false;
#endif
  const std::vector<Column> columns = all_columns();
  CHECK(columns.size() == 40);
  for (const Column& c : columns) {
    CHECK_MESSAGE(c.cpu, c.family << " has no CPU kernel");
    CHECK_MESSAGE(c.cuda == kCudaBuilt,
                  c.family << (kCudaBuilt ? " has no CUDA kernel" : " has a CUDA kernel"));
  }
  if (!kCudaBuilt)
    hg::test::expect_error([] { (void)kernels::gemm(Device(DeviceType::CUDA)); },
                           {"gemm", "no kernel", "cuda:0"});
}
