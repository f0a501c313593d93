#pragma once
// File helpers shared by the data-set readers (internal to data/).
#include <cstdint>
#include <string>
#include <vector>

namespace hg::data {

// Reads a raw or gzip-compressed file (zlib detects which from the content). Errors are
// hg::Error lines that start with where() = "<op>: <path>: ".
class GzReader {
 public:
  // Throws when the path does not exist, is a directory or cannot be opened.
  GzReader(const std::string& op, const std::string& path);
  ~GzReader();
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  const std::string& where() const { return where_; }
  // Up to n bytes: fewer only at the end of the data. A corrupt gzip stream throws; a truncated
  // one returns what it could decompress and sets truncated() (callers report the short count).
  std::vector<uint8_t> read_up_to(int64_t n);
  // Reads to the end and returns how many bytes were left.
  int64_t count_rest();
  bool truncated() const { return truncated_; }
  // " (the gzip stream ends early)" after a truncated gzip stream, else "".
  std::string truncation_note() const;
  // Throws if the gzip stream was truncated (e.g. only its trailer is missing).
  void check_complete() const;

 private:
  int64_t read_chunk(uint8_t* dst, int64_t n);

  std::string where_;
  void* file_ = nullptr;  // gzFile
  bool truncated_ = false;
};

// Writes bytes to path, gzip-compressed when gz. Errors start with `where`.
void write_file(const std::string& where, const std::string& path,
                const std::vector<uint8_t>& bytes, bool gz);

// Throws "<op>: <dir>: no such directory<hint>" unless dir is an existing directory.
void require_directory(const std::string& op, const std::string& dir, const std::string& hint);

}  // namespace hg::data
