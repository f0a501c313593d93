// The fused recurrent cells (kernels/cuda/recurrent.cu) against the CPU's: lstm_cell_pointwise
// and gru_cell_pointwise forward and backward in every floating dtype, with odd sizes; and whole
// LSTM (packed, projected) and GRU layers on the device, forward and parameter gradients; the
// whole-sequence ops they run on (lstm_sequence, gru_sequence), every dtype, both directions.
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

TEST_CASE("cuda lstm_sequence, gru_sequence: packed steps, both directions, the CPU's") {
  HG_REQUIRE_CUDA();
  const std::vector<int64_t> sizes{4, 4, 3, 1};  // 12 rows, a batch of 4
  for (const DType dtype : cuda_test::kFloatDtypes) {
    for (const bool reverse : {false, true}) {
      const std::string name = std::string(dtype_name(dtype)) + (reverse ? " reverse" : "");
      const int64_t hidden = 9;
      const Tensor h0 = cuda_test::input({4, hidden}, dtype, 51);
      const Tensor c0 = cuda_test::input({4, hidden}, dtype, 52);
      const Tensor w_hh = cuda_test::input({4 * hidden, hidden}, dtype, 53, -0.5, 0.5);
      const Tensor b_hh = cuda_test::input({4 * hidden}, dtype, 54);
      cuda_test::check_op(
          "lstm_sequence " + name,
          {cuda_test::input({12, 4 * hidden}, dtype, 55), h0, c0, w_hh, b_hh},
          [&](const Inputs& in) {
            const auto [out, h, c] =
                lstm_sequence(in[0], sizes, in[1], in[2], in[3], in[4], reverse);
            return cat({out, h, c}, 0);
          },
          Kind::Gemm);
      cuda_test::check_op(
          "gru_sequence " + name,
          {cuda_test::input({12, 3 * hidden}, dtype, 56), h0, w_hh.narrow(0, 0, 3 * hidden),
           b_hh.narrow(0, 0, 3 * hidden)},
          [&](const Inputs& in) {
            const auto [out, h] = gru_sequence(in[0], sizes, in[1], in[2], in[3], reverse);
            return cat({out, h}, 0);
          },
          Kind::Gemm);
    }
  }
}

namespace {

// The output and the parameter gradients of one recurrent module's run (on x's device), copied
// to the CPU.
template <typename Run>
std::vector<Tensor> recurrent_run(nn::Module& m, const Tensor& x, const Run& run) {
  for (const Tensor& p : m.parameters()) p.set_grad(Tensor());
  const Tensor y = run(x);
  (y * y).sum().backward();
  std::vector<Tensor> out{y.to(kCPU)};
  for (const Tensor& p : m.parameters()) out.push_back(p.grad().to(kCPU));
  return out;
}

}  // namespace

TEST_CASE("cuda LSTM and GRU over padded and packed batches: the CPU's outputs and gradients") {
  HG_REQUIRE_CUDA();
  manual_seed(150);
  using namespace nn::utils::rnn;
  nn::LSTM lstm(nn::LSTMOptions(3, 5).num_layers(2).bidirectional(true).proj_size(2));
  nn::GRU gru(nn::GRUOptions(3, 4).batch_first(true));
  const Tensor x = randn({6, 3, 3});                // [L, N, F]
  const auto lstm_packed = [&](const Tensor& in) {  // unsorted lengths: both permutations
    const PackedSequence packed =
        pack_padded_sequence(in, std::vector<int64_t>{4, 6, 2}, false, false);
    const auto [out, state] = lstm.forward(packed);
    return cat({std::get<0>(pad_packed_sequence(out)).flatten(), std::get<0>(state).flatten(),
                std::get<1>(state).flatten()});
  };
  const auto gru_padded = [&](const Tensor& in) { return std::get<0>(gru.forward(in)); };
  const std::vector<Tensor> cpu_lstm = recurrent_run(lstm, x, lstm_packed);
  const std::vector<Tensor> cpu_gru = recurrent_run(gru, x, gru_padded);
  lstm.to(kCUDA);
  gru.to(kCUDA);
  const std::vector<Tensor> gpu_lstm = recurrent_run(lstm, x.to(kCUDA), lstm_packed);
  const std::vector<Tensor> gpu_gru = recurrent_run(gru, x.to(kCUDA), gru_padded);
  REQUIRE(gpu_lstm.size() == cpu_lstm.size());
  for (size_t i = 0; i < cpu_lstm.size(); ++i)
    cuda_test::check_same("packed LSTM, result " + std::to_string(i), gpu_lstm[i], cpu_lstm[i],
                          Kind::Gemm);
  for (size_t i = 0; i < cpu_gru.size(); ++i)
    cuda_test::check_same("GRU, result " + std::to_string(i), gpu_gru[i], cpu_gru[i], Kind::Gemm);
}
