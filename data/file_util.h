#pragma once
// File helpers shared by the data-set readers (internal to data/).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hg::data {

// Reads a raw or gzip-compressed file, or the same bytes from memory (zlib detects which from
// the content). Errors are hg::Error lines that start with where() = "<op>: <path>: ".
class GzReader {
 public:
  // Throws when the path does not exist, is a directory or cannot be opened.
  GzReader(const std::string& op, const std::string& path);
  // The bytes of a whole file in memory (not copied: they must outlive the reader); `name`
  // stands for the file in messages. Gzip data is inflated as gzread would: concatenated
  // members are joined and anything after the last member is ignored.
  GzReader(const std::string& op, const std::string& name, const uint8_t* data, size_t size);
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
  int64_t read_memory(uint8_t* dst, int64_t n);
  int64_t inflate_memory(uint8_t* dst, int64_t n);

  std::string where_;
  void* file_ = nullptr;  // gzFile
  bool truncated_ = false;
  // Memory mode: the bytes, how far they are consumed, and the inflate state for gzip data.
  const uint8_t* memory_ = nullptr;
  size_t memory_size_ = 0, memory_pos_ = 0;
  void* inflater_ = nullptr;  // z_stream*, when the bytes are gzip
  bool memory_done_ = false;
};

// Writes bytes to path, gzip-compressed when gz. Errors start with `where`.
void write_file(const std::string& where, const std::string& path,
                const std::vector<uint8_t>& bytes, bool gz);

// Throws "<op>: <dir>: no such directory<hint>" unless dir is an existing directory.
void require_directory(const std::string& op, const std::string& dir, const std::string& hint);

}  // namespace hg::data
