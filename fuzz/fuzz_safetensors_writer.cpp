// save_safetensors, then load_safetensors: a map of tensors built from the fuzz input (names and
// metadata of any bytes, every dtype, shapes with zero sizes, arbitrary element bytes) must either
// be refused with hg::Error when saved or come back exactly: the same names, dtypes, shapes,
// bytes (bool bytes as 0/1, which the writer normalises) and metadata. Anything else traps.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "fuzz_util.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/serialization.h"

namespace {

constexpr hg::DType kDtypes[] = {hg::kFloat32, hg::kFloat16, hg::kBFloat16, hg::kFloat64,
                                 hg::kInt64,   hg::kUInt8,   hg::kBool};

// One tensor: a dtype, up to 3 dims of size 0..5, and its bytes from the input (zeros when the
// input runs out).
hg::Tensor consume_tensor(FuzzedDataProvider& in) {
  const hg::DType dtype = in.PickValueInArray(kDtypes);
  hg::Shape shape(in.ConsumeIntegralInRange<size_t>(0, 3));
  for (int64_t& size : shape) size = in.ConsumeIntegralInRange<int64_t>(0, 5);
  hg::Tensor t = hg::zeros(shape, dtype);
  const size_t bytes = static_cast<size_t>(t.numel()) * hg::itemsize(dtype);
  const std::vector<uint8_t> given = in.ConsumeBytes<uint8_t>(bytes);
  if (!given.empty()) std::memcpy(t.data_ptr(), given.data(), given.size());
  return t;
}

// The bytes a loaded tensor must have: t's, with bool bytes normalised to 0/1.
std::vector<uint8_t> expected_bytes(const hg::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  std::vector<uint8_t> out(p, p + t.numel() * hg::itemsize(t.dtype()));
  if (t.dtype() == hg::kBool)
    for (uint8_t& b : out) b = b != 0;
  return out;
}

void check_round_trip(const hg::nn::TensorMap& saved, const hg::nn::TensorMap& loaded) {
  if (saved.size() != loaded.size()) __builtin_trap();
  for (const auto& [name, t] : saved) {
    auto it = loaded.find(name);
    if (it == loaded.end()) __builtin_trap();
    const hg::Tensor& back = it->second;
    if (back.dtype() != t.dtype() || back.sizes() != t.sizes()) __builtin_trap();
    const std::vector<uint8_t> want = expected_bytes(t);
    if (!want.empty() && std::memcmp(back.data_ptr(), want.data(), want.size()) != 0)
      __builtin_trap();
  }
}

// The file the round trip goes through: one per process, removed when the process exits.
struct ScratchFile {
  std::string path = "/tmp/hg_fuzz_writer_" + std::to_string(::getpid()) + ".safetensors";
  ~ScratchFile() { std::remove(path.c_str()); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  hg::nn::TensorMap tensors;
  std::map<std::string, std::string> metadata;
  const int count = in.ConsumeIntegralInRange(0, 5);
  for (int i = 0; i < count; ++i) tensors[in.ConsumeRandomLengthString(24)] = consume_tensor(in);
  const int entries = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < entries; ++i)
    metadata[in.ConsumeRandomLengthString(16)] = in.ConsumeRandomLengthString(32);
  static const ScratchFile file;
  const std::string& path = file.path;
  try {
    hg::nn::save_safetensors(tensors, path, metadata);
  } catch (const hg::Error&) {
    return 0;  // refused: a name or metadata the format cannot hold, said as an hg::Error
  }
  std::map<std::string, std::string> metadata_back;
  try {
    check_round_trip(tensors, hg::nn::load_safetensors(path, &metadata_back));
  } catch (const hg::Error&) {
    __builtin_trap();  // what the writer wrote, the reader must read
  }
  if (metadata_back != metadata) __builtin_trap();
  return 0;
}
