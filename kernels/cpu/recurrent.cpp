// The CPU column of the fused recurrent cells (kernels/recurrent_kernels.h), and the tables. Each
// row of the batch is independent: rows split across OpenMP threads when the batch is large.
#include <cmath>

#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/recurrent_kernels.h"
#include "halfgrad/kernels/recurrent_math.h"

namespace hg::kernels {

namespace cpu {

namespace {

namespace rm = recurrent_math;

struct HostMath {
  static float exp(float x) { return std::exp(x); }
  static double exp(double x) { return std::exp(x); }
  // float tanh through one double exp: glibc's tanhf (an expm1f inside) was a third of an LSTM
  // training step. In double, (e - 1) / (e + 1) is exact to ~1e-16 relative for |x| >= 1e-4, so
  // the float result is tanh correctly rounded but for rare near-ties (none in 6M samples);
  // below that, x - x^3 / 3 (the next term, 2 x^5 / 15, is under 1e-17 x); beyond 20, +-1
  // (tanh(9.1) already rounds to 1).
  static float tanh(float x) {
    const double d = x, magnitude = std::fabs(d);
    if (magnitude < 1e-4) return static_cast<float>(d - d * d * d / 3.0);
    if (magnitude > 20.0) return std::copysign(1.0f, x);
    const double e = std::exp(2.0 * d);
    return static_cast<float>((e - 1.0) / (e + 1.0));
  }
  static double tanh(double x) { return std::tanh(x); }
};

// rows x width elements in total: parallel only when there is enough work for the threads
bool worth_threads(int64_t rows, int64_t width) { return rows > 1 && rows * width >= 16384; }

}  // namespace

void lstm_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& c,
               const TensorView& h_next, const TensorView& c_next, const TensorView& saved) {
  const int64_t rows = c.sizes[0], hidden = c.sizes[1];
  dispatch_floating(c.dtype, "lstm_cell", [&]<typename T>() {
    using C = compute_t<T>;
    const T *x = input_gates.ptr<T>(), *h = hidden_gates.ptr<T>(), *cs = c.ptr<T>();
    T *h_out = h_next.ptr<T>(), *c_out = c_next.ptr<T>();
    C* keep = saved.ptr<C>();
#pragma omp parallel for schedule(static) if (worth_threads(rows, 4 * hidden))
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t j = 0; j < hidden; ++j) {
        C pre[4];
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t at = (n * 4 + k) * hidden + j;
          pre[k] = static_cast<C>(x[at]) + static_cast<C>(h[at]);
        }
        const rm::LstmForward<C, HostMath> cell(pre, static_cast<C>(cs[n * hidden + j]));
        for (int64_t k = 0; k < 5; ++k) keep[(n * 5 + k) * hidden + j] = cell.gate[k];
        h_out[n * hidden + j] = static_cast<T>(cell.h_next);
        c_out[n * hidden + j] = static_cast<T>(cell.c_next);
      }
    }
  });
}

void lstm_cell_backward(const TensorView& grad_h_next, const TensorView& grad_c_next,
                        const TensorView& c, const TensorView& saved, const TensorView& grad_gates,
                        const TensorView& grad_c) {
  const int64_t rows = c.sizes[0], hidden = c.sizes[1];
  dispatch_floating(c.dtype, "lstm_cell_backward", [&]<typename T>() {
    using C = compute_t<T>;
    const T *gh = grad_h_next.ptr<T>(), *gc = grad_c_next.ptr<T>(), *cs = c.ptr<T>();
    const C* keep = saved.ptr<C>();
    T *g_gates = grad_gates.ptr<T>(), *g_c = grad_c.ptr<T>();
#pragma omp parallel for schedule(static) if (worth_threads(rows, 4 * hidden))
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t j = 0; j < hidden; ++j) {
        C gate[5];
        for (int64_t k = 0; k < 5; ++k) gate[k] = keep[(n * 5 + k) * hidden + j];
        const int64_t at = n * hidden + j;
        const rm::LstmBackward<C> cell(gate, static_cast<C>(cs[at]), static_cast<C>(gh[at]),
                                       static_cast<C>(gc[at]));
        for (int64_t k = 0; k < 4; ++k)
          g_gates[(n * 4 + k) * hidden + j] = static_cast<T>(cell.grad_pre[k]);
        g_c[at] = static_cast<T>(cell.grad_c);
      }
    }
  });
}

