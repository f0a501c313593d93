// The CIFAR-10 binary reader on tiny batch files generated here (no download needed).
#include <filesystem>

#include "data/data_test_util.h"
#include "halfgrad/data/cifar10.h"
#include "test_util.h"

using hg::test::expect_error;
using hg::test::TempDir;
using hg::test::write_bytes;

namespace {

constexpr int64_t kRecord = hg::data::kCifar10RecordBytes;

// Pixel value of image `id`, channel c, position p: distinct enough to catch layout mistakes.
uint8_t pixel(int id, int c, int p) { return static_cast<uint8_t>(id * 7 + c * 50 + p * 3); }

// Records for images first..first+labels.size()-1 with the given labels.
std::vector<uint8_t> records(int first, const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.push_back(labels[r]);
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) out.push_back(pixel(first + static_cast<int>(r), c, p));
    }
  }
  return out;
}

// data_batch_1..5.bin with 2 images each (ids 0..9, label = id) and test_batch.bin (ids 100..102).
void write_split(const std::string& folder) {
  for (int b = 0; b < 5; ++b) {
    const auto l = static_cast<uint8_t>(2 * b);
    write_bytes(folder + "/data_batch_" + std::to_string(b + 1) + ".bin",
                records(2 * b, {l, static_cast<uint8_t>(l + 1)}));
  }
  write_bytes(folder + "/test_batch.bin", records(100, {3, 8, 8}));
}

void check_image(const hg::Tensor& images, int64_t index, int id) {
  const hg::Tensor img = images.select(0, index);
  const std::vector<uint8_t> v = img.to_vector<uint8_t>();
  REQUIRE(v.size() == 3072u);
  for (int c = 0; c < 3; ++c) {
    for (int p : {0, 1, 31, 32, 1023}) {
      CHECK_MESSAGE(v[static_cast<size_t>(c * 1024 + p)] == pixel(id, c, p),
                    "image " << index << " channel " << c << " pixel " << p);
    }
  }
}

}  // namespace

TEST_CASE("load_cifar10 reads the five training batches in order and the test batch") {
  TempDir dir;
  write_split(dir.str());
  const hg::data::LabeledImages train = hg::data::load_cifar10(dir.str(), true);
  CHECK(train.images.dtype() == hg::kUInt8);
  CHECK(train.images.sizes() == hg::Shape{10, 3, 32, 32});
  CHECK(train.labels.dtype() == hg::kInt64);
  CHECK(train.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  for (int i : {0, 1, 4, 9}) check_image(train.images, i, i);
  // Row-major 32x32 per channel: image 0, green channel, row 1 column 0 is p = 32.
  CHECK(train.images.select(0, 0).select(0, 1).select(0, 1).select(0, 0).item<int64_t>() ==
        pixel(0, 1, 32));

  const hg::data::LabeledImages test = hg::data::load_cifar10(dir.str(), false);
  CHECK(test.images.sizes() == hg::Shape{3, 3, 32, 32});
  CHECK(test.labels.to_vector<int64_t>() == std::vector<int64_t>{3, 8, 8});
  check_image(test.images, 2, 102);
}

TEST_CASE("load_cifar10 finds the files in a cifar-10-batches-bin/ subfolder") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("cifar-10-batches-bin"));
  write_split(dir.file("cifar-10-batches-bin"));
  CHECK(hg::data::load_cifar10(dir.str(), false).labels.size(0) == 3);
  CHECK(hg::data::load_cifar10(dir.str(), true).labels.size(0) == 10);
}

TEST_CASE("read_cifar10_batch reads one file") {
  TempDir dir;
  write_bytes(dir.file("one.bin"), records(5, {9}));
  const hg::data::LabeledImages one = hg::data::read_cifar10_batch(dir.file("one.bin"));
  CHECK(one.images.sizes() == hg::Shape{1, 3, 32, 32});
  CHECK(one.labels.item<int64_t>() == 9);
  check_image(one.images, 0, 5);
}

TEST_CASE("the CIFAR-10 reader reports bad folders and files naming the file") {
  TempDir dir;
  expect_error([&] { hg::data::load_cifar10(dir.file("nope"), true); },
               {"load_cifar10", dir.file("nope"), "no such directory", "fetch_data.sh cifar10"});
  write_split(dir.str());
  std::filesystem::remove(dir.file("data_batch_3.bin"));
  expect_error([&] { hg::data::load_cifar10(dir.str(), true); },
               {dir.file("data_batch_3.bin"), "no such file"});
  CHECK_NOTHROW(hg::data::load_cifar10(dir.str(), false));

  std::vector<uint8_t> bytes = records(0, {1, 2});
  bytes.erase(bytes.end() - 100, bytes.end());  // truncated last record
  write_bytes(dir.file("data_batch_3.bin"), bytes);
  expect_error([&] { hg::data::load_cifar10(dir.str(), true); },
               {"read_cifar10: " + dir.file("data_batch_3.bin") + ": ", "multiple of 3073",
                "found 6046 bytes (1 records + 2973 bytes)"});
  bytes = records(0, {1, 2});
  bytes.push_back(0);  // trailing garbage
  write_bytes(dir.file("data_batch_3.bin"), bytes);
  expect_error([&] { hg::data::load_cifar10(dir.str(), true); },
               {dir.file("data_batch_3.bin"), "found 6147 bytes"});
  write_bytes(dir.file("data_batch_3.bin"), {});
  expect_error([&] { hg::data::load_cifar10(dir.str(), true); },
               {dir.file("data_batch_3.bin"), "positive multiple", "found 0 bytes"});
  write_bytes(dir.file("data_batch_3.bin"), records(0, {1, 2, 10}));
  expect_error([&] { hg::data::load_cifar10(dir.str(), true); },
               {dir.file("data_batch_3.bin"), "label 10 in record 2",
                "byte offset " + std::to_string(2 * kRecord), "0 to 9"});
  expect_error([&] { hg::data::read_cifar10_batch(dir.file("absent.bin")); },
               {"read_cifar10: " + dir.file("absent.bin") + ": no such file"});
}

TEST_CASE("read_cifar10_batch_from_memory matches the file reader and its errors") {
  const std::vector<uint8_t> bytes = records(0, {7, 2, 9});
  const hg::data::LabeledImages batch =
      hg::data::read_cifar10_batch_from_memory(bytes.data(), bytes.size(), "mem.bin");
  CHECK(batch.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 2, 9});
  CHECK(batch.images.sizes() == hg::Shape{3, 3, 32, 32});
  std::vector<uint8_t> bad = bytes;
  bad[hg::data::kCifar10RecordBytes] = 10;  // label of record 1
  expect_error([&] { hg::data::read_cifar10_batch_from_memory(bad.data(), bad.size(), "mem.bin"); },
               {"read_cifar10: mem.bin: label 10 in record 1", "expected 0 to 9"});
  expect_error([&] { hg::data::read_cifar10_batch_from_memory(nullptr, 0, "empty.bin"); },
               {"read_cifar10: empty.bin: ", "found 0 bytes"});
}
