// read_idx / write_idx / load_mnist on tiny files generated here (no download needed).
#include <cstring>

#include "data/data_test_util.h"
#include "halfgrad/data/idx.h"
#include "test_util.h"

using hg::test::expect_error;
using hg::test::read_bytes;
using hg::test::TempDir;
using hg::test::write_bytes;

namespace {

// An IDX file: magic 0 0 type ndims, big-endian uint32 dims, then `payload` as given.
std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> iota_bytes(size_t n, int start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + static_cast<int>(i));
  return v;
}

// A tiny MNIST-shaped split in dir: n images of 28x28 (pixel = image + position) and labels.
void write_mnist_split(const TempDir& dir, const std::string& prefix, uint32_t n,
                       const std::vector<uint8_t>& labels, bool gz_labels) {
  write_bytes(dir.file(prefix + "-images-idx3-ubyte"),
              idx_bytes(0x08, {n, 28, 28}, iota_bytes(n * 784)));
  const std::string name = dir.file(prefix + "-labels-idx1-ubyte") + (gz_labels ? ".gz" : "");
  hg::data::write_idx(name,
                      hg::from_vector(labels, {static_cast<int64_t>(labels.size())}, hg::kUInt8));
}

}  // namespace

TEST_CASE("read_idx reads a raw ubyte file of the IDX shape") {
  TempDir dir;
  write_bytes(dir.file("x-idx3-ubyte"), idx_bytes(0x08, {3, 2, 2}, iota_bytes(12, 240)));
  const hg::Tensor t = hg::data::read_idx(dir.file("x-idx3-ubyte"));
  CHECK(t.dtype() == hg::kUInt8);
  CHECK(t.sizes() == hg::Shape{3, 2, 2});
  CHECK(t.to_vector<uint8_t>() == iota_bytes(12, 240));
}

TEST_CASE("read_idx decodes the big-endian sbyte, short, int, float and double types") {
  TempDir dir;
  write_bytes(dir.file("s"), idx_bytes(0x09, {2}, {0xFF, 0x7F}));
  write_bytes(dir.file("h"), idx_bytes(0x0B, {2}, {0xFF, 0xFE, 0x01, 0x2C}));
  write_bytes(dir.file("i"), idx_bytes(0x0C, {2}, {0xFF, 0xFE, 0xEE, 0x90, 0, 0, 0, 5}));
  write_bytes(dir.file("f"), idx_bytes(0x0D, {1, 2}, {0x3F, 0xC0, 0, 0, 0xC0, 0x10, 0, 0}));
  write_bytes(dir.file("d"), idx_bytes(0x0E, {1}, {0x40, 0x09, 0, 0, 0, 0, 0, 0}));
  CHECK(hg::data::read_idx(dir.file("s")).to_vector<int64_t>() == std::vector<int64_t>{-1, 127});
  CHECK(hg::data::read_idx(dir.file("h")).to_vector<int64_t>() == std::vector<int64_t>{-2, 300});
  CHECK(hg::data::read_idx(dir.file("i")).to_vector<int64_t>() == std::vector<int64_t>{-70000, 5});
  const hg::Tensor f = hg::data::read_idx(dir.file("f"));
  CHECK(f.dtype() == hg::kFloat32);
  CHECK(f.sizes() == hg::Shape{1, 2});
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.25f});
  const hg::Tensor d = hg::data::read_idx(dir.file("d"));
  CHECK(d.dtype() == hg::kFloat64);
  CHECK(d.item<double>() == 3.125);
}

TEST_CASE("write_idx and read_idx round-trip raw and gzip files") {
  TempDir dir;
  const hg::Tensor u8 = hg::from_vector(iota_bytes(24), {2, 3, 4}, hg::kUInt8);
  hg::data::write_idx(dir.file("u8.gz"), u8);
  const std::vector<uint8_t> gz = read_bytes(dir.file("u8.gz"));
  REQUIRE(gz.size() > 2);
  CHECK(gz[0] == 0x1F);  // really gzip, not a plain file
  CHECK(gz[1] == 0x8B);
  const hg::Tensor back = hg::data::read_idx(dir.file("u8.gz"));
  CHECK(back.sizes() == u8.sizes());
  CHECK(back.to_vector<uint8_t>() == u8.to_vector<uint8_t>());

  const hg::Tensor f32 = hg::from_vector(std::vector<float>{0.5f, -1e-3f, 3e8f}, {3});
  const hg::Tensor i64 = hg::from_vector(std::vector<int64_t>{-5, 0, 2147483647}, {3}, hg::kInt64);
  const hg::Tensor f64 =
      hg::from_vector(std::vector<double>{1.0 / 3.0, -2.0}, {2, 1}, hg::kFloat64);
  hg::data::write_idx(dir.file("f32"), f32);
  hg::data::write_idx(dir.file("i64"), i64);
  hg::data::write_idx(dir.file("f64.gz"), f64);
  CHECK(read_bytes(dir.file("f32"))[2] == 0x0D);
  CHECK(hg::data::read_idx(dir.file("f32")).to_vector<float>() == f32.to_vector<float>());
  CHECK(hg::data::read_idx(dir.file("i64")).to_vector<int64_t>() == i64.to_vector<int64_t>());
  const hg::Tensor f64_back = hg::data::read_idx(dir.file("f64.gz"));
  CHECK(f64_back.sizes() == hg::Shape{2, 1});
  CHECK(f64_back.to_vector<double>() == f64.to_vector<double>());

  expect_error([&] { hg::data::write_idx(dir.file("b"), hg::ones({2}, hg::kBool)); },
               {"write_idx", dir.file("b"), "bool"});
  expect_error([&] { hg::data::write_idx(dir.file("big"), hg::full({1}, 1e10, hg::kInt64)); },
               {"write_idx", dir.file("big"), "int32"});
}

