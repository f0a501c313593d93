#pragma once
// Fused recurrent cells: the pointwise part of one LSTM or GRU step (every gate, the new state)
// in one pass forward and one backward, where the composition of sigmoid, tanh, products and
// sums would be a dozen kernels each way per time step (torch's _thnn_fused_lstm_cell and
// _thnn_fused_gru_cell do the same). The matrix products stay outside: input_gates = x W_ih^T +
// b_ih and hidden_gates = h W_hh^T + b_hh. All views contiguous, of one floating dtype T, [N, G H]
// gates and [N, H] states; computed in float (double for fp64) and rounded once to T; the saved
// gates are in that compute type (float32 or float64). Element math: kernels/recurrent_math.h.
#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

// gates i, f, g, o: -> h_next, c_next [N, H] (T) and saved [N, 5H] (i, f, g, o, tanh(c_next)).
using LstmCellFn = void (*)(const TensorView& input_gates, const TensorView& hidden_gates,
                            const TensorView& c, const TensorView& h_next, const TensorView& c_next,
                            const TensorView& saved);
// -> grad_gates [N, 4H] (T; the gradient of both gate inputs) and grad_c [N, H] (T).
using LstmCellBackwardFn = void (*)(const TensorView& grad_h_next, const TensorView& grad_c_next,
                                    const TensorView& c, const TensorView& saved,
                                    const TensorView& grad_gates, const TensorView& grad_c);
// gates r, z, n: -> h_next [N, H] (T) and saved [N, 4H] (r, z, n, the hidden part of n).
using GruCellFn = void (*)(const TensorView& input_gates, const TensorView& hidden_gates,
                           const TensorView& h, const TensorView& h_next, const TensorView& saved);
// -> grad_input_gates, grad_hidden_gates [N, 3H] and grad_h [N, H] (T).
using GruCellBackwardFn = void (*)(const TensorView& grad_h_next, const TensorView& h,
                                   const TensorView& saved, const TensorView& grad_input_gates,
                                   const TensorView& grad_hidden_gates, const TensorView& grad_h);

// The saved gates' dtype (the compute type) for cells of `dtype`: float32 for 16-bit and fp32,
// float64 for fp64.
inline DType cell_saved_dtype(DType dtype) {
  return dtype == DType::Float64 ? DType::Float64 : DType::Float32;
}

extern DispatchTable<LstmCellFn> lstm_cell;
extern DispatchTable<LstmCellBackwardFn> lstm_cell_backward;
extern DispatchTable<GruCellFn> gru_cell;
extern DispatchTable<GruCellBackwardFn> gru_cell_backward;

}  // namespace hg::kernels
