#include "halfgrad/data/file_util.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>

#include "halfgrad/core/error.h"

namespace hg::data {
namespace {

constexpr int64_t kChunk = int64_t{1} << 24;       // bytes per gzread/gzwrite call
constexpr int64_t kMaxReserve = int64_t{1} << 26;  // never reserve more up front
gzFile as_gz(void* f) { return static_cast<gzFile>(f); }

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

GzReader::GzReader(const std::string& op, const std::string& name, const uint8_t* data, size_t size)
    : where_(op + ": " + name + ": "), memory_(data), memory_size_(size) {
  if (size >= 2 && data[0] == 0x1F && data[1] == 0x8B) {
    auto* z = new z_stream{};
    if (inflateInit2(z, 15 + 16) != Z_OK) {  // 15 + 16: a gzip wrapper, 32 KiB window
      delete z;
      HG_FAIL(where_, "cannot start zlib's inflate: out of memory");
    }
    inflater_ = z;
  }
}

GzReader::~GzReader() {
  if (file_ != nullptr) gzclose_r(as_gz(file_));
  if (inflater_ != nullptr) {
    auto* z = static_cast<z_stream*>(inflater_);
    inflateEnd(z);
    delete z;
  }
}

int64_t GzReader::read_memory(uint8_t* dst, int64_t n) {
  if (inflater_ != nullptr) return inflate_memory(dst, n);
  const auto count =
      static_cast<int64_t>(std::min<size_t>(static_cast<size_t>(n), memory_size_ - memory_pos_));
  if (count > 0) std::memcpy(dst, memory_ + memory_pos_, static_cast<size_t>(count));
  memory_pos_ += static_cast<size_t>(count);
  return count;
}

int64_t GzReader::inflate_memory(uint8_t* dst, int64_t n) {
  auto* z = static_cast<z_stream*>(inflater_);
  int64_t produced = 0;
  while (produced < n && !memory_done_) {
    z->next_in = const_cast<Bytef*>(memory_ + memory_pos_);
    z->avail_in = static_cast<uInt>(std::min<size_t>(memory_size_ - memory_pos_, 1u << 30));
    z->next_out = dst + produced;
    z->avail_out = static_cast<uInt>(n - produced);
    const uInt in_before = z->avail_in, out_before = z->avail_out;
    const int rc = inflate(z, Z_NO_FLUSH);
    memory_pos_ += in_before - z->avail_in;
    produced += out_before - z->avail_out;
    if (rc == Z_STREAM_END) {
      // Another gzip member follows (gzip -c a b > ab), or the rest is ignored, as gzread does.
      const bool another = memory_size_ - memory_pos_ >= 2 && memory_[memory_pos_] == 0x1F &&
                           memory_[memory_pos_ + 1] == 0x8B;
      if (another)
        inflateReset(z);
      else
        memory_done_ = true;
    } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
      const bool stalled = in_before == z->avail_in && out_before == z->avail_out;
      if (memory_pos_ == memory_size_ && z->avail_out > 0) {  // the input ended inside a member
        truncated_ = true;
        memory_done_ = true;
      } else {
        HG_CHECK(!stalled, where_, "corrupt gzip data: inflate made no progress");
      }
    } else {
      HG_FAIL(where_, "corrupt gzip data: ", z->msg != nullptr ? z->msg : "inflate failed");
    }
  }
  return produced;
}

int64_t GzReader::read_chunk(uint8_t* dst, int64_t n) {
  if (memory_ != nullptr || file_ == nullptr) return read_memory(dst, n);
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
  // Never trust n (it comes from a header) for the reservation beyond what the input can hold:
  // raw bytes in memory give exactly the rest, deflate expands at most ~1032:1.
  int64_t bound = kMaxReserve;
  if (memory_ != nullptr) {
    const auto rest = static_cast<int64_t>(memory_size_ - memory_pos_);
    bound = std::min(bound, inflater_ != nullptr ? rest * 1032 + 4096 : rest);
  }
  out.reserve(static_cast<size_t>(std::min(n, bound)));
  while (static_cast<int64_t>(out.size()) < n) {
    // Grow geometrically from 64 KiB: resize() zero-fills, so asking for a whole chunk when n
    // (from a header) is large but the data is short would cost 16 MiB of writes per call.
    const int64_t grow = std::max<int64_t>(int64_t{1} << 16, static_cast<int64_t>(out.size()));
    const int64_t want = std::min({kChunk, n - static_cast<int64_t>(out.size()), grow});
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
