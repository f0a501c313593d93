#include "halfgrad/nn/serialization.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <type_traits>
#include <utility>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::nn {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr int64_t kMaxDims = 8;                    // halfgrad's kernels (kernels/tensor_view.h)
// A header nests 3 deep (object > entry > list). The parser builds what a hostile header
// nests (10^7 '[' cost ~400 MB); the reference's JSON parser stops at 128.
constexpr int kMaxHeaderDepth = 64;

const char* dtype_code(DType d) {
  switch (d) {
    case DType::Float32:
      return "F32";
    case DType::Float16:
      return "F16";
    case DType::BFloat16:
      return "BF16";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::UInt8:
      return "U8";
    case DType::Bool:
      return "BOOL";
  }
  return "?";
}

bool dtype_from_code(const std::string& code, DType& out) {
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64, kInt64, kUInt8, kBool}) {
    if (code == dtype_code(d)) {
      out = d;
      return true;
    }
  }
  return false;
}

// The order of the tensors in the data section: widest dtype first (then by name), as the
// reference writer does, so every tensor starts at a multiple of its element size (the data
// section starts 8-aligned) and a zero-copy reader can view it in place.
std::vector<std::pair<std::string, Tensor>> data_order(const TensorMap& tensors) {
  std::vector<std::pair<std::string, Tensor>> order(tensors.begin(), tensors.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return itemsize(a.second.dtype()) > itemsize(b.second.dtype());
  });
  return order;
}

std::string build_header(const std::vector<std::pair<std::string, Tensor>>& tensors,
                         const std::map<std::string, std::string>& meta) {
  // an object even with nothing in it: a default json is null, which no reader takes
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!meta.empty()) header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    HG_CHECK(name != "__metadata__", "save_safetensors: a tensor cannot be named __metadata__ ",
             "(the format's key for the metadata; the file could not be loaded)");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * itemsize(t.dtype());
    header[name] = {{"dtype", dtype_code(t.dtype())},
                    {"shape", t.sizes()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata that is not UTF-8
    HG_FAIL("save_safetensors: tensor names and metadata must be valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data to 8 bytes, as the format allows
  return text;
}

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    HG_CHECK(n > 0, "save_safetensors: ", path, ": write failed: ", std::strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

// Makes the rename durable: without syncing the directory, a power loss after rename() may
// bring back the directory entry of the old file (or of none).
void sync_directory_of(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  HG_CHECK(fd >= 0, "save_safetensors: cannot open the directory of ", path, ": ",
           std::strerror(errno));
  const int synced = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  HG_CHECK(synced == 0, "save_safetensors: ", path,
           ": fsync of the directory failed: ", std::strerror(saved_errno));
}

// A save killed before its rename leaves <path>.tmp.<pid> behind. The next save of the same path
// removes those whose process is gone; a live process may be saving right now, so its file
// stays (as does anything that is not exactly <name>.tmp.<digits>). Best effort: never throws.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  try {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string prefix = target.filename().string() + ".tmp.";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      const std::string digits = name.substr(prefix.size());
      if (digits.empty() || digits.size() > 9 ||
          digits.find_first_not_of("0123456789") != std::string::npos)
        continue;
      const auto pid = static_cast<pid_t>(std::stol(digits));
      if (pid <= 0 || pid == ::getpid()) continue;
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to ask
      fs::remove(entry.path(), ec);
    }
  } catch (...) {  // a directory that cannot be listed: the save itself reports real problems
  }
}

}  // namespace

