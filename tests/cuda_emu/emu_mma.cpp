// WMMA's multiply for the CUDA emulator (include/mma.h): every lane of a warp holds the whole
// tile, so the 32 lanes would each do the same 16x16x16 product. The first lane of a warp to
// make its n-th call in a block computes it; the others, at their n-th call, get its result
// after checking that their operands are the same bytes (on the GPU the warp's fragments are
// one tile: lanes that loaded different tiles are a bug the hardware would not report).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu.h"

namespace hg_emu {
namespace {

struct Call {
  std::vector<float> operands;  // a, b, c
  std::vector<float> result;
  int served = 0;  // lanes that got the result: at a full warp the memory goes
};

struct Memo {
  long block = -1;
  std::vector<long> calls;               // per thread: its mma calls so far in this block
  std::vector<std::vector<Call>> warps;  // per warp: the n-th call's operands and result
};

Memo& memo() {
  static Memo m;
  return m;
}

// Products in float, each sum in k order; kept out of AddressSanitizer (fragments only) and, by
// GCC, optimised in every build: this is most of an emulated implicit-GEMM convolution's time.
#if defined(__clang__)
#define HG_EMU_HOT __attribute__((no_sanitize("address")))
#else
#define HG_EMU_HOT __attribute__((no_sanitize("address"), optimize("O2")))
#endif
HG_EMU_HOT void multiply(const float* a, const float* b, const float* c, float* d, int m, int n,
                         int k) {
  for (int e = 0; e < m * n; ++e) d[e] = c[e];
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j) d[i * n + j] += a[i * k + p] * b[p * n + j];
}

}  // namespace

void warp_mma(const float* a, const float* b, const float* c, float* d, int m, int n, int k) {
  Memo& mm = memo();
  const int thread = current_thread();
  if (thread < 0) throw std::logic_error("wmma::mma_sync outside a kernel");
  if (mm.block != block_serial()) {
    mm.block = block_serial();
    mm.calls.assign(1024, 0);
    mm.warps.assign(32, {});
  }
  std::vector<Call>& calls = mm.warps[static_cast<std::size_t>(thread / 32)];
  const auto index = static_cast<std::size_t>(mm.calls[static_cast<std::size_t>(thread)]++);
  const std::size_t sa = std::size_t(m) * k, sb = std::size_t(k) * n, sc = std::size_t(m) * n;
  if (index == calls.size()) {  // the first lane here
    Call call;
    call.operands.resize(sa + sb + sc);
    std::memcpy(call.operands.data(), a, sa * sizeof(float));
    std::memcpy(call.operands.data() + sa, b, sb * sizeof(float));
    std::memcpy(call.operands.data() + sa + sb, c, sc * sizeof(float));
    call.result.resize(sc);
    multiply(a, b, c, call.result.data(), m, n, k);
    calls.push_back(std::move(call));
  }
  Call& call = calls[index];
  if (std::memcmp(call.operands.data(), a, sa * sizeof(float)) != 0 ||
      std::memcmp(call.operands.data() + sa, b, sb * sizeof(float)) != 0 ||
      std::memcmp(call.operands.data() + sa + sb, c, sc * sizeof(float)) != 0)
    throw std::logic_error("wmma::mma_sync: lane " + std::to_string(thread % 32) +
                           " of a warp holds other operands than the warp's first lane (call " +
                           std::to_string(index) + " in the block)");
  std::memcpy(d, call.result.data(), sc * sizeof(float));
  const int lanes =
      std::min(32, static_cast<int>(blockDim.x * blockDim.y * blockDim.z) - thread / 32 * 32);
  if (++call.served == lanes) call = Call{{}, {}, lanes};
}

}  // namespace hg_emu
