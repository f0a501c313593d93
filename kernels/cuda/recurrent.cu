// The fused recurrent cells on CUDA (kernels/recurrent_kernels.h): one thread per element of the
// [N, H] state, each reading its 4 (LSTM) or 3 + 3 (GRU) gate values, with the CPU's element
// arithmetic (kernels/recurrent_math.h) in float (double for fp64).
#include "halfgrad/kernels/cuda/cuda_recurrent_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/recurrent_math.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

namespace rm = recurrent_math;

struct DeviceMath {
  __device__ static float exp(float x) { return exp_(x); }
  __device__ static double exp(double x) { return exp_(x); }
  __device__ static float sigmoid(float x) { return rm::sigmoid_by_exp<float, DeviceMath>(x); }
  __device__ static double sigmoid(double x) { return rm::sigmoid_by_exp<double, DeviceMath>(x); }
  __device__ static float tanh(float x) { return tanh_(x); }
  __device__ static double tanh(double x) { return tanh_(x); }
};

template <typename T, typename C>
__global__ void lstm_cell_kernel(const T* x, const T* h, const T* c, int64_t rows, int64_t hidden,
                                 T* h_next, T* c_next, C* saved) {
  HG_GRID_LOOP(e, rows * hidden) {
    const int64_t n = e / hidden, j = e % hidden;
    C pre[4];
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t at = (n * 4 + k) * hidden + j;
      pre[k] = static_cast<C>(Scalar<T>::load(x[at])) + static_cast<C>(Scalar<T>::load(h[at]));
    }
    const rm::LstmForward<C, DeviceMath> cell(pre, static_cast<C>(Scalar<T>::load(c[e])));
    for (int64_t k = 0; k < 5; ++k) saved[(n * 5 + k) * hidden + j] = cell.gate[k];
    h_next[e] = Scalar<T>::store(cell.h_next);
    c_next[e] = Scalar<T>::store(cell.c_next);
  }
}

template <typename T, typename C>
__global__ void lstm_cell_backward_kernel(const T* grad_h, const T* grad_c_next, const T* c,
                                          const C* saved, int64_t rows, int64_t hidden,
                                          T* grad_gates, T* grad_c) {
  HG_GRID_LOOP(e, rows * hidden) {
    const int64_t n = e / hidden, j = e % hidden;
    C gate[5];
    for (int64_t k = 0; k < 5; ++k) gate[k] = saved[(n * 5 + k) * hidden + j];
    const rm::LstmBackward<C> cell(gate, static_cast<C>(Scalar<T>::load(c[e])),
                                   static_cast<C>(Scalar<T>::load(grad_h[e])),
                                   static_cast<C>(Scalar<T>::load(grad_c_next[e])));
    for (int64_t k = 0; k < 4; ++k)
      grad_gates[(n * 4 + k) * hidden + j] = Scalar<T>::store(cell.grad_pre[k]);
    grad_c[e] = Scalar<T>::store(cell.grad_c);
  }
}

template <typename T, typename C>
__global__ void gru_cell_kernel(const T* x, const T* hidden_gates, const T* h, int64_t rows,
                                int64_t hidden, T* h_next, C* saved) {
  HG_GRID_LOOP(e, rows * hidden) {
    const int64_t n = e / hidden, j = e % hidden;
    C in[3], hid[3];
    for (int64_t k = 0; k < 3; ++k) {
      in[k] = static_cast<C>(Scalar<T>::load(x[(n * 3 + k) * hidden + j]));
      hid[k] = static_cast<C>(Scalar<T>::load(hidden_gates[(n * 3 + k) * hidden + j]));
    }
    const rm::GruForward<C, DeviceMath> cell(in, hid, static_cast<C>(Scalar<T>::load(h[e])));
    for (int64_t k = 0; k < 4; ++k) saved[(n * 4 + k) * hidden + j] = cell.gate[k];
    h_next[e] = Scalar<T>::store(cell.h_next);
  }
}

