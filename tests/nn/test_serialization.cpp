// safetensors checkpoints: round trip of every dtype, the format's byte layout, atomic saves,
// and clear errors for damaged files.
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;
namespace fs = std::filesystem;

namespace {
// One scratch folder per test process, removed when the process exits (made again when a case
// removed it).
fs::path temp_dir() {
  static const hg::test::TempDir dir;
  fs::create_directories(dir.str());
  return dir.str();
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
std::string with_header(const std::string& json, const std::string& data) {
  uint64_t n = json.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + json + data;
}
}  // namespace

TEST_CASE("safetensors: every dtype round-trips bit for bit, with metadata") {
  const fs::path file = temp_dir() / "all.safetensors";
  manual_seed(4);
  nn::TensorMap map{{"a.f32", randn({2, 3})},
                    {"b.f16", randn({4}, kFloat16)},
                    {"c.bf16", randn({2, 2}, kBFloat16)},
                    {"d.f64", randn({3}, kFloat64)},
                    {"e.i64", arange(5, kInt64)},
                    {"f.u8", arange(3, kUInt8)},
                    {"g.bool", from_vector(std::vector<bool>{true, false})},
                    {"h.empty", zeros({0, 2})},
                    {"i.scalar", scalar_tensor(2.5)}};
  nn::save_safetensors(map, file.string(), {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  const nn::TensorMap back = nn::load_safetensors(file.string(), &meta);
  CHECK(meta.at("format") == "pt");
  REQUIRE(back.size() == map.size());
  for (const auto& [name, t] : map) {
    CAPTURE(name);
    const Tensor& u = back.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.sizes() == t.sizes());
    CHECK(values(u) == values(t));
  }
}

TEST_CASE("safetensors: the byte layout follows the format") {
  const fs::path file = temp_dir() / "layout.safetensors";
  nn::save_safetensors({{"w", from_vector(std::vector<float>{1.0f, 2.0f}, {1, 2})}}, file.string());
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  const std::string header = bytes.substr(8, n);
  CHECK(header.find("\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}") !=
        std::string::npos);
  float data[2];
  std::memcpy(data, bytes.data() + 8 + n, 8);
  CHECK(data[0] == 1.0f);
  CHECK(data[1] == 2.0f);
}

TEST_CASE("safetensors: a module saves and loads by dotted names") {
  const fs::path file = temp_dir() / "model.safetensors";
  manual_seed(5);
  nn::Sequential a{std::make_shared<nn::Linear>(3, 2), std::make_shared<nn::BatchNorm2d>(2)};
  nn::save(a, file.string());
  manual_seed(6);
  nn::Sequential b{std::make_shared<nn::Linear>(3, 2), std::make_shared<nn::BatchNorm2d>(2)};
  nn::load(b, file.string());
  CHECK(values(a.parameters()[0]) == values(b.parameters()[0]));
  nn::Sequential wrong{std::make_shared<nn::Linear>(4, 2)};
  expect_error([&] { nn::load(wrong, file.string()); },
               {"load_state_dict", "\"0.weight\": expected [2, 4] float32, got [2, 3] float32",
                "unexpected key \"1.running_mean\""});
}

TEST_CASE("safetensors: a failed save leaves the previous file intact") {
  const fs::path file = temp_dir() / "keep.safetensors";
  nn::save_safetensors({{"x", ones({2})}}, file.string());
  const std::string before = read_bytes(file);
  expect_error(
      [&] {
        nn::save_safetensors({{"x", zeros({2})}}, (temp_dir() / "no/such/dir/f").string());
      },
      {"save_safetensors", "cannot create"});
  CHECK(read_bytes(file) == before);
  for (const auto& entry : fs::directory_iterator(temp_dir()))
    CHECK(entry.path().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("safetensors: a save removes the temporaries of killed saves, not of live ones") {
  const fs::path dir = temp_dir() / "stale";
  fs::create_directories(dir);
  const fs::path file = dir / "model.safetensors";
  const pid_t dead = ::fork();  // a process id that is certainly not running any more
  if (dead == 0) ::_exit(0);
  REQUIRE(dead > 0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const fs::path stale = dir / ("model.safetensors.tmp." + std::to_string(dead));
  const fs::path live = dir / ("model.safetensors.tmp." + std::to_string(::getppid()));
  const fs::path other = dir / "model.safetensors.tmp.notapid";
  for (const auto& p : {stale, live, other}) write_bytes(p, "partial");
  nn::save_safetensors({{"x", ones({2})}}, file.string());
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));  // the parent (ctest, a shell) is alive: it could be saving
  CHECK(fs::exists(other));
  CHECK(nn::load_safetensors(file.string()).count("x") == 1);
  fs::remove_all(dir);
}

TEST_CASE("safetensors: damaged files give one clear error naming the file") {
  const fs::path dir = temp_dir();
  expect_error([&] { nn::load_safetensors((dir / "missing").string()); },
               {"load_safetensors", "no such file", "missing"});
  expect_error([&] { nn::load_safetensors(dir.string()); },
               {"load_safetensors", "not a regular file (a directory)"});
  write_bytes(dir / "short", "abc");
  expect_error([&] { nn::load_safetensors((dir / "short").string()); },
               {"short", "truncated", "3 bytes"});
  write_bytes(dir / "huge", with_header("", "").replace(
                                0, 8, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8)));
  expect_error([&] { nn::load_safetensors((dir / "huge").string()); }, {"huge", "header length"});
  write_bytes(dir / "json", with_header("{not json", ""));
  expect_error([&] { nn::load_safetensors((dir / "json").string()); }, {"json", "not valid JSON"});
  write_bytes(dir / "offsets",
              with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"));
  expect_error([&] { nn::load_safetensors((dir / "offsets").string()); },
               {"offsets", "\"w\"", "data_offsets"});
  write_bytes(dir / "size",
              with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"));
  expect_error([&] { nn::load_safetensors((dir / "size").string()); },
               {"size", "needs 12 bytes", "has 8"});
  write_bytes(dir / "dtype",
              with_header(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", "12345678"));
  expect_error([&] { nn::load_safetensors((dir / "dtype").string()); },
               {"dtype", "unsupported dtype C64"});
  write_bytes(dir / "entry",
              with_header(R"({"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}})", "1234"));
  expect_error([&] { nn::load_safetensors((dir / "entry").string()); }, {"entry", "malformed"});
}

TEST_CASE("safetensors: the writer aligns every tensor to its element size") {
  const fs::path file = temp_dir() / "aligned.safetensors";
  // by name, the odd-sized bool and fp16 tensors would come first and misalign the rest
  nn::TensorMap map{{"a.bool", ones({3}, kBool)},
                    {"b.f16", ones({1}, kFloat16)},
                    {"c.i64", ones({2}, kInt64)},
                    {"d.f32", ones({1})},
                    {"e.f64", ones({1}, kFloat64)}};
  nn::save_safetensors(map, file.string());
  const std::string bytes = read_bytes(file);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  CHECK((8 + header_size) % 8 == 0);
  const std::string header = bytes.substr(8, header_size);
  for (const auto& [name, t] : map) {
    const size_t at = header.find("\"" + name + "\"");
    REQUIRE(at != std::string::npos);
    const size_t offsets = header.find("\"data_offsets\":[", at) + 16;
    const uint64_t begin = std::stoull(header.substr(offsets));
    CAPTURE(name);
    CHECK(begin % itemsize(t.dtype()) == 0);
  }
  const nn::TensorMap back = nn::load_safetensors(file.string());
  for (const auto& [name, t] : map) CHECK(values(back.at(name)) == values(t));
  fs::remove_all(file.parent_path());
}

TEST_CASE("safetensors: empty tensors share an offset with their neighbours and load") {
  const fs::path file = temp_dir() / "empty.safetensors";
  nn::TensorMap map;
  for (int i = 0; i < 40; ++i)  // enough entries that the sort's order among ties matters
    map["t" + std::to_string(100 + i)] = i % 3 == 0 ? zeros({0}) : full({2}, i);
  map["wide_empty"] = zeros({0}, kFloat64);
  nn::save_safetensors(map, file.string());
  const nn::TensorMap back = nn::load_safetensors(file.string());
  REQUIRE(back.size() == map.size());
  for (const auto& [name, t] : map) CHECK(values(back.at(name)) == values(t));
  fs::remove_all(file.parent_path());
}

TEST_CASE("safetensors: tensors must tile the data section (no overlap, gap or tail)") {
  const fs::path dir = temp_dir();
  const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)";
  write_bytes(dir / "overlap",
              with_header(two + R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          "123456789012"));
  expect_error([&] { nn::load_safetensors((dir / "overlap").string()); },
               {"overlap", "\"b\" overlaps"});
  write_bytes(dir / "gap",
              with_header(two + R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                          "1234567890123456"));
  expect_error([&] { nn::load_safetensors((dir / "gap").string()); },
               {"gap", "4 unused bytes before tensor \"b\""});
  write_bytes(dir / "tail",
              with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "12345678"));
  expect_error([&] { nn::load_safetensors((dir / "tail").string()); },
               {"tail", "4 unused bytes after the last tensor"});
  write_bytes(dir / "three",
              with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", "1234"));
  expect_error([&] { nn::load_safetensors((dir / "three").string()); },
               {"three", "data_offsets must be [begin, end], got 3 numbers"});
  fs::remove_all(dir);
}

TEST_CASE("safetensors: headers a parser would misread or choke on are refused") {
  const fs::path dir = temp_dir();
  const std::string a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  write_bytes(dir / "twice", with_header("{" + a + "," + a + "}", "1234"));  // the last won
  expect_error([&] { nn::load_safetensors((dir / "twice").string()); },
               {"twice", "\"a\" appears twice in the header"});
  write_bytes(dir / "nul", with_header("{" + a + std::string("}\0{", 3) + a + "}", "1234"));
  expect_error([&] { nn::load_safetensors((dir / "nul").string()); }, {"nul", "NUL byte"});
  // 10^5 nested lists: refused at depth 64, before the parser builds them all
  const std::string deep = R"({"z":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  write_bytes(dir / "deep", with_header(deep, ""));
  expect_error([&] { nn::load_safetensors((dir / "deep").string()); },
               {"deep", "nests deeper than 64 levels"});
  // bool bytes other than 0 and 1 load as true (a bool holding 2 converted to 2.0)
  write_bytes(dir / "bool",
              with_header(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                          std::string("\x02\xff\x00", 3)));
  CHECK(values(nn::load_safetensors((dir / "bool").string()).at("b").to(kFloat32)) ==
        std::vector<double>{1, 1, 0});
  fs::remove_all(dir);
}

TEST_CASE("test_util TempDir: a fresh folder each, removed with its files at destruction") {
  fs::path kept;
  {
    const hg::test::TempDir a, b;
    CHECK(a.str() != b.str());
    CHECK(fs::is_directory(a.str()));
    write_bytes(a.file("x.bin"), "data");
    kept = a.str();
  }
  CHECK_FALSE(fs::exists(kept));
}

TEST_CASE("safetensors: an empty map saves as an empty header and loads back empty") {
  // (its header was written as JSON null, which no reader takes: found by the writer fuzzer)
  const fs::path file = temp_dir() / "nothing.safetensors";
  nn::save_safetensors({}, file.string());
  CHECK(read_bytes(file).substr(8, 2) == "{}");
  CHECK(nn::load_safetensors(file.string()).empty());
  std::map<std::string, std::string> meta;
  nn::save_safetensors({}, file.string(), {{"k", "v"}});
  CHECK(nn::load_safetensors(file.string(), &meta).empty());
  CHECK(meta == std::map<std::string, std::string>{{"k", "v"}});
}

TEST_CASE("safetensors: names the format cannot hold are refused at save, as hg::Error") {
  const fs::path file = temp_dir() / "names.safetensors";
  expect_error(
      [&] {
        nn::save_safetensors({{"__metadata__", ones({1})}}, file.string());
      },
      {"save_safetensors", "cannot be named __metadata__"});
  expect_error(
      [&] {
        nn::save_safetensors({{std::string("a\xff"), ones({1})}}, file.string());
      },
      {"save_safetensors", "valid UTF-8"});
  expect_error(
      [&] {
        nn::save_safetensors({{"a", ones({1})}}, file.string(), {{"k", "\xc3"}});
      },
      {"save_safetensors", "valid UTF-8"});
  CHECK_FALSE(fs::exists(file));
  fs::remove_all(file.parent_path());
}
