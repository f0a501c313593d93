#pragma once
// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
// and the raw little-endian tensor bytes. PyTorch's safetensors loader reads what we write.
//
// Saving is atomic: the bytes go to a temporary file in the same directory, which is flushed,
// synced and renamed over the target, and the directory is synced, so a failed or interrupted
// save (even a killed process or a power loss) leaves the previous file or the new one, whole.
// Loading validates the header, every dtype, shape and offset, and reports the file and what was
// expected.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "halfgrad/core/tensor.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

using TensorMap = std::map<std::string, Tensor>;

void save_safetensors(const TensorMap& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
TensorMap load_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);
// The same from bytes in memory (a whole file); `name` stands for the file in messages.
TensorMap parse_safetensors(const uint8_t* data, size_t size, const std::string& name,
                            std::map<std::string, std::string>* metadata = nullptr);

// The bytes of a whole regular file; hg::Error naming `op` and the path when it does not exist,
// is a directory or cannot be read (load_safetensors and train::Checkpoint::load read with it).
std::vector<uint8_t> read_file_bytes(const std::string& op, const std::string& path);

// A module's state_dict to/from a file (names like "features.0.weight").
void save(const Module& module, const std::string& path);
void load(Module& module, const std::string& path);

}  // namespace hg::nn
