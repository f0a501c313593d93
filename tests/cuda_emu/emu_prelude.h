#pragma once
// The CUDA emulator's prelude, force-included (-include) into every kernels/cuda source that
// tests/cuda_emu compiles as host C++: what nvcc would provide for device code, in plain C++.
//
// Why: most sessions of this project have no GPU, and kernel code that never ran is where the
// GPU sessions' few minutes went. The emulator runs the real kernel source on the CPU, each
// CUDA thread a fiber (tests/cuda_emu/emu.cpp), so the index arithmetic, the barriers, the
// shared-memory staging and the WMMA tiling of a kernel meet the CPU kernels' results before
// any GPU does. It checks logic, not speed or the hardware's exact rounding: WMMA multiplies in
// float here, the tensor cores in their own order.
//
// Device-only branches are taken (__CUDA_ARCH__ is defined), so the intrinsics below stand in
// for the GPU's: the same rounding (round to nearest even, no fused multiply-add) for the ones
// the kernels use for bit-exactness (__fmul_rn, __dmul_rn, __fadd_rn, __dadd_rn).
#define __CUDA_ARCH__ 900

#include <math.h>  // CUDA device code calls isnan, expf, ... unqualified

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "halfgrad/core/half.h"

// ---- declaration specifiers ------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One instance per kernel instantiation: blocks run one after another, their threads share it.
#define __shared__ static

// ---- vector and launch types ------------------------------------------------------------------
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// The running thread's coordinates: the scheduler sets them before it resumes a fiber.
inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

// ---- the runtime API (emu_runtime_api.h, emu_runtime.cpp) -------------------------------------
#include "emu_runtime_api.h"

// ---- fp16 and bf16 storage types, with the conversions the kernels use -------------------------
struct __half_raw {
  unsigned short x;
};
struct __half {
  unsigned short bits_;
  __half() = default;
  constexpr __half(__half_raw raw) : bits_(raw.x) {}  // NOLINT: CUDA's implicit conversion
};
struct __nv_bfloat16_raw {
  unsigned short x;
};
struct __nv_bfloat16 {
  unsigned short bits_;
  __nv_bfloat16() = default;
  constexpr __nv_bfloat16(__nv_bfloat16_raw raw) : bits_(raw.x) {}  // NOLINT: as CUDA's
};

inline unsigned short __half_as_ushort(__half h) { return h.bits_; }
inline __half __ushort_as_half(unsigned short bits) { return __half_raw{bits}; }
inline float __half2float(__half h) { return hg::detail::half_bits_to_float(h.bits_); }
inline __half __float2half_rn(float v) { return __half_raw{hg::detail::float_to_half_bits(v)}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.bits_; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short bits) { return __nv_bfloat16_raw{bits}; }
inline float __bfloat162float(__nv_bfloat16 h) {
  return hg::detail::bfloat16_bits_to_float(h.bits_);
}
inline __nv_bfloat16 __float2bfloat16_rn(float v) {
  return __nv_bfloat16_raw{hg::detail::float_to_bfloat16_bits(v)};
}

// ---- bit casts and arithmetic intrinsics ------------------------------------------------------
template <typename To, typename From>
inline To emu_bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}
inline float __uint_as_float(unsigned u) { return emu_bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return emu_bit_cast<unsigned>(f); }
inline float __int_as_float(int i) { return emu_bit_cast<float>(i); }
inline int __float_as_int(float f) { return emu_bit_cast<int>(f); }
inline double __longlong_as_double(long long i) { return emu_bit_cast<double>(i); }
inline long long __double_as_longlong(double d) { return emu_bit_cast<long long>(d); }
// (the emulated sources are compiled with -ffp-contract=off: these never fuse)
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __fdividef(float a, float b) { return a / b; }
// (inline PTX, which rewrite_launches.pl turns into calls of these)
namespace hg_emu {
// ex2.approx.ftz.f32: 2^v, subnormal results flushed to zero (the hardware's is within 2 ulp)
inline float ex2_approx_ftz(float v) {
  const float r = std::exp2(v);
  return std::fpclassify(r) == FP_SUBNORMAL ? 0.0f : r;
}
}  // namespace hg_emu
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}

// ---- atomics: fibers switch only at barriers, so a plain read-modify-write is atomic -----------
template <typename T>
inline T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
inline T atomicMin(T* address, T value) {
  const T old = *address;
  if (value < old) *address = value;
  return old;
}
// ((old >= limit) ? 0 : old + 1), as CUDA's
inline unsigned atomicInc(unsigned* address, unsigned limit) {
  const unsigned old = *address;
  *address = old >= limit ? 0u : old + 1u;
  return old;
}
// Blocks run one after another here, so every write is visible to the blocks after it.
inline void __threadfence() {}
template <typename T>
inline T __ldcg(const T* p) {  // a load that bypasses L1 on the GPU
  return *p;
}

