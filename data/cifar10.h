#pragma once
// The CIFAR-10 binary format ("CIFAR-10 binary version", the cifar-10-batches-bin/ folder):
// each record is 1 label byte (0-9) then 3072 pixel bytes, the 1024 red, 1024 green and 1024 blue
// values of a 32x32 image, rows top to bottom. data_batch_1.bin ... data_batch_5.bin hold the
// 50000 training images, test_batch.bin the 10000 test images (10000 records per file).
#include <cstddef>
#include <cstdint>
#include <string>

#include "halfgrad/data/labeled_images.h"

namespace hg::data {

inline constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;  // 3073

// One batch file (raw or gzipped): images uint8 [N, 3, 32, 32], labels int64 [N]. The size
// must be a positive multiple of 3073 bytes and every label below 10; otherwise one hg::Error
// line naming the file.
LabeledImages read_cifar10_batch(const std::string& path);
// The same from a whole file's bytes in memory (raw or gzip); `name` stands for the file.
LabeledImages read_cifar10_batch_from_memory(const uint8_t* data, size_t size,
                                             const std::string& name);

// The training (5 files, 50000 images) or test (1 file, 10000 images) split from `dir`, which
// holds the .bin files or a cifar-10-batches-bin/ folder with them (as the official tarball
// unpacks).
LabeledImages load_cifar10(const std::string& dir, bool train);

}  // namespace hg::data
