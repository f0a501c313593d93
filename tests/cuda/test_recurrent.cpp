// The fused recurrent cells (kernels/cuda/recurrent.cu) against the CPU's: lstm_cell_pointwise
// and gru_cell_pointwise forward and backward in every floating dtype, with odd sizes.
#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("cuda lstm_cell_pointwise, gru_cell_pointwise: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const std::string name(dtype_name(dtype));
    for (const auto& [rows, hidden] : {std::pair<int64_t, int64_t>{5, 3}, {7, 33}}) {
      const Tensor lstm_x = cuda_test::input({rows, 4 * hidden}, dtype, 41);
      const Tensor lstm_h = cuda_test::input({rows, 4 * hidden}, dtype, 42);
      const Tensor state = cuda_test::input({rows, hidden}, dtype, 43);
      cuda_test::check_op(
          "lstm_cell_pointwise " + name, {lstm_x, lstm_h, state},
          [](const Inputs& in) {
            const auto [h, c] = lstm_cell_pointwise(in[0], in[1], in[2]);
            return cat({h, c}, 1);  // both outputs, so both gradients flow back
          },
          Kind::Ulp);
      const Tensor gru_x = cuda_test::input({rows, 3 * hidden}, dtype, 44);
      const Tensor gru_h = cuda_test::input({rows, 3 * hidden}, dtype, 45);
      cuda_test::check_op(
          "gru_cell_pointwise " + name, {gru_x, gru_h, state},
          [](const Inputs& in) { return gru_cell_pointwise(in[0], in[1], in[2]); }, Kind::Ulp);
    }
  }
}
