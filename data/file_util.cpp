#include "data/file_util.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace hg::data {
namespace {

constexpr int64_t kChunk = int64_t{1} << 24;       // bytes per gzread/gzwrite call
constexpr int64_t kMaxReserve = int64_t{1} << 26;  // never reserve more up front
gzFile as_gz(void* f) {
  return static_cast<gzFile>(f);
}

}  // namespace

GzReader::GzReader(const std::string& op, const std::string& path)
    : where_(op + ": " + path + ": ") {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  HG_CHECK(fs::exists(st), where_, "no such file");
  HG_CHECK(!fs::is_directory(st), where_, "is a directory, expected a file");
  errno = 0;
  file_ = gzopen(path.c_str(), "rb");
  HG_CHECK(file_ != nullptr, where_,
           "cannot open: ", errno != 0 ? std::strerror(errno) : "out of memory");
  gzbuffer(as_gz(file_), 1 << 18);
}

GzReader::~GzReader() {
  if (file_ != nullptr) gzclose_r(as_gz(file_));
}

int64_t GzReader::read_chunk(uint8_t* dst, int64_t n) {
  const int got = gzread(as_gz(file_), dst, static_cast<unsigned>(n));
  int err = Z_OK;
  const char* message = gzerror(as_gz(file_), &err);
  if (err == Z_BUF_ERROR) {  // zlib's "unexpected end of file": a truncated gzip stream
    truncated_ = true;
    return std::max(got, 0);
  }
  HG_CHECK(err == Z_OK && got >= 0, where_, "corrupt gzip data: ", message,
           err == Z_ERRNO ? std::string(": ") + std::strerror(errno) : std::string());
  return got;
}

std::vector<uint8_t> GzReader::read_up_to(int64_t n) {
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(std::min(n, kMaxReserve)));
  while (static_cast<int64_t>(out.size()) < n) {
    const int64_t want = std::min(kChunk, n - static_cast<int64_t>(out.size()));
    const size_t old = out.size();
    out.resize(old + static_cast<size_t>(want));
    const int64_t got = read_chunk(out.data() + old, want);
    out.resize(old + static_cast<size_t>(got));
    if (got == 0) break;
  }
  return out;
}

int64_t GzReader::count_rest() {
  std::vector<uint8_t> sink(1 << 16);
  int64_t total = 0;
  while (true) {
    const int64_t got = read_chunk(sink.data(), static_cast<int64_t>(sink.size()));
    if (got == 0) break;
    total += got;
  }
  return total;
}

std::string GzReader::truncation_note() const {
  return truncated_ ? " (the gzip stream ends early)" : "";
}

void GzReader::check_complete() const {
  HG_CHECK(!truncated_, where_, "truncated gzip stream: unexpected end of file");
}

void write_file(const std::string& where, const std::string& path,
                const std::vector<uint8_t>& bytes, bool gz) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), gz ? "wb6" : "wbT");  // T: plain, uncompressed output
  HG_CHECK(f != nullptr, where,
           "cannot open for writing: ", errno != 0 ? std::strerror(errno) : "out of memory");
  int64_t done = 0;
  const auto total = static_cast<int64_t>(bytes.size());
  while (done < total) {
    const int64_t n = std::min(kChunk, total - done);
    if (gzwrite(f, bytes.data() + done, static_cast<unsigned>(n)) != n) break;
    done += n;
  }
  const int closed = gzclose_w(f);
  HG_CHECK(done == total && closed == Z_OK, where, "write failed after ", done, " of ", total,
           " bytes");
}

void require_directory(const std::string& op, const std::string& dir, const std::string& hint) {
  std::error_code ec;
  HG_CHECK(std::filesystem::is_directory(dir, ec), op, ": ", dir, ": no such directory", hint);
}

}  // namespace hg::data
