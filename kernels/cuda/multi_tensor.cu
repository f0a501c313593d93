// AMP on CUDA: the multi-tensor unscale (every gradient of a model in one launch per
// kMaxTensors tensors, the tensor list passed by value in the kernel's parameters, so nothing
// is copied from the host and the launch can be captured in a CUDA graph), the multi-tensor cast
// in the same form, and the loss-scale update, a one-thread kernel on the device state.
// Arithmetic: kernels/amp_math.h.
#include <algorithm>

#include "halfgrad/kernels/amp_math.h"
#include "halfgrad/kernels/cuda/cuda_amp_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

namespace am = amp_math;

constexpr int kMaxTensors = 48;  // 48 x 24 bytes of descriptors: well inside 4 KB of parameters

enum class Kind : uint8_t { F32, F64, F16, BF16 };

Kind kind_of(DType dtype, const char* op) {
  switch (dtype) {
    case DType::Float32:
      return Kind::F32;
    case DType::Float64:
      return Kind::F64;
    case DType::Float16:
      return Kind::F16;
    case DType::BFloat16:
      return Kind::BF16;
    default:
      break;
  }
  fail(__FILE__, __LINE__, op, "tensors must be floating point");
}

struct Descriptor {
  const void* in;
  void* out;
  int64_t n;
};
struct TensorList {
  Descriptor t[kMaxTensors];  // unused entries all null
  Kind in_kind[kMaxTensors];
  Kind out_kind[kMaxTensors];
  // The device pointers it hands a kernel (the CUDA emulator checks them: tests/cuda_emu).
  template <typename Visit>
  void for_each_pointer(Visit&& visit) const {
    for (const Descriptor& d : t) {
      visit(d.in);
      visit(d.out);
    }
  }
};

__device__ inline float load_as_float(const void* p, int64_t i, Kind k) {
  switch (k) {
    case Kind::F32:
      return static_cast<const float*>(p)[i];
    case Kind::F64:
      return static_cast<float>(static_cast<const double*>(p)[i]);
    case Kind::F16:
      return Scalar<__half>::load(static_cast<const __half*>(p)[i]);  // NaN payloads kept
    default:
      return Scalar<__nv_bfloat16>::load(static_cast<const __nv_bfloat16*>(p)[i]);
  }
}
__device__ inline void store_float(void* p, int64_t i, Kind k, float v) {
  switch (k) {
    case Kind::F32:
      static_cast<float*>(p)[i] = v;
      break;
    case Kind::F64:
      static_cast<double*>(p)[i] = static_cast<double>(v);
      break;
    case Kind::F16:
      static_cast<__half*>(p)[i] = round_to_half(v);  // as the CPU: NaN payloads kept
      break;
    default:
      static_cast<__nv_bfloat16*>(p)[i] = round_to_bfloat16(v);
      break;
  }
}

// blockIdx.y picks the tensor; the x blocks stride over its elements.
__global__ void unscale_kernel(TensorList list, const float* inv_scale, float* found_inf) {
  const int t = blockIdx.y;
  const Descriptor d = list.t[t];
  const float inv = *inv_scale;
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (list.in_kind[t] == Kind::F64 && list.out_kind[t] == Kind::F64) {  // double stays double
      const double v = am::unscale(static_cast<const double*>(d.in)[i], static_cast<double>(inv));
      static_cast<double*>(d.out)[i] = v;
      bad = bad || !am::is_finite(v);
      continue;
    }
    const float v = am::unscale(load_as_float(d.in, i, list.in_kind[t]), inv);
    store_float(d.out, i, list.out_kind[t], v);
    bad = bad || !am::is_finite(v);
  }
  // One store per block that saw a non-finite value; every writer stores the same 1.
  if (__syncthreads_or(bad) && threadIdx.x == 0) *found_inf = 1.0f;
}

// blockIdx.y picks the tensor; out = in in out's dtype (float32 / float16 / bfloat16).
__global__ void cast_kernel(TensorList list) {
  const int t = blockIdx.y;
  const Descriptor d = list.t[t];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x)
    store_float(d.out, i, list.out_kind[t], load_as_float(d.in, i, list.in_kind[t]));
}

// Calls launch(list, grid) for each run of at most kMaxTensors (ins[k], outs[k]) pairs that has
// elements; the grid's y picks the tensor.
template <typename Launch>
void for_each_list(const TensorView* ins, const TensorView* outs, int64_t count, const char* op,
                   Launch launch) {
  for (int64_t first = 0; first < count; first += kMaxTensors) {
    const int64_t chunk = std::min<int64_t>(kMaxTensors, count - first);
    TensorList list{};
    int64_t largest = 0;
    for (int64_t k = 0; k < chunk; ++k) {
      const TensorView& in = ins[first + k];
      list.t[k] = {in.data, outs[first + k].data, in.numel()};
      list.in_kind[k] = kind_of(in.dtype, op);
      list.out_kind[k] = kind_of(outs[first + k].dtype, op);
      largest = std::max(largest, in.numel());
    }
    if (largest == 0) continue;
    launch(list, dim3(std::min<unsigned>(grid_for(largest), 1024u), static_cast<unsigned>(chunk)));
  }
}

__global__ void scale_update_kernel(double* state, float* found_inf, float* inv_scale, float* scale,
                                    ScaleUpdateParams params) {
  am::update_scale(state, *found_inf != 0.0f, params);
  *inv_scale = static_cast<float>(1.0 / state[kScaleSlot]);
  *scale = static_cast<float>(state[kScaleSlot]);
  *found_inf = 0.0f;
}

}  // namespace

void unscale_grads(const TensorView* grads, const TensorView* outs, int64_t count,
                   const TensorView& inv_scale, const TensorView& found_inf) {
  for_each_list(grads, outs, count, "unscale_grads", [&](const TensorList& list, dim3 grid) {
    unscale_kernel<<<grid, kBlockSize, 0, current_stream()>>>(list, inv_scale.ptr<float>(),
                                                              found_inf.ptr<float>());
    HG_CUDA_LAUNCH_CHECK("unscale_kernel");
  });
}

void cast_tensors(const TensorView* ins, const TensorView* outs, int64_t count) {
  check_cast_tensors(ins, outs, count);  // the CPU column's hg::Error
  for_each_list(ins, outs, count, "cast_tensors", [&](const TensorList& list, dim3 grid) {
    cast_kernel<<<grid, kBlockSize, 0, current_stream()>>>(list);
    HG_CUDA_LAUNCH_CHECK("cast_kernel");
  });
}

void scale_update(const TensorView& state, const TensorView& found_inf, const TensorView& inv_scale,
                  const TensorView& scale, const ScaleUpdateParams& params) {
  scale_update_kernel<<<1, 1, 0, current_stream()>>>(state.ptr<double>(), found_inf.ptr<float>(),
                                                     inv_scale.ptr<float>(), scale.ptr<float>(),
                                                     params);
  HG_CUDA_LAUNCH_CHECK("scale_update_kernel");
}

}  // namespace hg::kernels::cuda
