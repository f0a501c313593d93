// The CPU column of the fused recurrent cells (kernels/recurrent_kernels.h), and the tables. Each
// row of the batch is independent: rows split across OpenMP threads when the batch is large.
#include <cmath>
#include <vector>

#include "halfgrad/kernels/cpu/activation_math.h"
#include "halfgrad/kernels/cpu/compute_rows.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/recurrent_kernels.h"
#include "halfgrad/kernels/recurrent_math.h"

namespace hg::kernels {

namespace cpu {

namespace {

namespace rm = recurrent_math;

// Float: sigmoid and tanh computed in double and rounded once, vectorised over a row
// (activation_math.h; glibc's expf and tanhf per element were most of an LSTM step's cell time).
// Double (gradient checks): the library's.
struct HostMath {
  static double exp(double x) { return std::exp(x); }
  static float sigmoid(float x) { return sigmoid_rounded(x); }
  static double sigmoid(double x) { return rm::sigmoid_by_exp<double, HostMath>(x); }
  static float tanh(float x) { return tanh_rounded(x); }
  static double tanh(double x) { return std::tanh(x); }
};

// rows x width elements in total: parallel only when there is enough work for the threads
bool worth_threads(int64_t rows, int64_t width) { return rows > 1 && rows * width >= 16384; }

// A row's operands and results in the compute type (compute_rows.h), one set per thread.
template <typename C>
struct RowBuffers {
  std::vector<C> in[3], out[3];
};

template <typename C>
RowBuffers<C>& row_buffers() {
  thread_local RowBuffers<C> buffers;
  return buffers;
}

// The loops over one batch row below take plain rows of C that do not alias, so GCC vectorises
// them (in float, where HostMath's sigmoid and tanh have no calls and no branches).

// x, h [4, H] gate pre-activations and c [H] -> h', c' [H] and the saved gates [5, H].
template <typename C>
[[gnu::always_inline]] inline void lstm_row_body(const C* __restrict x, const C* __restrict h,
                                                 const C* __restrict c, int64_t hidden,
                                                 C* __restrict h_out, C* __restrict c_out,
                                                 C* __restrict keep) {
  for (int64_t j = 0; j < hidden; ++j) {
    C pre[4];
    for (int64_t k = 0; k < 4; ++k) pre[k] = x[k * hidden + j] + h[k * hidden + j];
    const rm::LstmForward<C, HostMath> cell(pre, c[j]);
    for (int64_t k = 0; k < 5; ++k) keep[k * hidden + j] = cell.gate[k];
    h_out[j] = cell.h_next;
    c_out[j] = cell.c_next;
  }
}

// The forward rows again, compiled for AVX-512 and taken where the CPU has it: the float
// activations are double arithmetic, eight lanes there where AVX2 has four (the LSTM cell's
// share of an fp32 step 11.8% -> 8.1%). The same operations, so the same bits either way.
bool has_avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512dq") &&
                                __builtin_cpu_supports("avx512vl");
  return supported;
}

template <typename C>
__attribute__((target("avx512f,avx512dq,avx512vl"))) void lstm_row_avx512(const C* x, const C* h,
                                                                          const C* c,
                                                                          int64_t hidden, C* h_out,
                                                                          C* c_out, C* keep) {
  lstm_row_body(x, h, c, hidden, h_out, c_out, keep);
}

template <typename C>
void lstm_row(const C* x, const C* h, const C* c, int64_t hidden, C* h_out, C* c_out, C* keep) {
  if (has_avx512())
    lstm_row_avx512(x, h, c, hidden, h_out, c_out, keep);
  else
    lstm_row_body(x, h, c, hidden, h_out, c_out, keep);
}

// The saved gates [5, H], c and the gradients of h', c' [H] -> those of the gates [4, H] and c.
template <typename C>
void lstm_backward_row(const C* __restrict keep, const C* __restrict c, const C* __restrict gh,
                       const C* __restrict gc, int64_t hidden, C* __restrict g_gates,
                       C* __restrict g_c) {
  for (int64_t j = 0; j < hidden; ++j) {
    C gate[5];
    for (int64_t k = 0; k < 5; ++k) gate[k] = keep[k * hidden + j];
    const rm::LstmBackward<C> cell(gate, c[j], gh[j], gc[j]);
    for (int64_t k = 0; k < 4; ++k) g_gates[k * hidden + j] = cell.grad_pre[k];
    g_c[j] = cell.grad_c;
  }
}

// x, hg [3, H] and h [H] -> h' [H] and the saved gates [4, H].
template <typename C>
[[gnu::always_inline]] inline void gru_row_body(const C* __restrict x, const C* __restrict hg,
                                                const C* __restrict h, int64_t hidden,
                                                C* __restrict h_out, C* __restrict keep) {
  for (int64_t j = 0; j < hidden; ++j) {
    C in[3], hid[3];
    for (int64_t k = 0; k < 3; ++k) {
      in[k] = x[k * hidden + j];
      hid[k] = hg[k * hidden + j];
    }
    const rm::GruForward<C, HostMath> cell(in, hid, h[j]);
    for (int64_t k = 0; k < 4; ++k) keep[k * hidden + j] = cell.gate[k];
    h_out[j] = cell.h_next;
  }
}

template <typename C>
__attribute__((target("avx512f,avx512dq,avx512vl"))) void gru_row_avx512(const C* x, const C* hg,
                                                                         const C* h, int64_t hidden,
                                                                         C* h_out, C* keep) {
  gru_row_body(x, hg, h, hidden, h_out, keep);
}

template <typename C>
void gru_row(const C* x, const C* hg, const C* h, int64_t hidden, C* h_out, C* keep) {
  if (has_avx512())
    gru_row_avx512(x, hg, h, hidden, h_out, keep);
  else
    gru_row_body(x, hg, h, hidden, h_out, keep);
}

// The saved gates [4, H], h and the gradient of h' [H] -> those of the input and hidden gate
// parts [3, H] and of h.
template <typename C>
void gru_backward_row(const C* __restrict keep, const C* __restrict h, const C* __restrict gh,
                      int64_t hidden, C* __restrict g_in, C* __restrict g_hid, C* __restrict g_h) {
  for (int64_t j = 0; j < hidden; ++j) {
    C gate[4];
    for (int64_t k = 0; k < 4; ++k) gate[k] = keep[k * hidden + j];
    const rm::GruBackward<C> cell(gate, h[j], gh[j]);
    for (int64_t k = 0; k < 3; ++k) {
      g_in[k * hidden + j] = cell.grad_input[k];
      g_hid[k * hidden + j] = cell.grad_hidden[k];
    }
    g_h[j] = cell.grad_h;
  }
}

}  // namespace

void lstm_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& c,
               const TensorView& h_next, const TensorView& c_next, const TensorView& saved) {
  const int64_t rows = c.sizes[0], H = c.sizes[1];
  dispatch_floating(c.dtype, "lstm_cell", [&]<typename T>() {
    using C = compute_t<T>;
#pragma omp parallel for schedule(static) if (worth_threads(rows, 4 * H))
    for (int64_t n = 0; n < rows; ++n) {
      RowBuffers<C>& b = row_buffers<C>();
      T *h_to = h_next.ptr<T>() + n * H, *c_to = c_next.ptr<T>() + n * H;
      C *h_out = result_buffer(h_to, H, b.out[0]), *c_out = result_buffer(c_to, H, b.out[1]);
      lstm_row(as_compute(input_gates.ptr<T>() + n * 4 * H, 4 * H, b.in[0]),
               as_compute(hidden_gates.ptr<T>() + n * 4 * H, 4 * H, b.in[1]),
               as_compute(c.ptr<T>() + n * H, H, b.in[2]), H, h_out, c_out,
               saved.ptr<C>() + n * 5 * H);
      round_into(h_out, h_to, H);
      round_into(c_out, c_to, H);
    }
  });
}

