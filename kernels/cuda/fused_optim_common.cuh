#pragma once
// What the fused optimizer kernels share (kernels/cuda/fused_optim.cu: SGD, Adam/AdamW;
// fused_optim_extra.cu: RMSprop, Adagrad): the step's control read on the device (the gradient
// factor, the found-inf skip), the 16-bit parameter copy's store, the gradient's load, and the
// host side of a multi-tensor launch (dtype runs, entry lists passed by value, the grid).
#include <algorithm>
#include <type_traits>

#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::kernels::cuda::fused {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

// Where the gradient factor comes from, and whether the step is skipped (both on the device).
struct StepControl {
  const float* inv_scale;  // null: use factor
  const float* found_inf;  // null: never skipped
  double factor;
  __device__ bool skip() const { return found_inf != nullptr && *found_inf != 0.0f; }
  // The device pointers it hands a kernel (the CUDA emulator checks them: tests/cuda_emu).
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    visit(inv_scale);
    visit(found_inf);
  }
  template <typename C>
  __device__ C grad_factor() const {
    return inv_scale != nullptr ? static_cast<C>(*inv_scale) : static_cast<C>(factor);
  }
};

// The 16-bit (or fp32) parameter copy, any floating dtype, or none.
struct ParamOut {
  void* data;
  DType dtype;
  __device__ void store(int64_t i, float v) const {
    switch (dtype) {
      case DType::Float16:
        static_cast<__half*>(data)[i] = round_to_half(v);  // NaN payload kept, as the CPU
        break;
      case DType::BFloat16:
        static_cast<__nv_bfloat16*>(data)[i] = round_to_bfloat16(v);
        break;
      case DType::Float64:
        static_cast<double*>(data)[i] = static_cast<double>(v);
        break;
      default:
        static_cast<float*>(data)[i] = v;
        break;
    }
  }
};

// w and g in the compute type C from storage types W and G (as optim/cpu_update.h reads them).
template <typename C, typename W, typename G>
__device__ inline void load_wg(const W* weight, const G* grad, int64_t i, C factor, C& w, C& g) {
  w = static_cast<C>(Scalar<W>::load(weight[i]));
  g = static_cast<C>(Scalar<G>::load(grad[i])) * factor;
}

template <typename T>
const T* ptr_or_null(const TensorView* v) {
  return v != nullptr ? v->ptr<T>() : nullptr;
}
inline StepControl control_of(const FusedStepInputs& in, double factor) {
  return {ptr_or_null<float>(in.inv_scale), ptr_or_null<float>(in.found_inf), factor};
}
// An optional tensor (a momentum buffer, amsgrad's maximum, the 16-bit copy): null when absent.
template <typename C>
C* optional_ptr(const TensorView& v) {
  return v.data != nullptr ? v.ptr<C>() : nullptr;
}
inline ParamOut param_out_of(const TensorView& v) { return {v.data, v.dtype}; }

// f.template operator()<C, W, G>() for the weight and gradient dtypes (C: the compute type).
template <typename F>
void for_weight_and_grad(const TensorView& weight, const TensorView& grad, const char* op,
                         const F& f) {
  dispatch_floating(weight.dtype, op, [&]<typename W>() {
    using C = typename Scalar<W>::Compute;
    if constexpr (std::is_same_v<C, double>) {
      HG_CHECK(grad.dtype == DType::Float64, op, ": float64 weights need float64 gradients");
      f.template operator()<C, W, double>();
    } else {
      dispatch_floating(grad.dtype, op, [&]<typename G>() {
        if constexpr (std::is_same_v<G, double>)
          HG_FAIL(op, ": float64 gradient for a 32/16-bit weight");
        else
          f.template operator()<C, W, G>();
      });
    }
  });
}

// The grid of a multi-tensor launch: x blocks over the largest tensor, one y per tensor.
inline dim3 list_grid(int64_t largest, int64_t tensors) {
  return {std::min<unsigned>(grid_for(largest), 1024u), static_cast<unsigned>(tensors)};
}

// Calls launch.template operator()<C, W, G>(first, last) for each run tensors[first, last) of
// equal weight and gradient dtypes, `most` tensors at most: one launch each.
template <typename Tensor, typename Launch>
void for_each_dtype_run(const Tensor* tensors, int64_t count, int64_t most, const char* op,
                        const Launch& launch) {
  int64_t first = 0;
  while (first < count) {
    const DType wd = tensors[first].weight.dtype, gd = tensors[first].grad.dtype;
    int64_t last = first + 1;
    while (last < count && last - first < most && tensors[last].weight.dtype == wd &&
           tensors[last].grad.dtype == gd)
      ++last;
    for_weight_and_grad(tensors[first].weight, tensors[first].grad, op,
                        [&]<typename C, typename W, typename G>() {
                          launch.template operator()<C, W, G>(first, last);
                        });
    first = last;
  }
}

// list.t[k - first] = entry(tensors[k]) over a run; returns its largest tensor's element count.
template <typename List, typename Tensor, typename Entry>
int64_t fill_list(List& list, const Tensor* tensors, int64_t first, int64_t last,
                  const Entry& entry) {
  int64_t largest = 0;
  for (int64_t k = first; k < last; ++k) {
    list.t[k - first] = entry(tensors[k]);
    largest = std::max(largest, tensors[k].weight.numel());
  }
  return largest;
}

}  // namespace hg::kernels::cuda::fused
