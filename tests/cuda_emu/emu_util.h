#pragma once
// Helpers for the CUDA emulator suite: running an op's emulated CUDA kernels behind the public
// API on CPU tensors (device memory is host memory here), and the parity tolerances of
// tests/cuda (cuda_test_util.h).
#include <functional>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "cuda/cuda_test_util.h"
#include "emu.h"
#include "kernels/dispatch.h"

namespace hg::test {

// The emulated kernels' scratch buffers (DeviceBuffer, Scratch) come from the CPU's allocator.
inline void device_memory_on_the_cpu() { register_allocator(DeviceType::CUDA, &cpu_allocator()); }

// While it lives, the CPU column of `table` is the emulated CUDA kernel `fn`: an op on CPU
// tensors (forward or, through its backward node, backward) runs the kernels/cuda code.
template <typename Fn>
class EmulatedKernel {
 public:
  EmulatedKernel(kernels::DispatchTable<Fn>& table, Fn fn)
      : table_(table), cpu_(table.fns[static_cast<int>(DeviceType::CPU)]) {
    device_memory_on_the_cpu();
    table.set(DeviceType::CPU, fn);
  }
  ~EmulatedKernel() { table_.set(DeviceType::CPU, cpu_); }
  EmulatedKernel(const EmulatedKernel&) = delete;
  EmulatedKernel& operator=(const EmulatedKernel&) = delete;

 private:
  kernels::DispatchTable<Fn>& table_;
  Fn cpu_;
};

// The op's output and the gradients of its inputs that require grad, after backward with an
// upstream gradient drawn from `seed` (the same for every run).
using Op = std::function<Tensor(const std::vector<Tensor>&)>;
inline std::vector<Tensor> forward_backward(const Op& op, const std::vector<Tensor>& inputs,
                                            uint64_t seed) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs)
    leaves.push_back(t.requires_grad() ? t.detach().requires_grad_() : t);
  std::vector<Tensor> results{op(leaves)};
  if (results[0].requires_grad()) {
    manual_seed(seed);
    results[0].backward(randn(results[0].sizes(), TensorOptions(results[0].dtype())));
  }
  for (const Tensor& leaf : leaves)
    if (leaf.requires_grad()) results.push_back(leaf.grad());
  return results;
}

// Runs `body` with an op's kernel families emulated (EmulatedKernel guards in its scope).
using Emulation = std::function<void(const std::function<void()>& body)>;

// op's output and input gradients with the CPU kernels, then with `emulated`'s: they agree to
// tests/cuda's parity tolerance of dtype (absolute part scaled by `scale`), and some emulated
// kernel did run.
inline void check_emulated(const std::string& what, const Op& op, const std::vector<Tensor>& inputs,
                           DType dtype, double scale, const Emulation& emulated) {
  const std::vector<Tensor> cpu = forward_backward(op, inputs, 99);
  std::vector<Tensor> emu;
  const long launches = hg_emu::launches();
  emulated([&] { emu = forward_backward(op, inputs, 99); });
  CHECK_MESSAGE(hg_emu::launches() > launches, what << ": no emulated kernel ran");
  REQUIRE(emu.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i)
    expect_within_parity(emu[i], cpu[i], dtype,
                         what + (i == 0 ? " forward" : " gradient " + std::to_string(i)), scale);
}

inline constexpr hg_emu::ThreadOrder kThreadOrders[] = {hg_emu::ThreadOrder::Forward,
                                                        hg_emu::ThreadOrder::Reverse};

}  // namespace hg::test