void lstm_cell_backward(const TensorView& grad_h_next, const TensorView& grad_c_next,
                        const TensorView& c, const TensorView& saved, const TensorView& grad_gates,
                        const TensorView& grad_c) {
  const int64_t rows = c.sizes[0], H = c.sizes[1];
  dispatch_floating(c.dtype, "lstm_cell_backward", [&]<typename T>() {
    using C = compute_t<T>;
#pragma omp parallel for schedule(static) if (worth_threads(rows, 4 * H))
    for (int64_t n = 0; n < rows; ++n) {
      RowBuffers<C>& b = row_buffers<C>();
      T *gates_to = grad_gates.ptr<T>() + n * 4 * H, *c_to = grad_c.ptr<T>() + n * H;
      C* g_gates = result_buffer(gates_to, 4 * H, b.out[0]);
      C* g_c = result_buffer(c_to, H, b.out[1]);
      lstm_backward_row(saved.ptr<C>() + n * 5 * H, as_compute(c.ptr<T>() + n * H, H, b.in[0]),
                        as_compute(grad_h_next.ptr<T>() + n * H, H, b.in[1]),
                        as_compute(grad_c_next.ptr<T>() + n * H, H, b.in[2]), H, g_gates, g_c);
      round_into(g_gates, gates_to, 4 * H);
      round_into(g_c, c_to, H);
    }
  });
}

