#pragma once
// The element arithmetic of the fused recurrent cells (kernels/recurrent_kernels.h), shared by
// the CPU loops and the CUDA kernels. C is the compute type (float, or double for fp64); M
// supplies sigmoid and tanh for it (the CUDA math library on the device, by sigmoid_by_exp; the
// CPU's float path rounds double results once: kernels/cpu/activation_math.h), and the rest of
// the arithmetic is the same operations in the same order. HG_HD: compiled for host and device.
#include "halfgrad/core/half.h"

namespace hg::kernels::recurrent_math {

// sigmoid from M::exp, split by sign so exp never overflows (as the unary kernels).
template <typename C, typename M>
HG_HD inline C sigmoid_by_exp(C x) {
  if (x >= C(0)) return C(1) / (C(1) + M::exp(-x));
  const C e = M::exp(x);
  return e / (C(1) + e);
}

// One LSTM element: the gate pre-activations (input and hidden parts summed) and c -> the
// activated gates i, f, g, o, tanh(c') (saved for the backward), c' and h'.
template <typename C, typename M>
struct LstmForward {
  C gate[5];  // i, f, g, o, tanh(c')
  C c_next, h_next;
  HG_HD LstmForward(const C pre[4], C c) {
    gate[0] = M::sigmoid(pre[0]);
    gate[1] = M::sigmoid(pre[1]);
    gate[2] = M::tanh(pre[2]);
    gate[3] = M::sigmoid(pre[3]);
    c_next = gate[1] * c + gate[0] * gate[2];
    gate[4] = M::tanh(c_next);
    h_next = gate[3] * gate[4];
  }
};

// Its backward from the upstream gradients of h' and c' and the saved gates: the gradients of
// the four pre-activations and of c.
template <typename C>
struct LstmBackward {
  C grad_pre[4];
  C grad_c;
  HG_HD LstmBackward(const C gate[5], C c, C grad_h, C grad_c_next) {
    const C i = gate[0], f = gate[1], g = gate[2], o = gate[3], tanh_c = gate[4];
    const C total_c = grad_c_next + grad_h * o * (C(1) - tanh_c * tanh_c);
    grad_pre[0] = total_c * g * i * (C(1) - i);
    grad_pre[1] = total_c * c * f * (C(1) - f);
    grad_pre[2] = total_c * i * (C(1) - g * g);
    grad_pre[3] = grad_h * tanh_c * o * (C(1) - o);
    grad_c = total_c * f;
  }
};

// One GRU element (torch's gate order r, z, n; the reset gate scales the hidden part of n):
//   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r h_n),
//   h' = (1 - z) n + z h;
// saved for the backward: r, z, n and h_n.
template <typename C, typename M>
struct GruForward {
  C gate[4];  // r, z, n, h_n
  C h_next;
  HG_HD GruForward(const C input[3], const C hidden[3], C h) {
    gate[0] = M::sigmoid(input[0] + hidden[0]);
    gate[1] = M::sigmoid(input[1] + hidden[1]);
    gate[2] = M::tanh(input[2] + gate[0] * hidden[2]);
    gate[3] = hidden[2];
    h_next = (C(1) - gate[1]) * gate[2] + gate[1] * h;
  }
};

// -> the gradients of the input part, of the hidden part (they differ in n: r scales the hidden
// one) and of h.
template <typename C>
struct GruBackward {
  C grad_input[3], grad_hidden[3];
  C grad_h;
  HG_HD GruBackward(const C gate[4], C h, C grad_h_next) {
    const C r = gate[0], z = gate[1], n = gate[2], hidden_n = gate[3];
    const C grad_n = grad_h_next * (C(1) - z) * (C(1) - n * n);
    const C grad_r = grad_n * hidden_n * r * (C(1) - r);
    const C grad_z = grad_h_next * (h - n) * z * (C(1) - z);
    grad_input[0] = grad_hidden[0] = grad_r;
    grad_input[1] = grad_hidden[1] = grad_z;
    grad_input[2] = grad_n;
    grad_hidden[2] = grad_n * r;
    grad_h = grad_h_next * z;
  }
};

}  // namespace hg::kernels::recurrent_math