// ---- the execution model: barriers, warp exchange, launches (tests/cuda_emu/emu.cpp) -----------
namespace hg_emu {

void block_barrier();
int block_barrier_or(int predicate);
void warp_barrier();
// This lane's `bytes` at `mine` to the warp; returns in `out` what lane `from` gave.
void warp_exchange(const void* mine, void* out, std::size_t bytes, int from);

// The running thread's index in its block (-1 outside a kernel), and a number that changes from
// block to block (for per-block state such as include/mma.h's).
int current_thread();
long block_serial();
// Called (rewrite_launches.pl adds the call) where a `__shared__` variable is declared: the first
// thread of a block to get there fills its bytes with 0xff (NaN in every float type), as a GPU
// block finds its shared memory holding what an earlier block left, not zeros and not this
// kernel's previous block's values (which a `static` array would keep).
void fresh_shared(void* p, std::size_t bytes);
// d = a b + c for one WMMA tile (include/mma.h), a: m x k, b: k x n, c and d: m x n, row-major
// floats: computed by the warp's first lane to get there, handed to the others after checking
// that they hold the same operands (the fragments of a warp are one tile on the GPU).
void warp_mma(const float* a, const float* b, const float* c, float* d, int m, int n, int k);

struct LaunchConfig {
  dim3 grid, block;
  std::size_t shared_bytes = 0;
  cudaStream_t stream = nullptr;
};
// Runs body once per thread of the grid, block after block, each thread a fiber.
void run_grid(const LaunchConfig& config, void (*body)(void*), void* context);
// Throws an hg::Error naming `kernel` for a grid or block CUDA would refuse to launch.
void check_launch_config(const char* kernel, const LaunchConfig& config);
// A pointer a launch hands its kernel: argument `argument` (from 1) itself (member 0), or the
// `member`th pointer (from 1) that the argument's for_each_pointer lists (a multi-tensor list, a
// step's controls).
struct KernelPointer {
  const void* address;
  int argument;
  int member;
};
// Issues a launch on config.stream (emu_runtime_api.h's submit): each run checks that `pointers`
// are device memory, then runs per_thread on every thread of the grid.
void submit_launch(const char* kernel, const LaunchConfig& config,
                   std::vector<KernelPointer> pointers, std::function<void()> per_thread);

// Pointer arguments, and the pointers inside a struct argument that lists them (kernels/cuda's
// structs passed by value name theirs in a for_each_pointer member; a null one is absent).
template <typename T>
void note_pointers(std::vector<KernelPointer>& pointers, int argument, const T& value) {
  if constexpr (std::is_pointer_v<T> && std::is_object_v<std::remove_pointer_t<T>>) {
    pointers.push_back({static_cast<const void*>(value), argument, 0});
  } else if constexpr (requires { value.for_each_pointer([](const void*) {}); }) {
    int member = 0;
    value.for_each_pointer([&](const void* p) {
      ++member;
      if (p != nullptr) pointers.push_back({p, argument, member});
    });
  }
}

// kernel<<<config>>>(args...) in kernels/cuda (rewrite_launches.pl's rewrite), `kernel` a
// callable that calls the kernel (a generic lambda): the arguments copied once, as CUDA copies
// them into the launch (a captured launch keeps these copies for every replay), then every
// thread gets its own copy. Pointer arguments must point to device memory when the kernel runs.
template <typename Kernel, typename... Args>
void launch_named(const char* name, const LaunchConfig& config, Kernel kernel, Args&&... args) {
  check_launch_config(name, config);
  struct Context {
    Kernel kernel;
    std::tuple<std::decay_t<Args>...> args;
  };
  auto context = std::make_shared<Context>(Context{kernel, {std::forward<Args>(args)...}});
  std::vector<KernelPointer> pointers;
  std::apply(
      [&](const auto&... a) {
        int argument = 0;
        (note_pointers(pointers, ++argument, a), ...);
      },
      context->args);
  submit_launch(name, config, std::move(pointers),
                [context] { std::apply(context->kernel, context->args); });
}

// A launch of the emulator's own tests (tests/cuda_emu/test_emulator.cpp): run at once, never
// recorded, its arguments not checked (they may be host memory).
template <typename Kernel, typename... Args>
void launch(const LaunchConfig& config, Kernel kernel, Args&&... args) {
  check_launch_config("kernel", config);
  struct Context {
    Kernel kernel;
    std::tuple<std::decay_t<Args>...> args;
  } context{kernel, {std::forward<Args>(args)...}};
  run_grid(
      config,
      [](void* p) {
        auto* c = static_cast<Context*>(p);
        std::apply(c->kernel, c->args);
      },
      &context);
}

}  // namespace hg_emu

inline void __syncthreads() { hg_emu::block_barrier(); }
inline int __syncthreads_or(int predicate) { return hg_emu::block_barrier_or(predicate); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { hg_emu::warp_barrier(); }
template <typename T>
inline T __shfl_xor_sync(unsigned /*mask*/, T value, int lane_mask, int /*width*/ = 32) {
  T out;
  hg_emu::warp_exchange(&value, &out, sizeof(T), static_cast<int>(threadIdx.x % 32) ^ lane_mask);
  return out;
}
