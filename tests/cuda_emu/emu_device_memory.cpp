// The emulated device's memory pages (emu_runtime_state.h): each cudaMalloc block is mapped
// pages that are open only while the emulated device runs queued work. Host code that reads or
// writes device memory (a CUDA tensor's data_ptr dereferenced, a memset on device memory) then
// faults here as it faults with a GPU, where host memory would have let it pass; a SIGSEGV
// handler names the block before the crash goes on to the handler that was there before (ASan's
// report, doctest's, or the default core dump).
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "emu_runtime_state.h"

namespace hg_emu {
namespace {

int open_depth = 0;  // DeviceRunning nesting
struct sigaction previous_handler;
volatile sig_atomic_t handling = 0;

std::size_t mapped_bytes(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

void protect_device_blocks(int protection) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& [base, block] : r.blocks)
    if (!block.pinned)
      mprotect(reinterpret_cast<void*>(base), mapped_bytes(block.bytes), protection);
}

void on_segv(int signal, siginfo_t* info, void* context) {
  if (handling) {  // a fault while reporting one: no more reports
    ::signal(SIGSEGV, SIG_DFL);
    return;
  }
  handling = 1;
  // the map is read without its lock: the process is going down
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  const auto& blocks = runtime().blocks;
  auto it = blocks.upper_bound(address);
  if (it != blocks.begin() && !(--it)->second.pinned &&
      address < it->first + mapped_bytes(it->second.bytes)) {
    char text[320];
    const int n = std::snprintf(
        text, sizeof text,
        "cuda_emu: host code touched device memory at %p (the cudaMalloc block of %zu bytes at "
        "%p): a GPU's memory faults there too; copy it to the host first (Tensor::to(kCPU), "
        "cudaMemcpyAsync)\n",
        info->si_addr, it->second.bytes, reinterpret_cast<void*>(it->first));
    if (n > 0) (void)!write(STDERR_FILENO, text, static_cast<std::size_t>(n));
  }
  if ((previous_handler.sa_flags & SA_SIGINFO) != 0 && previous_handler.sa_sigaction != nullptr) {
    handling = 0;
    previous_handler.sa_sigaction(signal, info, context);
    return;
  }
  sigaction(SIGSEGV, &previous_handler, nullptr);  // returning re-runs the fault under it
  handling = 0;
}

// Puts on_segv in front of whatever handler is there now (doctest swaps its own in and out
// around each test case, so this is checked whenever device memory closes).
void ensure_segv_handler() {
  struct sigaction current {};
  sigaction(SIGSEGV, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_segv) return;
  previous_handler = current;
  struct sigaction ours {};
  ours.sa_sigaction = on_segv;
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  sigaction(SIGSEGV, &ours, nullptr);
}

}  // namespace

void* map_device_block(std::size_t bytes, unsigned char fill) {
  void* p = mmap(nullptr, mapped_bytes(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::memset(p, fill, mapped_bytes(bytes));
  if (open_depth == 0) {
    mprotect(p, mapped_bytes(bytes), PROT_NONE);
    ensure_segv_handler();
  }
  return p;
}

void unmap_device_block(void* p, std::size_t bytes) { munmap(p, mapped_bytes(bytes)); }

DeviceRunning::DeviceRunning() {
  if (open_depth++ == 0) protect_device_blocks(PROT_READ | PROT_WRITE);
}

DeviceRunning::~DeviceRunning() {
  if (--open_depth > 0) return;
  protect_device_blocks(PROT_NONE);
  ensure_segv_handler();
}

}  // namespace hg_emu
