// The CUDA emulator's execution model (tests/cuda_emu/emu_prelude.h): a launch runs its blocks
// one after another; within a block every thread is a fiber (its own stack) that runs until it
// finishes or waits at a barrier (__syncthreads, __syncwarp, a shuffle). Threads run in index
// order, or in reverse, between barriers (emu.h's ThreadOrder: by default, alternately from block
// to block): a kernel that reads shared memory another thread writes without a barrier between
// them sees the write in one order and misses it in the other, so the race shows as a wrong
// result. Blocks run first to last, or last to first (emu.h's set_block_order_reversed).
#include "emu.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "halfgrad/core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define HG_EMU_ASAN 1
#else
#define HG_EMU_ASAN 0
#endif

// ---- switching stacks -------------------------------------------------------------------------
// hg_emu_switch(save, load): saves the callee-saved registers on the current stack and the stack
// pointer in *save, then continues on the stack `load` (which another call saved, or
// prepare_stack built). Nothing else: no signal mask, so a switch costs nanoseconds, not the two
// system calls of swapcontext: an emulated im2col over millions of threads takes seconds.
#if !defined(__x86_64__)
#error "tests/cuda_emu switches fiber stacks in x86-64 assembly; port hg_emu_switch to this CPU"
#endif
extern "C" void hg_emu_switch(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .globl hg_emu_switch
  .hidden hg_emu_switch
  .type hg_emu_switch, @function
hg_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size hg_emu_switch, .-hg_emu_switch
)");