TEST_CASE("read_idx reports every malformed file in one line naming the file") {
  TempDir dir;
  const std::string p = dir.file("bad-idx1-ubyte");
  auto fails_with = [&](const std::vector<uint8_t>& bytes, const std::vector<std::string>& parts) {
    write_bytes(p, bytes);
    std::vector<std::string> all{"read_idx: " + p + ": "};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_error([&] { hg::data::read_idx(p); }, all);
  };
  expect_error([&] { hg::data::read_idx(dir.file("missing")); },
               {"read_idx: " + dir.file("missing") + ": no such file"});
  expect_error([&] { hg::data::read_idx(dir.str()); }, {dir.str(), "is a directory"});
  fails_with({}, {"truncated header", "expected a 4-byte magic number, found 0 bytes"});
  fails_with({0, 0}, {"truncated header", "found 2 bytes"});
  fails_with({0x1F, 0x00, 0x08, 0x01}, {"bad magic number 0x1F 0x00 0x08 0x01", "0x00 0x00"});
  fails_with({'P', 'K', 3, 4, 0, 0, 0, 0}, {"bad magic number 0x50 0x4B"});
  fails_with(idx_bytes(0x07, {1}, {0}), {"unsupported data type code 0x07", "0x08 (ubyte)"});
  fails_with(idx_bytes(0x08, {}, {}), {"expected 1 to 8 dimensions", "found 0"});
  fails_with(idx_bytes(0x08, std::vector<uint32_t>(9, 1), {0}), {"found 9"});
  fails_with({0, 0, 8, 3, 0, 0, 0, 5, 0, 0}, {"truncated header: expected 16 bytes", "found 10"});
  fails_with(idx_bytes(0x08, {3, 4}, iota_bytes(5)),
             {"truncated: expected 12 bytes of data after the 12-byte header ([3, 4] ubyte), "
              "found 5"});
  fails_with(idx_bytes(0x0B, {3}, iota_bytes(5)), {"expected 6 bytes", "found 5"});
  fails_with(idx_bytes(0x08, {2}, iota_bytes(7)),
             {"trailing data: expected exactly 2 bytes", "found 5 more"});
  fails_with(idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}), {"overflow"});
}

TEST_CASE("read_idx reports truncated and corrupt gzip files naming the file") {
  TempDir dir;
  hg::data::write_idx(dir.file("ok.gz"), hg::from_vector(iota_bytes(4000), {4000}, hg::kUInt8));
  const std::vector<uint8_t> gz = read_bytes(dir.file("ok.gz"));
  REQUIRE(gz.size() > 40);

  const std::string cut = dir.file("cut.gz");
  write_bytes(cut, std::vector<uint8_t>(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  expect_error([&] { hg::data::read_idx(cut); }, {"read_idx: " + cut + ": ", "gzip"});

  const std::string no_trailer = dir.file("no_trailer.gz");  // data complete, CRC/size missing
  write_bytes(no_trailer, std::vector<uint8_t>(gz.begin(), gz.end() - 8));
  expect_error([&] { hg::data::read_idx(no_trailer); }, {no_trailer, "truncated gzip stream"});

  std::vector<uint8_t> flipped = gz;  // a corrupt deflate stream or a CRC mismatch
  for (size_t i = 12; i < flipped.size() - 8; i += 3) flipped[i] ^= 0x5A;
  const std::string bad = dir.file("bad.gz");
  write_bytes(bad, flipped);
  expect_error([&] { hg::data::read_idx(bad); }, {"read_idx: " + bad + ": "});

  std::vector<uint8_t> crc = gz;  // only the stored CRC-32 is wrong
  crc[crc.size() - 8] ^= 0xFF;
  const std::string bad_crc = dir.file("bad_crc.gz");
  write_bytes(bad_crc, crc);
  expect_error([&] { hg::data::read_idx(bad_crc); }, {bad_crc, "corrupt gzip data"});
}

TEST_CASE("load_mnist loads raw and .gz files and converts labels and pixels") {
  TempDir dir;
  write_mnist_split(dir, "train", 3, {7, 0, 9}, /*gz_labels=*/true);
  write_mnist_split(dir, "t10k", 2, {1, 2}, /*gz_labels=*/false);
  const hg::data::LabeledImages train = hg::data::load_mnist(dir.str(), true);
  CHECK(train.images.dtype() == hg::kUInt8);
  CHECK(train.images.sizes() == hg::Shape{3, 28, 28});
  CHECK(train.labels.dtype() == hg::kInt64);
  CHECK(train.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 0, 9});
  const hg::data::LabeledImages test = hg::data::load_mnist(dir.str(), false, /*as_float=*/true);
  CHECK(test.images.dtype() == hg::kFloat32);
  CHECK(test.images.sizes() == hg::Shape{2, 1, 28, 28});
  const std::vector<float> px = test.images.to_vector<float>();
  CHECK(px[0] == 0.f);
  CHECK(px[255] == 1.f);
  CHECK(px[100] == 100.f / 255.f);
  CHECK(test.labels.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
}

TEST_CASE("load_mnist reports missing folders and files, bad labels and count mismatches") {
  TempDir dir;
  expect_error([&] { hg::data::load_mnist(dir.file("nope"), true); },
               {"load_mnist", dir.file("nope"), "no such directory", "tools/fetch_data.sh"});
  expect_error([&] { hg::data::load_mnist(dir.str(), true); },
               {dir.file("train-images-idx3-ubyte"), "no such file", ".gz"});
  write_mnist_split(dir, "train", 3, {7, 10, 9}, false);
  expect_error([&] { hg::data::load_mnist(dir.str(), true); },
               {dir.file("train-labels-idx1-ubyte"), "label 10 at index 1", "0 to 9"});
  write_mnist_split(dir, "train", 3, {1, 2}, false);
  expect_error([&] { hg::data::load_mnist(dir.str(), true); },
               {dir.file("train-labels-idx1-ubyte"), "expected 3 labels", "found 2"});
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x08, {2, 784}, iota_bytes(1568)));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x08, {2}, {0, 1}));
  expect_error([&] { hg::data::load_mnist(dir.str(), false); },
               {dir.file("t10k-images-idx3-ubyte"), "[N, 28, 28]", "[2, 784]"});
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x08, {2, 5, 5}, iota_bytes(50)));
  expect_error([&] { hg::data::load_mnist(dir.str(), false); },
               {dir.file("t10k-images-idx3-ubyte"), "[N, 28, 28]", "[2, 5, 5]"});
}