void save_safetensors(const TensorMap& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  for (const auto& [name, t] : tensors)
    HG_CHECK(t.defined(), "save_safetensors: tensor \"", name, "\" is undefined (", path, ")");
  const std::vector<std::pair<std::string, Tensor>> ordered = data_order(tensors);
  const std::string header = build_header(ordered, metadata);
  remove_stale_temporaries(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  HG_CHECK(fd >= 0, "save_safetensors: cannot create ", tmp, ": ", std::strerror(errno));
  try {
    const uint64_t length = header.size();  // little-endian on every platform we build for
    write_all(fd, &length, sizeof length, path);
    write_all(fd, header.data(), header.size(), path);
    for (const auto& [name, t] : ordered) {
      const Tensor host = t.detach().to(kCPU).contiguous();
      write_all(fd, host.data_ptr(), static_cast<size_t>(host.numel()) * itemsize(host.dtype()),
                path);
    }
    HG_CHECK(::fsync(fd) == 0, "save_safetensors: ", path,
             ": fsync failed: ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  HG_CHECK(::close(fd) == 0, "save_safetensors: ", path, ": close failed: ", std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    HG_FAIL("save_safetensors: cannot rename ", tmp, " to ", path, ": ", reason);
  }
  sync_directory_of(path);
}

namespace {

// The element count of shape, or an error when it would not fit in 2^62 (no valid file gets near).
uint64_t checked_numel(const std::vector<int64_t>& shape, const std::string& where) {
  uint64_t n = 1;
  for (int64_t s : shape) {
    HG_CHECK(s >= 0 && s < (int64_t{1} << 40), where, "has invalid shape ", shape_str(shape));
    HG_CHECK(s == 0 || n <= (uint64_t{1} << 62) / static_cast<uint64_t>(s), where, "has shape ",
             shape_str(shape), " whose element count overflows");
    n *= static_cast<uint64_t>(s);
  }
  return n;
}

// A JSON array of whole numbers that fit T. nlohmann's get<T>() would convert 1.5 to 1, -1 to
// 2^64 - 1 and 1e300 to whatever the (undefined) float-to-integer cast gives.
template <typename T>
std::vector<T> integer_list(const nlohmann::json& j, const std::string& where, const char* what) {
  HG_CHECK(j.is_array(), where, "is malformed: ", what, " must be an array of integers");
  std::vector<T> out;
  for (const auto& v : j) {
    const bool fits =
        v.is_number_unsigned()
            ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
            : v.is_number_integer() && (std::is_signed_v<T> || v.get<int64_t>() >= 0);
    HG_CHECK(fits, where, "is malformed: ", what, " holds ", v.dump(), ", expected integers in [",
             std::is_signed_v<T> ? "-2^63" : "0", ", ", std::numeric_limits<T>::max(), "]");
    out.push_back(v.get<T>());
  }
  return out;
}

struct ByteRange {
  uint64_t begin, end;
  std::string name;
};

Tensor read_entry(const std::string& path, const std::string& name, const nlohmann::json& entry,
                  const uint8_t* data, uint64_t data_size, std::vector<ByteRange>& ranges) {
  const std::string where = "load_safetensors: " + path + ": tensor \"" + name + "\" ";
  HG_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
               entry.contains("data_offsets"),
           where, "needs dtype, shape and data_offsets");
  DType dtype;
  const auto code = entry["dtype"].get<std::string>();
  HG_CHECK(dtype_from_code(code, dtype), where, "has unsupported dtype ", code);
  const auto shape = integer_list<int64_t>(entry["shape"], where, "shape");
  const auto offsets = integer_list<uint64_t>(entry["data_offsets"], where, "data_offsets");
  HG_CHECK(offsets.size() == 2, where, "is malformed: data_offsets must be [begin, end], got ",
           offsets.size(), " numbers");
  HG_CHECK(offsets[0] <= offsets[1] && offsets[1] <= data_size, where, "has data_offsets [",
           offsets[0], ", ", offsets[1], "] outside the ", data_size, "-byte data section");
  HG_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), where, "has ", shape.size(),
           " dimensions, more than halfgrad's ", kMaxDims);
  const uint64_t expected = checked_numel(shape, where) * itemsize(dtype);
  HG_CHECK(offsets[1] - offsets[0] == expected, where, shape_str(shape), " ", dtype_name(dtype),
           " needs ", expected, " bytes, the file has ", offsets[1] - offsets[0]);
  Tensor t = empty(shape, dtype);
  if (expected > 0) std::memcpy(t.data_ptr(), data + offsets[0], expected);
  if (dtype == kBool) {  // any non-zero byte is true (a bool holding 2 is undefined behaviour)
    uint8_t* b = static_cast<uint8_t*>(t.data_ptr());
    for (uint64_t i = 0; i < expected; ++i) b[i] = b[i] != 0;
  }
  ranges.push_back({offsets[0], offsets[1], name});
  return t;
}

// The reference format's rule: the tensors tile the data section, no overlap, no gap, nothing
// after the last (an overlap would read one tensor's bytes as another's).
void check_tiling(std::vector<ByteRange> ranges, uint64_t data_size, const std::string& path) {
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;  // an empty tensor first
  });
  uint64_t end = 0;
  for (const ByteRange& r : ranges) {
    HG_CHECK(r.begin >= end, "load_safetensors: ", path, ": tensor \"", r.name,
             "\" overlaps the tensor before it in the data section (bytes ", r.begin, "..", end,
             ")");
    HG_CHECK(r.begin == end, "load_safetensors: ", path, ": ", r.begin - end,
             " unused bytes before tensor \"", r.name, "\" in the data section");
    end = r.end;
  }
  HG_CHECK(end == data_size, "load_safetensors: ", path, ": ", data_size - end,
           " unused bytes after the last tensor in the data section");
}