void gru_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& h,
              const TensorView& h_next, const TensorView& saved) {
  const int64_t rows = h.sizes[0], hidden = h.sizes[1];
  dispatch_floating(h.dtype, "gru_cell", [&]<typename T>() {
    using C = compute_t<T>;
    const T *x = input_gates.ptr<T>(), *hg = hidden_gates.ptr<T>(), *hs = h.ptr<T>();
    T* h_out = h_next.ptr<T>();
    C* keep = saved.ptr<C>();
#pragma omp parallel for schedule(static) if (worth_threads(rows, 3 * hidden))
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t j = 0; j < hidden; ++j) {
        C in[3], hid[3];
        for (int64_t k = 0; k < 3; ++k) {
          in[k] = static_cast<C>(x[(n * 3 + k) * hidden + j]);
          hid[k] = static_cast<C>(hg[(n * 3 + k) * hidden + j]);
        }
        const rm::GruForward<C, HostMath> cell(in, hid, static_cast<C>(hs[n * hidden + j]));
        for (int64_t k = 0; k < 4; ++k) keep[(n * 4 + k) * hidden + j] = cell.gate[k];
        h_out[n * hidden + j] = static_cast<T>(cell.h_next);
      }
    }
  });
}

void gru_cell_backward(const TensorView& grad_h_next, const TensorView& h, const TensorView& saved,
                       const TensorView& grad_input_gates, const TensorView& grad_hidden_gates,
                       const TensorView& grad_h) {
  const int64_t rows = h.sizes[0], hidden = h.sizes[1];
  dispatch_floating(h.dtype, "gru_cell_backward", [&]<typename T>() {
    using C = compute_t<T>;
    const T *gh = grad_h_next.ptr<T>(), *hs = h.ptr<T>();
    const C* keep = saved.ptr<C>();
    T *g_in = grad_input_gates.ptr<T>(), *g_hid = grad_hidden_gates.ptr<T>();
    T* g_h = grad_h.ptr<T>();
#pragma omp parallel for schedule(static) if (worth_threads(rows, 3 * hidden))
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t j = 0; j < hidden; ++j) {
        C gate[4];
        for (int64_t k = 0; k < 4; ++k) gate[k] = keep[(n * 4 + k) * hidden + j];
        const int64_t at = n * hidden + j;
        const rm::GruBackward<C> cell(gate, static_cast<C>(hs[at]), static_cast<C>(gh[at]));
        for (int64_t k = 0; k < 3; ++k) {
          g_in[(n * 3 + k) * hidden + j] = static_cast<T>(cell.grad_input[k]);
          g_hid[(n * 3 + k) * hidden + j] = static_cast<T>(cell.grad_hidden[k]);
        }
        g_h[at] = static_cast<T>(cell.grad_h);
      }
    }
  });
}

}  // namespace cpu

// Constant-initialised; the CUDA column is filled in by kernels/cuda/nn_register.cpp.
DispatchTable<LstmCellFn> lstm_cell{"lstm_cell", {cpu::lstm_cell, nullptr}};
DispatchTable<LstmCellBackwardFn> lstm_cell_backward{"lstm_cell_backward",
                                                     {cpu::lstm_cell_backward, nullptr}};
DispatchTable<GruCellFn> gru_cell{"gru_cell", {cpu::gru_cell, nullptr}};
DispatchTable<GruCellBackwardFn> gru_cell_backward{"gru_cell_backward",
                                                   {cpu::gru_cell_backward, nullptr}};

}  // namespace hg::kernels