template <typename T, typename C>
__global__ void gru_cell_backward_kernel(const T* grad_h_next, const T* h, const C* saved,
                                         int64_t rows, int64_t hidden, T* grad_input,
                                         T* grad_hidden, T* grad_h) {
  HG_GRID_LOOP(e, rows * hidden) {
    const int64_t n = e / hidden, j = e % hidden;
    C gate[4];
    for (int64_t k = 0; k < 4; ++k) gate[k] = saved[(n * 4 + k) * hidden + j];
    const rm::GruBackward<C> cell(gate, static_cast<C>(Scalar<T>::load(h[e])),
                                  static_cast<C>(Scalar<T>::load(grad_h_next[e])));
    for (int64_t k = 0; k < 3; ++k) {
      grad_input[(n * 3 + k) * hidden + j] = Scalar<T>::store(cell.grad_input[k]);
      grad_hidden[(n * 3 + k) * hidden + j] = Scalar<T>::store(cell.grad_hidden[k]);
    }
    grad_h[e] = Scalar<T>::store(cell.grad_h);
  }
}

}  // namespace

void lstm_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& c,
               const TensorView& h_next, const TensorView& c_next, const TensorView& saved) {
  const int64_t rows = c.sizes[0], hidden = c.sizes[1];
  if (rows * hidden == 0) return;
  dispatch_floating(c.dtype, "lstm_cell", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    lstm_cell_kernel<T, C><<<grid_for(rows * hidden), kBlockSize, 0, current_stream()>>>(
        input_gates.ptr<T>(), hidden_gates.ptr<T>(), c.ptr<T>(), rows, hidden, h_next.ptr<T>(),
        c_next.ptr<T>(), saved.ptr<C>());
    HG_CUDA_LAUNCH_CHECK("lstm_cell_kernel");
  });
}

void lstm_cell_backward(const TensorView& grad_h_next, const TensorView& grad_c_next,
                        const TensorView& c, const TensorView& saved, const TensorView& grad_gates,
                        const TensorView& grad_c) {
  const int64_t rows = c.sizes[0], hidden = c.sizes[1];
  if (rows * hidden == 0) return;
  dispatch_floating(c.dtype, "lstm_cell_backward", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    lstm_cell_backward_kernel<T, C><<<grid_for(rows * hidden), kBlockSize, 0, current_stream()>>>(
        grad_h_next.ptr<T>(), grad_c_next.ptr<T>(), c.ptr<T>(), saved.ptr<C>(), rows, hidden,
        grad_gates.ptr<T>(), grad_c.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("lstm_cell_backward_kernel");
  });
}

void gru_cell(const TensorView& input_gates, const TensorView& hidden_gates, const TensorView& h,
              const TensorView& h_next, const TensorView& saved) {
  const int64_t rows = h.sizes[0], hidden = h.sizes[1];
  if (rows * hidden == 0) return;
  dispatch_floating(h.dtype, "gru_cell", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    gru_cell_kernel<T, C><<<grid_for(rows * hidden), kBlockSize, 0, current_stream()>>>(
        input_gates.ptr<T>(), hidden_gates.ptr<T>(), h.ptr<T>(), rows, hidden, h_next.ptr<T>(),
        saved.ptr<C>());
    HG_CUDA_LAUNCH_CHECK("gru_cell_kernel");
  });
}

void gru_cell_backward(const TensorView& grad_h_next, const TensorView& h, const TensorView& saved,
                       const TensorView& grad_input_gates, const TensorView& grad_hidden_gates,
                       const TensorView& grad_h) {
  const int64_t rows = h.sizes[0], hidden = h.sizes[1];
  if (rows * hidden == 0) return;
  dispatch_floating(h.dtype, "gru_cell_backward", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    gru_cell_backward_kernel<T, C><<<grid_for(rows * hidden), kBlockSize, 0, current_stream()>>>(
        grad_h_next.ptr<T>(), h.ptr<T>(), saved.ptr<C>(), rows, hidden, grad_input_gates.ptr<T>(),
        grad_hidden_gates.ptr<T>(), grad_h.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("gru_cell_backward_kernel");
  });
}

}  // namespace hg::kernels::cuda
