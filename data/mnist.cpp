// load_mnist (declared in data/idx.h): the four IDX files of MNIST / Fashion-MNIST.
#include <filesystem>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/data/file_util.h"
#include "halfgrad/data/idx.h"

namespace hg::data {
namespace {

constexpr const char* kFetchMnistHint = " (fetch MNIST with tools/fetch_data.sh mnist)";

// dir/name, else dir/name.gz; throws naming both when neither exists.
std::string find_idx_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const std::string& candidate : {name, name + ".gz"}) {
    const fs::path p = fs::path(dir) / candidate;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  HG_FAIL("load_mnist: ", (fs::path(dir) / name).string(), ": no such file (nor ", name, ".gz)",
          kFetchMnistHint);
}

Tensor labels_to_int64(const Tensor& raw, const std::string& path) {
  const std::string where = "load_mnist: " + path + ": ";
  HG_CHECK(raw.dtype() == kUInt8 && raw.dim() == 1, where,
           "expected ubyte labels of shape [N], found ", describe(raw));
  Tensor labels = empty({raw.size(0)}, kInt64);
  const uint8_t* src = raw.data<uint8_t>();
  int64_t* dst = labels.data<int64_t>();
  for (int64_t i = 0; i < raw.size(0); ++i) {
    HG_CHECK(src[i] < 10, where, "label ", static_cast<int>(src[i]), " at index ", i,
             " is out of range: expected 0 to 9");
    dst[i] = src[i];
  }
  return labels;
}

Tensor images_to_float(const Tensor& images) {
  Tensor out = empty({images.size(0), 1, images.size(1), images.size(2)}, kFloat32);
  const uint8_t* src = images.data<uint8_t>();
  float* dst = out.data<float>();
  const int64_t n = images.numel();
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return out;
}

}  // namespace

LabeledImages load_mnist(const std::string& dir, bool train, bool as_float) {
  require_directory("load_mnist", dir, kFetchMnistHint);
  const std::string prefix = train ? "train" : "t10k";
  const std::string image_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string label_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  const Tensor images = read_idx(image_path);
  HG_CHECK(
      images.dtype() == kUInt8 && images.dim() == 3 && images.size(1) == 28 && images.size(2) == 28,
      "load_mnist: ", image_path, ": expected ubyte images of shape [N, 28, 28], found ",
      describe(images));
  LabeledImages out;
  out.labels = labels_to_int64(read_idx(label_path), label_path);
  HG_CHECK(out.labels.size(0) == images.size(0), "load_mnist: ", label_path, ": expected ",
           images.size(0), " labels (one per image of ", image_path, "), found ",
           out.labels.size(0));
  out.images = as_float ? images_to_float(images) : images;
  return out;
}

}  // namespace hg::data
