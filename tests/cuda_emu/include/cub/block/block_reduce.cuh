#pragma once
// The CUDA emulator's cub::BlockReduce: each thread's input into the temporary storage, a
// barrier, thread 0 combines them in thread order. As in CUB, only thread 0's result is the
// reduction, and the storage may be written again only after another barrier, which the caller
// owes: the emulator adds none, so a kernel that reuses it without one reads overwritten inputs
// in the reverse thread order (emu.h) and gives a wrong result.
#include "../../../emu_prelude.h"

namespace cub {

template <typename T, int BlockDimX>
class BlockReduce {
 public:
  struct TempStorage {
    T inputs[BlockDimX];
  };

  explicit BlockReduce(TempStorage& storage) : storage_(storage) {}

  template <typename Op>
  T Reduce(T input, Op op) {
    storage_.inputs[threadIdx.x] = input;
    __syncthreads();
    if (threadIdx.x != 0) return input;  // (undefined in CUB)
    T result = storage_.inputs[0];
    for (int t = 1; t < static_cast<int>(blockDim.x); ++t) result = op(result, storage_.inputs[t]);
    return result;
  }

 private:
  TempStorage& storage_;
};

}  // namespace cub
