// Index-driven kernels on CUDA: NLL loss (gather one log-probability per row, scatter its
// gradient) and the embedding lookup (row gather; backward accumulates with atomics in the
// compute type and rounds once). Out-of-range targets and indices are reported late, without a
// host synchronisation (kernels/cuda/target_check.h).
#include <cstdint>
#include <string>

#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/cuda/target_check.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

template <typename T>
__global__ void nll_kernel(const T* logp, const int64_t* target, int64_t rows, int64_t classes,
                           int64_t ignore_index, T* loss, long long* first_bad) {
  HG_GRID_LOOP(n, rows) {
    const int64_t t = target[n];
    if (t == ignore_index) {
      loss[n] = Scalar<T>::store(0.0f);
    } else if (t < 0 || t >= classes) {
      atomicMin(first_bad, static_cast<long long>(n));  // reported late (target_check.h)
      loss[n] = Scalar<T>::store(NAN);
    } else {
      loss[n] = Scalar<T>::store(-Scalar<T>::load(logp[n * classes + t]));
    }
  }
}

template <typename T>
__global__ void nll_backward_kernel(const T* grad_loss, const int64_t* target, int64_t rows,
                                    int64_t classes, int64_t ignore_index, T* grad) {
  const int64_t total = rows * classes;
  HG_GRID_LOOP(i, total) {
    const int64_t n = i / classes, t = target[n];
    grad[i] = (t != ignore_index && i % classes == t)
                  ? Scalar<T>::store(-Scalar<T>::load(grad_loss[n]))
                  : Scalar<T>::store(0.0f);
  }
}

// An embedding lookup's table and the NaN that replaces a row whose index is out of range: the
// dtype's quiet NaN repeated over 8 bytes, so byte b of a row is byte b % 8 of the pattern and
// 32-bit word k is word k % 2 (rows are whole elements, little-endian).
struct Table {
  int64_t rows;
  uint64_t nan_pattern;
};

uint64_t nan_pattern(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return 0x7ff8000000000000ULL;
    case DType::Float32:
      return 0x7fc000007fc00000ULL;
    case DType::Float16:
      return 0x7e007e007e007e00ULL;
    default:  // bf16 (embedding tables are floating)
      return 0x7fc07fc07fc07fc0ULL;
  }
}

// Whether index n is in the table; if not, its position goes to the late report (target_check.h).
__device__ inline bool in_table(int64_t index, const Table& table, int64_t n, bool first_entry,
                                long long* first_bad) {
  if (index >= 0 && index < table.rows) return true;
  if (first_entry) atomicMin(first_bad, static_cast<long long>(n));
  return false;
}

__global__ void embedding_kernel(const char* weight, const int64_t* index, int64_t rows,
                                 int64_t row_bytes, Table table, char* out, long long* first_bad) {
  const int64_t total = rows * row_bytes;
  HG_GRID_LOOP(i, total) {
    const int64_t n = i / row_bytes, b = i % row_bytes, r = index[n];
    out[i] = in_table(r, table, n, b == 0, first_bad)
                 ? weight[r * row_bytes + b]
                 : static_cast<char>(table.nan_pattern >> (8 * (b % 8)));
  }
}

// Four bytes at a time when every row is a multiple of 4 bytes (fp32, or even-width 16-bit)
// and both tables start 4-byte aligned (a view may not).
__global__ void embedding_kernel4(const uint32_t* weight, const int64_t* index, int64_t rows,
                                  int64_t row_words, Table table, uint32_t* out,
                                  long long* first_bad) {
  const int64_t total = rows * row_words;
  HG_GRID_LOOP(i, total) {
    const int64_t n = i / row_words, k = i % row_words, r = index[n];
    out[i] = in_table(r, table, n, k == 0, first_bad)
                 ? weight[r * row_words + k]
                 : static_cast<uint32_t>(table.nan_pattern >> (32 * (k % 2)));
  }
}

// An index out of the table (reported by the forward's check) adds nothing anywhere.
template <typename T, typename A>
__global__ void embedding_backward_kernel(const T* grad_out, const int64_t* index, int64_t rows,
                                          int64_t dim, int64_t table_rows, A* acc) {
  const int64_t total = rows * dim;
  HG_GRID_LOOP(i, total) {
    const int64_t n = i / dim, d = i % dim, r = index[n];
    if (r >= 0 && r < table_rows)
      atomicAdd(acc + r * dim + d, static_cast<A>(Scalar<T>::load(grad_out[i])));
  }
}

}  // namespace

