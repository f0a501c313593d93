#include "halfgrad/data/cifar10.h"

#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/data/file_util.h"

namespace hg::data {
namespace {

constexpr const char* kFetchCifarHint = " (fetch CIFAR-10 with tools/fetch_data.sh cifar10)";
constexpr int64_t kPixels = kCifar10RecordBytes - 1;

// The folder that holds the .bin files: dir itself, or dir/cifar-10-batches-bin.
std::string batch_folder(const std::string& dir, const std::string& first_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path nested = fs::path(dir) / "cifar-10-batches-bin";
  if (!fs::exists(fs::path(dir) / first_file, ec) && fs::is_directory(nested, ec)) {
    return nested.string();
  }
  return dir;
}

LabeledImages read_batch(GzReader& in) {
  const std::vector<uint8_t> bytes = in.read_up_to(std::numeric_limits<int64_t>::max());
  in.check_complete();
  const auto size = static_cast<int64_t>(bytes.size());
  HG_CHECK(size > 0 && size % kCifar10RecordBytes == 0, in.where(),
           "expected a positive multiple of ", kCifar10RecordBytes,
           " bytes (1 label byte + 3072 pixel bytes per image), found ", size, " bytes (",
           size / kCifar10RecordBytes, " records + ", size % kCifar10RecordBytes, " bytes)");
  const int64_t n = size / kCifar10RecordBytes;
  LabeledImages out{empty({n, 3, 32, 32}, kUInt8), empty({n}, kInt64)};
  uint8_t* images = out.images.data<uint8_t>();
  int64_t* labels = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = bytes.data() + i * kCifar10RecordBytes;
    HG_CHECK(record[0] < 10, in.where(), "label ", static_cast<int>(record[0]), " in record ", i,
             " (byte offset ", i * kCifar10RecordBytes, ") is out of range: expected 0 to 9");
    labels[i] = record[0];
    std::memcpy(images + i * kPixels, record + 1, static_cast<size_t>(kPixels));
  }
  return out;
}

}  // namespace

LabeledImages read_cifar10_batch(const std::string& path) {
  GzReader in("read_cifar10", path);
  return read_batch(in);
}

LabeledImages read_cifar10_batch_from_memory(const uint8_t* data, size_t size,
                                             const std::string& name) {
  GzReader in("read_cifar10", name, data, size);
  return read_batch(in);
}

LabeledImages load_cifar10(const std::string& dir, bool train) {
  require_directory("load_cifar10", dir, kFetchCifarHint);
  std::vector<std::string> names;
  if (train) {
    for (int b = 1; b <= 5; ++b) names.push_back("data_batch_" + std::to_string(b) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  const std::string folder = batch_folder(dir, names.front());
  std::vector<LabeledImages> parts;
  int64_t total = 0;
  for (const std::string& name : names) {
    const std::string path = (std::filesystem::path(folder) / name).string();
    std::error_code ec;
    HG_CHECK(std::filesystem::exists(path, ec), "load_cifar10: ", path, ": no such file",
             kFetchCifarHint);
    parts.push_back(read_cifar10_batch(path));
    total += parts.back().labels.size(0);
  }
  if (parts.size() == 1) return parts.front();
  LabeledImages out{empty({total, 3, 32, 32}, kUInt8), empty({total}, kInt64)};
  int64_t at = 0;
  for (const LabeledImages& part : parts) {
    const int64_t n = part.labels.size(0);
    std::memcpy(out.images.data<uint8_t>() + at * kPixels, part.images.data<uint8_t>(),
                static_cast<size_t>(n * kPixels));
    std::memcpy(out.labels.data<int64_t>() + at, part.labels.data<int64_t>(),
                static_cast<size_t>(n) * sizeof(int64_t));
    at += n;
  }
  return out;
}

}  // namespace hg::data
