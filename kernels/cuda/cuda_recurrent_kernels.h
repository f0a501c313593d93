#pragma once
// The CUDA column of the fused recurrent cells (contracts in kernels/recurrent_kernels.h);
// registered by kernels/cuda/nn_register.cpp.
#include "halfgrad/kernels/recurrent_kernels.h"

namespace hg::kernels::cuda {

void lstm_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& c,
               const TensorView& h_next, const TensorView& c_next, const TensorView& saved);
void lstm_cell_backward(const TensorView& grad_h_next, const TensorView& grad_c_next,
                        const TensorView& c, const TensorView& saved, const TensorView& grad_gates,
                        const TensorView& grad_c);
void gru_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& h,
              const TensorView& h_next, const TensorView& saved);
void gru_cell_backward(const TensorView& grad_h_next, const TensorView& h, const TensorView& saved,
                       const TensorView& grad_input_gates, const TensorView& grad_hidden_gates,
                       const TensorView& grad_h);

}  // namespace hg::kernels::cuda