void nll_loss(const TensorView& logp, const TensorView& target, int64_t ignore_index,
              const TensorView& loss, int64_t* bad_target) {
  const int64_t rows = logp.sizes[0], classes = logp.sizes[1];
  *bad_target = -1;  // a bad target is reported late, by the next loss (target_check.h)
  if (rows == 0) return;
  dispatch_floating(logp.dtype, "nll_loss", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    TargetCheck check(stream, "nll_loss", rows, classes);
    nll_kernel<T><<<grid_for(rows), kBlockSize, 0, stream>>>(logp.ptr<T>(), target.ptr<int64_t>(),
                                                             rows, classes, ignore_index,
                                                             loss.ptr<T>(), check.slot());
    HG_CUDA_LAUNCH_CHECK("nll_kernel");
    check.queue();
  });
}

void nll_loss_backward(const TensorView& grad_loss, const TensorView& target, int64_t ignore_index,
                       const TensorView& grad_logp) {
  const int64_t rows = grad_logp.sizes[0], classes = grad_logp.sizes[1];
  if (rows * classes == 0) return;
  dispatch_floating(grad_logp.dtype, "nll_loss_backward", [&]<typename T>() {
    nll_backward_kernel<T><<<grid_for(rows * classes), kBlockSize, 0, current_stream()>>>(
        grad_loss.ptr<T>(), target.ptr<int64_t>(), rows, classes, ignore_index, grad_logp.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("nll_backward_kernel");
  });
}

void embedding(const TensorView& weight, const TensorView& index, const TensorView& out,
               const char* call) {
  const int64_t rows = index.numel();
  const int64_t row_bytes = weight.sizes[1] * static_cast<int64_t>(itemsize(weight.dtype));
  if (rows * row_bytes == 0) return;
  cudaStream_t stream = current_stream();
  // Indices are checked on the device and reported late, like a loss's targets: reading a
  // min/max on the host would stall it on every call (and cannot happen in a graph capture).
  TargetCheck check(stream,
                    call != nullptr
                        ? std::string(call)
                        : "embedding on CUDA with a [" + std::to_string(weight.sizes[0]) + ", " +
                              std::to_string(weight.sizes[1]) + "] " +
                              std::string(dtype_name(weight.dtype)) + " table and " +
                              std::to_string(rows) + " indices",
                    "the index at position", "output row");
  const Table table{weight.sizes[0], nan_pattern(weight.dtype)};
  const auto aligned4 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 4 == 0; };
  if (row_bytes % 4 == 0 && aligned4(weight.data) && aligned4(out.data)) {
    const int64_t words = row_bytes / 4;
    embedding_kernel4<<<grid_for(rows * words), kBlockSize, 0, stream>>>(
        static_cast<const uint32_t*>(weight.data), index.ptr<int64_t>(), rows, words, table,
        static_cast<uint32_t*>(out.data), check.slot());
  } else {
    embedding_kernel<<<grid_for(rows * row_bytes), kBlockSize, 0, stream>>>(
        static_cast<const char*>(weight.data), index.ptr<int64_t>(), rows, row_bytes, table,
        static_cast<char*>(out.data), check.slot());
  }
  HG_CUDA_LAUNCH_CHECK("embedding_kernel");
  check.queue();
}

void embedding_backward(const TensorView& grad_out, const TensorView& index,
                        const TensorView& grad_weight) {
  const int64_t dim = grad_weight.sizes[1], rows = index.numel(), count = grad_weight.numel();
  dispatch_floating(grad_weight.dtype, "embedding_backward", [&]<typename T>() {
    using A = typename Scalar<T>::Compute;
    // Repeated indices sum in float (double for fp64), then round once, as on the CPU.
    constexpr bool own = std::is_same_v<T, A>;
    DeviceBuffer buf(own ? 0 : static_cast<size_t>(count) * sizeof(A));
    A* acc = own ? reinterpret_cast<A*>(grad_weight.ptr<T>()) : buf.as<A>();
    zero_async(acc, count);
    if (rows * dim > 0) {
      embedding_backward_kernel<T, A><<<grid_for(rows * dim), kBlockSize, 0, current_stream()>>>(
          grad_out.ptr<T>(), index.ptr<int64_t>(), rows, dim, grad_weight.sizes[0], acc);
      HG_CUDA_LAUNCH_CHECK("embedding_backward_kernel");
    }
    if constexpr (!own) narrow(acc, grad_weight.ptr<T>(), count, "embedding_backward narrow");
  });
}

}  // namespace hg::kernels::cuda