void gru_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& h,
              const TensorView& h_next, const TensorView& saved) {
  const int64_t rows = h.sizes[0], H = h.sizes[1];
  dispatch_floating(h.dtype, "gru_cell", [&]<typename T>() {
    using C = compute_t<T>;
#pragma omp parallel for schedule(static) if (worth_threads(rows, 3 * H))
    for (int64_t n = 0; n < rows; ++n) {
      RowBuffers<C>& b = row_buffers<C>();
      T* h_to = h_next.ptr<T>() + n * H;
      C* h_out = result_buffer(h_to, H, b.out[0]);
      gru_row(as_compute(input_gates.ptr<T>() + n * 3 * H, 3 * H, b.in[0]),
              as_compute(hidden_gates.ptr<T>() + n * 3 * H, 3 * H, b.in[1]),
              as_compute(h.ptr<T>() + n * H, H, b.in[2]), H, h_out, saved.ptr<C>() + n * 4 * H);
      round_into(h_out, h_to, H);
    }
  });
}

void gru_cell_backward(const TensorView& grad_h_next, const TensorView& h, const TensorView& saved,
                       const TensorView& grad_input_gates, const TensorView& grad_hidden_gates,
                       const TensorView& grad_h) {
  const int64_t rows = h.sizes[0], H = h.sizes[1];
  dispatch_floating(h.dtype, "gru_cell_backward", [&]<typename T>() {
    using C = compute_t<T>;
#pragma omp parallel for schedule(static) if (worth_threads(rows, 3 * H))
    for (int64_t n = 0; n < rows; ++n) {
      RowBuffers<C>& b = row_buffers<C>();
      T *in_to = grad_input_gates.ptr<T>() + n * 3 * H,
        *hid_to = grad_hidden_gates.ptr<T>() + n * 3 * H;
      T* h_to = grad_h.ptr<T>() + n * H;
      C *g_in = result_buffer(in_to, 3 * H, b.out[0]),
        *g_hid = result_buffer(hid_to, 3 * H, b.out[1]);
      C* g_h = result_buffer(h_to, H, b.out[2]);
      gru_backward_row(saved.ptr<C>() + n * 4 * H, as_compute(h.ptr<T>() + n * H, H, b.in[0]),
                       as_compute(grad_h_next.ptr<T>() + n * H, H, b.in[1]), H, g_in, g_hid, g_h);
      round_into(g_in, in_to, 3 * H);
      round_into(g_hid, hid_to, 3 * H);
      round_into(g_h, h_to, H);
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
