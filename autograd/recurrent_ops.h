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
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg {

// Gates i, f, g, o ([N, 4H] each input), c [N, H] -> (h', c') [N, H]:
//   c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
std::tuple<Tensor, Tensor> lstm_cell_pointwise(const Tensor& input_gates,
                                               const Tensor& hidden_gates, const Tensor& c);

// Gates r, z, n ([N, 3H] each input), h [N, H] -> h' [N, H]:
//   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r h_n), h' = (1 - z) n + z h
Tensor gru_cell_pointwise(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h);

// ---- a whole layer direction in one node (autograd/recurrent_sequence_ops.cpp) ----
// What nn::LSTM and nn::GRU run for each layer and direction (but with proj_size), as cuDNN's
// RNN: each step's recurrent product and fused cell, as the step-by-step composition computes
// them, taped as one node whose backward takes the recurrent weight's and bias's gradients of
// all steps in one product (accumulated in float, rounded once) where the composition takes a
// product per step and sums them in the weight's dtype.
//   projected [rows, G H]: x W_ih^T + b_ih of every step's rows, time-major: step t's
//     batch_sizes[t] rows after the earlier steps' (batch_sizes non-increasing, in [1, N]; a
//     padded batch of L steps has L times N); step t updates the first batch_sizes[t] rows of the
//     state, the others keep theirs (the packed-sequence convention, nn/packed_sequence.h)
//   h0 (and c0) [N, H], w_hh [G H, H], b_hh [G H] or undefined; one floating dtype and device
//   reverse: the steps run last to first (a bidirectional layer's second direction)
// -> output [rows, H] (each step's new h, in its rows), h_n (and c_n) [N, H] (each row's state
// after its last step). G = 4 (LSTM gates i, f, g, o), 3 (GRU r, z, n).
std::tuple<Tensor, Tensor, Tensor> lstm_sequence(const Tensor& projected,
                                                 const std::vector<int64_t>& batch_sizes,
                                                 const Tensor& h0, const Tensor& c0,
                                                 const Tensor& w_hh, const Tensor& b_hh,
                                                 bool reverse = false);
std::tuple<Tensor, Tensor> gru_sequence(const Tensor& projected,
                                        const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                                        const Tensor& w_hh, const Tensor& b_hh,
                                        bool reverse = false);

}  // namespace hg
