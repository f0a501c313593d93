#pragma once
// The IDX format (MNIST, Fashion-MNIST) and the MNIST loader.
//
// An IDX file is a 4-byte magic number 0x00 0x00 <type code> <number of dims>, then one
// big-endian uint32 per dim, then the values, big-endian, row-major. Files may be gzipped
// (detected from the content, not the name). Every problem with a file -- missing, not IDX,
// truncated, trailing bytes, corrupt gzip stream -- is one hg::Error line that names the file and
// says what was expected and what was found.
#include <cstddef>
#include <cstdint>
#include <string>

#include "halfgrad/core/tensor.h"
#include "halfgrad/data/labeled_images.h"

namespace hg::data {

// Reads an IDX file into a CPU tensor of the IDX shape. Type codes and the dtypes they give:
//   0x08 ubyte -> uint8; 0x09 sbyte, 0x0B short, 0x0C int -> int64 (halfgrad has no narrower
//   signed type); 0x0D float -> float32; 0x0E double -> float64.
// 1 to 8 dims (halfgrad's limit); the payload must be exactly prod(dims) values.
Tensor read_idx(const std::string& path);
// The same from a whole file's bytes in memory (raw or gzip); `name` stands for the file in
// messages.
Tensor read_idx_from_memory(const uint8_t* data, size_t size, const std::string& name);

// Writes t as an IDX file: uint8 -> 0x08, int64 -> 0x0C (values must fit in int32),
// float32 -> 0x0D, float64 -> 0x0E. A path ending in ".gz" is written gzip-compressed.
void write_idx(const std::string& path, const Tensor& t);

// Loads MNIST (or Fashion-MNIST, same files) from `dir`: train-images-idx3-ubyte and
// train-labels-idx1-ubyte (train) or t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (test),
// each either raw or with a ".gz" suffix. Returns images uint8 [N, 28, 28] and labels int64 [N]
// with every label in [0, 10). With as_float, images are float32 [N, 1, 28, 28] in [0, 1].
LabeledImages load_mnist(const std::string& dir, bool train, bool as_float = false);

}  // namespace hg::data
