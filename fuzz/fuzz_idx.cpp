// read_idx_from_memory: the IDX header, sizes, payload and gzip layer of MNIST files.
#include <filesystem>

#include "fuzz_util.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/data/idx.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = hg::fuzz::seed_dir();
  if (dir.empty()) return 0;
  const hg::Tensor t = hg::arange(12, hg::kUInt8).reshape({3, 4});
  hg::data::write_idx(dir + "/seed.idx", t);
  hg::data::write_idx(dir + "/seed.idx.gz", t);
  hg::data::write_idx(dir + "/seed_float.idx", hg::arange(6, hg::kFloat32));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const hg::Tensor t = hg::data::read_idx_from_memory(data, size, "fuzz-input");
    if (t.numel() > 0 && t.data_ptr() == nullptr) __builtin_trap();
  } catch (const hg::Error&) {
  }
  return 0;
}
