// The emulated device's memory pages (emu_runtime_state.h): each cudaMalloc block is mapped
// pages that are open only while the emulated device runs queued work, followed by a guard page
// that is never open. Host code that reads or writes device memory (a CUDA tensor's data_ptr
// dereferenced, a memset on device memory) then faults here as it faults with a GPU, where host
// memory would have let it pass, and so does a kernel that runs past the end of its block; a
// SIGSEGV handler names the block before the crash goes on to the handler that was there before
// (ASan's report, doctest's, or the default core dump).
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

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// A block's layout: whole pages, then one guard page that is never opened. The block ends where
// the guard begins (its size rounded to cudaMalloc's 256 bytes), so a kernel that runs past its
// end faults there, as compute-sanitizer would report it, instead of reading the next block.
struct Layout {
  std::size_t pages_bytes, offset;  // the open pages, and where the block starts in them
};
Layout layout_of(std::size_t bytes) {
  const std::size_t page = page_size(), rounded = (bytes + 255) / 256 * 256;
  const std::size_t pages = (rounded + page - 1) / page * page;
  return {pages, pages - rounded};
}
void* mapping_of(uintptr_t block, std::size_t bytes) {
  return reinterpret_cast<void*>(block - layout_of(bytes).offset);
}

void protect_device_blocks(int protection) {
  Runtime& r = runtime();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& [base, block] : r.blocks)
    if (!block.pinned)
      mprotect(mapping_of(base, block.bytes), layout_of(block.bytes).pages_bytes, protection);
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
      address < it->first + ((it->second.bytes + 255) / 256 * 256) + page_size()) {
    char text[320];
    const int n = std::snprintf(
        text, sizeof text,
        "cuda_emu: device memory touched at %p, in or just past the cudaMalloc block of %zu "
        "bytes at %p: by host code (copy it to the host first: Tensor::to(kCPU), "
        "cudaMemcpyAsync), or by a kernel past the block's end (an out-of-bounds access)\n",
        info->si_addr, it->second.bytes, reinterpret_cast<void*>(it->first));
    if (n > 0) (void)!write(STDERR_FILENO, text, static_cast<std::size_t>(n));
  }
  // on to the handler before this one, called directly (ASan's report, doctest's); the default
  // action or none: put it back and return, so that the fault happens again under it
  if ((previous_handler.sa_flags & SA_SIGINFO) != 0 && previous_handler.sa_sigaction != nullptr) {
    handling = 0;
    previous_handler.sa_sigaction(signal, info, context);
  } else if ((previous_handler.sa_flags & SA_SIGINFO) == 0 &&
             previous_handler.sa_handler != SIG_DFL && previous_handler.sa_handler != SIG_IGN) {
    handling = 0;
    previous_handler.sa_handler(signal);
  } else {
    sigaction(SIGSEGV, &previous_handler, nullptr);
    handling = 0;
  }
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
  const Layout l = layout_of(bytes);
  void* mapping = mmap(nullptr, l.pages_bytes + page_size(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) return nullptr;
  std::memset(mapping, fill, l.pages_bytes);
  mprotect(static_cast<char*>(mapping) + l.pages_bytes, page_size(), PROT_NONE);  // the guard
  if (open_depth == 0) {
    mprotect(mapping, l.pages_bytes, PROT_NONE);
    ensure_segv_handler();
  }
  return static_cast<char*>(mapping) + l.offset;
}

void unmap_device_block(void* p, std::size_t bytes) {
  munmap(mapping_of(reinterpret_cast<uintptr_t>(p), bytes),
         layout_of(bytes).pages_bytes + page_size());
}

DeviceRunning::DeviceRunning() {
  if (open_depth++ == 0) protect_device_blocks(PROT_READ | PROT_WRITE);
}

DeviceRunning::~DeviceRunning() {
  if (--open_depth > 0) return;
  protect_device_blocks(PROT_NONE);
  ensure_segv_handler();
}

}  // namespace hg_emu
