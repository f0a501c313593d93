#pragma once
// The fused pointwise part of one LSTM or GRU step (kernels/recurrent_kernels.h): every gate and
// the new state in one kernel each way, as torch's _thnn_fused_lstm_cell and _thnn_fused_gru_cell.
// nn::LSTM, nn::GRU and their cells (nn/rnn.h) step with these; call them directly to write a
// recurrence of your own. The matrix products stay outside:
//   input_gates = x W_ih^T + b_ih, hidden_gates = h W_hh^T + b_hh   [N, G H]
// All operands of one floating dtype and device; computed in float (double for fp64) and rounded
// once to that dtype, so a 16-bit step rounds h' and c' once where the composition rounds every
// intermediate.
#include <tuple>

#include "halfgrad/core/tensor.h"

namespace hg {

// Gates i, f, g, o ([N, 4H] each input), c [N, H] -> (h', c') [N, H]:
//   c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
std::tuple<Tensor, Tensor> lstm_cell_pointwise(const Tensor& input_gates,
                                               const Tensor& hidden_gates, const Tensor& c);

// Gates r, z, n ([N, 3H] each input), h [N, H] -> h' [N, H]:
//   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r h_n), h' = (1 - z) n + z h
Tensor gru_cell_pointwise(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h);

}  // namespace hg
