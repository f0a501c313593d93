// parse_safetensors: the length prefix, the JSON header, dtypes, shapes and offsets.
#include "fuzz_util.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/serialization.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = hg::fuzz::seed_dir();
  if (dir.empty()) return 0;
  hg::nn::save_safetensors({{"a", hg::arange(6, hg::kFloat32).reshape({2, 3})},
                            {"b", hg::arange(3, hg::kInt64)},
                            {"c", hg::ones({2}, hg::kFloat16)}},
                           dir + "/seed.safetensors", {{"format", "pt"}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::map<std::string, std::string> meta;
    const hg::nn::TensorMap tensors = hg::nn::parse_safetensors(data, size, "fuzz-input", &meta);
    for (const auto& [name, t] : tensors)
      if (t.numel() > 0 && t.data_ptr() == nullptr) __builtin_trap();
  } catch (const hg::Error&) {
  }
  return 0;
}