TEST_CASE("read_idx_from_memory reads raw and gzip bytes as read_idx reads the file") {
  TempDir dir;
  const hg::Tensor t = hg::from_vector(iota_bytes(4000), {40, 100}, hg::kUInt8);
  for (const std::string name : {"raw.idx", "packed.idx.gz"}) {
    hg::data::write_idx(dir.file(name), t);
    const std::vector<uint8_t> bytes = read_bytes(dir.file(name));
    const hg::Tensor from_file = hg::data::read_idx(dir.file(name));
    const hg::Tensor from_memory = hg::data::read_idx_from_memory(bytes.data(), bytes.size(), name);
    CHECK(from_memory.sizes() == from_file.sizes());
    CHECK(from_memory.to_vector<uint8_t>() == from_file.to_vector<uint8_t>());
  }
  // gzip members joined (as `cat a.gz b.gz`), then bytes after the last member ignored, as
  // zlib's gzread does for files.
  const std::vector<uint8_t> raw = idx_bytes(0x08, {6}, iota_bytes(6));
  hg::data::write_idx(dir.file("a.gz"), hg::from_vector(iota_bytes(6), {6}, hg::kUInt8));
  std::vector<uint8_t> whole = read_bytes(dir.file("a.gz"));
  CHECK(hg::data::read_idx_from_memory(whole.data(), whole.size(), "a.gz").to_vector<uint8_t>() ==
        iota_bytes(6));
  whole.insert(whole.end(), {'x', 'y', 'z'});
  write_bytes(dir.file("garbage.gz"), whole);
  CHECK(hg::data::read_idx_from_memory(whole.data(), whole.size(), "g").to_vector<uint8_t>() ==
        hg::data::read_idx(dir.file("garbage.gz")).to_vector<uint8_t>());
  CHECK(hg::data::read_idx_from_memory(raw.data(), raw.size(), "r").numel() == 6);
}

TEST_CASE("read_idx_from_memory reports truncated and corrupt gzip data as read_idx does") {
  TempDir dir;
  hg::data::write_idx(dir.file("ok.gz"), hg::from_vector(iota_bytes(4000), {4000}, hg::kUInt8));
  const std::vector<uint8_t> gz = read_bytes(dir.file("ok.gz"));
  auto from_memory = [](const std::vector<uint8_t>& b) {
    return [b] { hg::data::read_idx_from_memory(b.data(), b.size(), "mem.gz"); };
  };
  expect_error(from_memory({gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)}),
               {"read_idx: mem.gz: ", "gzip"});
  expect_error(from_memory({gz.begin(), gz.end() - 8}), {"mem.gz", "truncated gzip stream"});
  std::vector<uint8_t> crc = gz;
  crc[crc.size() - 8] ^= 0xFF;
  expect_error(from_memory(crc), {"mem.gz", "corrupt gzip data"});
  expect_error(from_memory({}), {"read_idx: mem.gz: truncated header", "empty file"});
}