// A first pass over the header with nlohmann's SAX interface, before the DOM is built: refuses
// nesting past kMaxHeaderDepth (10^7 '[' cost ~400 MB as a DOM) and a tensor named twice (the
// DOM keeps the last silently). Linear: parse() with a callback would rescan each parent
// object at every end_object, quadratic in the number of tensors.
struct HeaderCheck {
  using json = nlohmann::json;
  explicit HeaderCheck(std::string file) : path(std::move(file)) {}
  std::string path;
  int depth = 0;
  std::set<std::string> names;

  bool enter() {
    HG_CHECK(++depth <= kMaxHeaderDepth, "load_safetensors: ", path,
             ": the header nests deeper than ", kMaxHeaderDepth, " levels");
    return true;
  }
  bool start_object(std::size_t) { return enter(); }
  bool start_array(std::size_t) { return enter(); }
  bool end_object() { return --depth, true; }
  bool end_array() { return --depth, true; }
  bool key(json::string_t& name) {
    HG_CHECK(depth != 1 || names.insert(name).second, "load_safetensors: ", path, ": \"", name,
             "\" appears twice in the header");
    return true;
  }
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    HG_FAIL("load_safetensors: ", path, ": the header is not valid JSON (", e.what(), ")");
  }
};

}  // namespace

TensorMap parse_safetensors(const uint8_t* bytes, size_t size, const std::string& path,
                            std::map<std::string, std::string>* metadata) {
  uint64_t header_size = 0;
  HG_CHECK(size >= 8, "load_safetensors: ", path,
           ": truncated: expected an 8-byte header length, file has ", size, " bytes");
  std::memcpy(&header_size, bytes, 8);  // little-endian on every platform we build for
  HG_CHECK(header_size <= kMaxHeaderBytes && header_size <= size - 8, "load_safetensors: ", path,
           ": header length ", header_size, " exceeds the file (", size, " bytes)");
  const std::string_view header_text(reinterpret_cast<const char*>(bytes) + 8, header_size);
  const uint8_t* data = bytes + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  HG_CHECK(header_text.find('\0') == std::string_view::npos, "load_safetensors: ", path,
           ": the header contains a NUL byte (the parser would stop there and drop the rest)");
  HeaderCheck check(path);
  nlohmann::json::sax_parse(header_text, &check);  // throws the hg::Error itself
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    HG_FAIL("load_safetensors: ", path, ": the header is not valid JSON (", e.what(), ")");
  }
  HG_CHECK(header.is_object(), "load_safetensors: ", path, ": the header is not a JSON object");
  TensorMap out;
  std::map<std::string, std::string> meta;
  std::vector<ByteRange> ranges;
  try {
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__")
        meta = entry.get<std::map<std::string, std::string>>();
      else
        out[name] = read_entry(path, name, entry, data, data_size, ranges);
    }
  } catch (const nlohmann::json::exception& e) {
    HG_FAIL("load_safetensors: ", path, ": malformed header entry (", e.what(), ")");
  }
  check_tiling(std::move(ranges), data_size, path);
  if (metadata) *metadata = std::move(meta);
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& op, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  HG_CHECK(fs::exists(status), op, ": ", path, ": no such file");
  HG_CHECK(fs::is_regular_file(status), op, ": ", path, ": not a regular file",
           fs::is_directory(status) ? " (a directory)" : "");
  const uintmax_t size = fs::file_size(path, ec);
  HG_CHECK(!ec, op, ": ", path, ": cannot read its size (", ec.message(), ")");
  std::ifstream in(path, std::ios::binary);
  HG_CHECK(in.good(), op, ": ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  HG_CHECK(in.gcount() == static_cast<std::streamsize>(size), op, ": ", path,
           ": read failed after ", in.gcount(), " of ", size, " bytes");
  return bytes;
}

TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const std::vector<uint8_t> bytes = read_file_bytes("load_safetensors", path);
  return parse_safetensors(bytes.data(), bytes.size(), path, metadata);
}

void save(const Module& module, const std::string& path) {
  save_safetensors(module.state_dict(), path, {{"format", "pt"}});
}

void load(Module& module, const std::string& path) {
  module.load_state_dict(load_safetensors(path));
}

}  // namespace hg::nn
