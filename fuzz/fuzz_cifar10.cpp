// read_cifar10_batch_from_memory: record layout, labels and the gzip layer.
#include <zlib.h>

#include <vector>

#include "fuzz_util.h"
#include "halfgrad/core/error.h"
#include "halfgrad/data/cifar10.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = hg::fuzz::seed_dir();
  if (dir.empty()) return 0;
  std::vector<uint8_t> two(2 * hg::data::kCifar10RecordBytes);
  for (size_t i = 0; i < two.size(); ++i) two[i] = static_cast<uint8_t>(i * 7);
  two[0] = 3;
  two[hg::data::kCifar10RecordBytes] = 9;
  hg::fuzz::write_seed(dir + "/two_records.bin", two);
  gzFile gz = gzopen((dir + "/two_records.bin.gz").c_str(), "wb9");
  if (gz != nullptr) {
    gzwrite(gz, two.data(), static_cast<unsigned>(two.size()));
    gzclose(gz);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const hg::data::LabeledImages batch =
        hg::data::read_cifar10_batch_from_memory(data, size, "fuzz-input");
    if (batch.images.size(0) != batch.labels.size(0)) __builtin_trap();
  } catch (const hg::Error&) {
  }
  return 0;
}
