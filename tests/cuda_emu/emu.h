#pragma once
// The CUDA emulator's controls for tests (tests/cuda_emu/emu.cpp says how it runs a kernel).
#include "emu_prelude.h"

namespace hg_emu {

// The order in which a block's threads run between two barriers: Alternate (the default) runs
// even-numbered blocks forward and odd ones in reverse, so that a kernel of several blocks that
// reads shared memory before the barrier that should order it fails in one of the two.
// HG_EMU_THREAD_ORDER=forward|reverse|alternate sets the starting value.
enum class ThreadOrder { Forward, Reverse, Alternate };
void set_thread_order(ThreadOrder order);

// The order in which a launch runs its blocks (one at a time): first to last by default, last
// to first with `reversed` (HG_EMU_BLOCK_ORDER=reverse sets the starting value). A GPU runs them
// in no order it promises, so a kernel whose block reads what another block of the same launch
// writes (and not through atomics that any order would serve) gives another result reversed.
void set_block_order_reversed(bool reversed);

// What cudaDeviceGetAttribute(cudaDevAttrMultiProcessorCount) answers (default 4): launchers
// that size their grids by it take other paths with other counts.
void set_sm_count(int count);

// The emulated device's memory (default 16 GiB): cudaMalloc fails with cudaErrorMemoryAllocation
// beyond it, and cudaMemGetInfo reports it.
void set_device_memory(std::size_t bytes);

}  // namespace hg_emu