namespace hg_emu {
namespace {

// A new stack whose first switch "returns" into entry, aligned as if entry had been called.
void* prepare_stack(void* stack, std::size_t bytes, void (*entry)()) {
  auto* top =
      reinterpret_cast<uintptr_t*>((reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t{15});
  *--top = 0;  // entry's return address: it never returns
  *--top = reinterpret_cast<uintptr_t>(entry);
  for (int r = 0; r < 6; ++r) *--top = 0;  // rbp rbx r12 r13 r14 r15
  return top;
}

constexpr std::size_t kStackBytes = std::size_t{256} << 10;  // ASan's redzones need room

ThreadOrder order_from_environment() {
  const char* value = std::getenv("HG_EMU_THREAD_ORDER");
  const std::string order = value != nullptr ? value : "alternate";
  if (order == "forward") return ThreadOrder::Forward;
  if (order == "reverse") return ThreadOrder::Reverse;
  if (order != "alternate")
    std::fprintf(stderr,
                 "cuda_emu: HG_EMU_THREAD_ORDER=%s is not forward, reverse or "
                 "alternate: alternate\n",
                 order.c_str());
  return ThreadOrder::Alternate;
}

bool blocks_reversed_from_environment() {
  const char* value = std::getenv("HG_EMU_BLOCK_ORDER");
  const std::string order = value != nullptr ? value : "forward";
  if (order != "forward" && order != "reverse")
    std::fprintf(stderr, "cuda_emu: HG_EMU_BLOCK_ORDER=%s is not forward or reverse: forward\n",
                 order.c_str());
  return order == "reverse";
}

struct Barrier {
  int arrived = 0, expected = 0;
  unsigned generation = 0;
  int or_accumulator = 0;
  int or_result[2] = {0, 0};
  std::vector<int> waiters;
};

struct Fiber {
  void* sp = nullptr;  // where its stack stands while it waits
  void* stack = nullptr;
  bool done = false, blocked = false;
};

struct Emulator {
  std::vector<void*> stacks;  // kept across launches
  std::vector<Fiber> fibers;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<unsigned char> lane_slots;  // warp exchange: 32 lanes x 8 bytes per warp
  void* scheduler_sp = nullptr;
  int current = -1;
  void (*body)(void*) = nullptr;
  void* body_context = nullptr;
  std::exception_ptr failure;
  ThreadOrder order = order_from_environment();
  bool blocks_reversed = blocks_reversed_from_environment();
  int sm_count = 4;
  long blocks = 0;  // blocks run so far: each block's serial number
#if HG_EMU_ASAN
  const void* scheduler_stack = nullptr;
  std::size_t scheduler_stack_size = 0;
#endif

  ~Emulator() {
    for (void* s : stacks) munmap(s, kStackBytes);
  }
  void* stack(std::size_t index) {
    while (stacks.size() <= index) {
      void* s =
          mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (s == MAP_FAILED) throw std::runtime_error("cuda_emu: cannot map a fiber stack");
      stacks.push_back(s);
    }
    return stacks[index];
  }
};

Emulator& emu() {
  static Emulator instance;
  return instance;
}

// From the running fiber back to the scheduler; `finished`: this fiber never resumes.
void to_scheduler(bool finished) {
  Emulator& e = emu();
  Fiber& f = e.fibers[static_cast<std::size_t>(e.current)];
#if HG_EMU_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, e.scheduler_stack,
                                 e.scheduler_stack_size);
  hg_emu_switch(&f.sp, e.scheduler_sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)finished;
  hg_emu_switch(&f.sp, e.scheduler_sp);
#endif
}

// From the scheduler into fiber i, until it waits or finishes.
void resume(int i) {
  Emulator& e = emu();
  e.current = i;
  const unsigned tid = static_cast<unsigned>(i);
  threadIdx = {tid % blockDim.x, tid / blockDim.x % blockDim.y, tid / (blockDim.x * blockDim.y)};
  Fiber& f = e.fibers[static_cast<std::size_t>(i)];
#if HG_EMU_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, f.stack, kStackBytes);
  hg_emu_switch(&e.scheduler_sp, f.sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  hg_emu_switch(&e.scheduler_sp, f.sp);
#endif
}

void release(Barrier& b) {
  b.or_result[b.generation & 1] = b.or_accumulator;
  b.or_accumulator = 0;
  b.arrived = 0;
  ++b.generation;
  for (int w : b.waiters) emu().fibers[static_cast<std::size_t>(w)].blocked = false;
  b.waiters.clear();
}

// Waits until every live thread of the barrier's group arrived; returns the OR of predicates.
int arrive(Barrier& b, int predicate) {
  Emulator& e = emu();
  if (e.current < 0) throw std::logic_error("cuda_emu: a barrier outside a kernel");
  b.or_accumulator |= predicate != 0 ? 1 : 0;
  const unsigned generation = b.generation;
  if (++b.arrived == b.expected) {
    release(b);
  } else {
    e.fibers[static_cast<std::size_t>(e.current)].blocked = true;
    b.waiters.push_back(e.current);
    to_scheduler(false);
  }
  return b.or_result[generation & 1];
}

Barrier& own_warp() { return emu().warps[static_cast<std::size_t>(emu().current / 32)]; }

// A thread that returns no longer counts at its block's and warp's barriers.
void leave(Barrier& b) {
  --b.expected;
  if (b.arrived > 0 && b.arrived == b.expected) release(b);
}

void fiber_entry() {
  Emulator& e = emu();
#if HG_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &e.scheduler_stack, &e.scheduler_stack_size);
#endif
  try {
    e.body(e.body_context);
  } catch (...) {
    if (!e.failure) e.failure = std::current_exception();
  }
  e.fibers[static_cast<std::size_t>(e.current)].done = true;
  leave(e.block);
  leave(own_warp());
  to_scheduler(true);
}

void run_block(int threads, bool reverse) {
  Emulator& e = emu();
  ++e.blocks;
  e.fibers.assign(static_cast<std::size_t>(threads), Fiber{});
  e.block = Barrier{};
  e.block.expected = threads;
  const int warps = (threads + 31) / 32;
  e.warps.assign(static_cast<std::size_t>(warps), Barrier{});
  for (int w = 0; w < warps; ++w)
    e.warps[static_cast<std::size_t>(w)].expected = std::min(32, threads - w * 32);
  e.lane_slots.assign(static_cast<std::size_t>(warps) * 32 * 8, 0);
  for (int i = 0; i < threads; ++i) {
    Fiber& f = e.fibers[static_cast<std::size_t>(i)];
    f.stack = e.stack(static_cast<std::size_t>(i));
    f.sp = prepare_stack(f.stack, kStackBytes, fiber_entry);
  }
  for (int live = threads; live > 0 && !e.failure;) {
    bool ran = false;
    for (int k = 0; k < threads && !e.failure; ++k) {
      const int i = reverse ? threads - 1 - k : k;
      const Fiber& f = e.fibers[static_cast<std::size_t>(i)];
      if (f.done || f.blocked) continue;
      resume(i);
      ran = true;
      if (f.done) --live;
    }
    if (!ran && live > 0) {
      e.current = -1;  // (its fibers are abandoned: the next launch starts afresh)
      throw std::logic_error("cuda_emu: deadlock: every live thread of block (" +
                             std::to_string(blockIdx.x) + ", " + std::to_string(blockIdx.y) + ", " +
                             std::to_string(blockIdx.z) +
                             ") waits at a barrier the others "
                             "never reach");
    }
  }
  e.current = -1;
}

}  // namespace

void block_barrier() { arrive(emu().block, 0); }
int block_barrier_or(int predicate) { return arrive(emu().block, predicate); }
void warp_barrier() { arrive(own_warp(), 0); }

void warp_exchange(const void* mine, void* out, std::size_t bytes, int from) {
  Emulator& e = emu();
  if (bytes > 8) throw std::logic_error("cuda_emu: a shuffle of more than 8 bytes");
  const int warp = e.current / 32, lane = e.current % 32;
  unsigned char* slots = e.lane_slots.data() + static_cast<std::size_t>(warp) * 32 * 8;
  std::memcpy(slots + lane * 8, mine, bytes);
  warp_barrier();
  std::memcpy(out, slots + (from & 31) * 8, bytes);
  warp_barrier();  // nobody overwrites a slot before every lane has read
}

void run_grid(const LaunchConfig& config, void (*body)(void*), void* context) {
  Emulator& e = emu();
  if (e.current >= 0) throw std::logic_error("cuda_emu: a launch from inside a kernel");
  const long threads = long{config.block.x} * config.block.y * config.block.z;
  e.body = body;
  e.body_context = context;
  e.failure = nullptr;
  blockDim = config.block;
  gridDim = config.grid;
  const long gx = config.grid.x, gy = config.grid.y, blocks = gx * gy * config.grid.z;
  for (long i = 0; i < blocks && !e.failure; ++i) {
    const long block = e.blocks_reversed ? blocks - 1 - i : i;
    blockIdx = {static_cast<unsigned>(block % gx), static_cast<unsigned>(block / gx % gy),
                static_cast<unsigned>(block / (gx * gy))};
    const bool reverse =
        e.order == ThreadOrder::Reverse || (e.order == ThreadOrder::Alternate && block % 2 == 1);
    run_block(static_cast<int>(threads), reverse);
  }
  if (e.failure) std::rethrow_exception(std::exchange(e.failure, nullptr));
}

void set_thread_order(ThreadOrder order) { emu().order = order; }
void set_block_order_reversed(bool reversed) { emu().blocks_reversed = reversed; }
void set_sm_count(int count) { emu().sm_count = count; }
int current_thread() { return emu().current; }
long block_serial() { return emu().blocks; }

void fresh_shared(void* p, std::size_t bytes) {
  static std::unordered_map<void*, long> filled_in;  // the block that filled each variable
  long& block = filled_in[p];
  if (block == emu().blocks) return;
  block = emu().blocks;
  std::memset(p, 0xff, bytes);
}

}  // namespace hg_emu

// ---- the emulated device's shape (the rest of the runtime is emu_runtime.cpp) -----------------
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int /*device*/) {
  if (attribute != cudaDevAttrMultiProcessorCount) return cudaErrorInvalidValue;
  *value = hg_emu::emu().sm_count;
  return cudaSuccess;
}
