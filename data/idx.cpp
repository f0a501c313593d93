#include "halfgrad/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/data/file_util.h"

namespace hg::data {
namespace {

struct IdxType {
  uint8_t code;
  const char* name;
  int64_t size;  // bytes per value in the file
  DType dtype;   // what read_idx returns
};

constexpr std::array<IdxType, 6> kIdxTypes{{{0x08, "ubyte", 1, kUInt8},
                                            {0x09, "sbyte", 1, kInt64},
                                            {0x0B, "short", 2, kInt64},
                                            {0x0C, "int", 4, kInt64},
                                            {0x0D, "float", 4, kFloat32},
                                            {0x0E, "double", 8, kFloat64}}};
constexpr int64_t kMaxIdxDims = 8;

const IdxType* find_type(uint8_t code) {
  for (const auto& t : kIdxTypes) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

std::string hex_byte(uint8_t b) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

uint64_t load_be(const uint8_t* p, int64_t n) {
  uint64_t v = 0;
  for (int64_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void store_be(uint8_t* p, uint64_t v, int64_t n) {
  for (int64_t i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v & 0xFF);
}

struct IdxHeader {
  const IdxType* type = nullptr;
  Shape shape;
  int64_t header_bytes = 0;
  int64_t payload_bytes = 0;
};

IdxHeader read_header(GzReader& in) {
  const std::string& where = in.where();
  std::vector<uint8_t> magic = in.read_up_to(4);
  HG_CHECK(magic.size() == 4, where, "truncated header: expected a 4-byte magic number, found ",
           magic.size(), magic.empty() ? " bytes (empty file)" : " bytes", in.truncation_note());
  HG_CHECK(magic[0] == 0 && magic[1] == 0, where, "bad magic number ", hex_byte(magic[0]), " ",
           hex_byte(magic[1]), " ", hex_byte(magic[2]), " ", hex_byte(magic[3]),
           ": expected 0x00 0x00 <type code> <number of dims> (not an IDX file?)");
  IdxHeader h;
  h.type = find_type(magic[2]);
  HG_CHECK(h.type != nullptr, where, "unsupported data type code ", hex_byte(magic[2]),
           ": expected 0x08 (ubyte), 0x09 (sbyte), 0x0B (short), 0x0C (int), 0x0D (float) or "
           "0x0E (double)");
  const int64_t ndims = magic[3];
  HG_CHECK(ndims >= 1 && ndims <= kMaxIdxDims, where, "expected 1 to ", kMaxIdxDims,
           " dimensions in the magic number, found ", ndims);
  h.header_bytes = 4 + 4 * ndims;
  std::vector<uint8_t> dims = in.read_up_to(4 * ndims);
  HG_CHECK(static_cast<int64_t>(dims.size()) == 4 * ndims, where, "truncated header: expected ",
           h.header_bytes, " bytes (magic + ", ndims, " 4-byte sizes), found ", 4 + dims.size(),
           in.truncation_note());
  // Every dim is < 2^32 and there are at most 8, so check the running product for overflow.
  int64_t numel = 1, span = 1;
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 8;
  for (int64_t d = 0; d < ndims; ++d) {
    const auto size = static_cast<int64_t>(load_be(dims.data() + 4 * d, 4));
    h.shape.push_back(size);
    // Zero sizes do not bound the others: [0, 2^32-1, 2^32-1] has no values but cannot be a
    // tensor (its strides overflow), so the product of the non-zero sizes is checked too.
    HG_CHECK(size == 0 || span <= kLimit / size, where, "header sizes ", shape_str(h.shape),
             "... overflow a 64-bit element count");
    numel *= size;
    span *= size == 0 ? 1 : size;
  }
  h.payload_bytes = numel * h.type->size;
  return h;
}

// Decodes n big-endian values of `type` from src into the tensor's storage.
void decode(const IdxType& type, const uint8_t* src, const Tensor& out) {
  const int64_t n = out.numel();
  if (type.code == 0x08) {
    if (n > 0) std::memcpy(out.data<uint8_t>(), src, static_cast<size_t>(n));
  } else if (type.dtype == kInt64) {
    int64_t* dst = out.data<int64_t>();
    const int64_t s = type.size;
    const int shift = static_cast<int>(64 - 8 * s);  // sign-extend the s-byte value
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = static_cast<int64_t>(load_be(src + i * s, s) << shift) >> shift;
    }
  } else if (type.dtype == kFloat32) {
    float* dst = out.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = std::bit_cast<float>(static_cast<uint32_t>(load_be(src + 4 * i, 4)));
    }
  } else {
    double* dst = out.data<double>();
    for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<double>(load_be(src + 8 * i, 8));
  }
}

// Encodes t (contiguous on the host) as big-endian values of `type`.
std::vector<uint8_t> encode(const IdxType& type, const Tensor& t, const std::string& where) {
  const int64_t n = t.numel();
  std::vector<uint8_t> out(static_cast<size_t>(n * type.size));
  if (type.code == 0x08) {
    const std::vector<uint8_t> v = t.to_vector<uint8_t>();
    std::copy(v.begin(), v.end(), out.begin());
  } else if (type.code == 0x0C) {
    const std::vector<int64_t> v = t.to_vector<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      HG_CHECK(v[i] >= std::numeric_limits<int32_t>::min() &&
                   v[i] <= std::numeric_limits<int32_t>::max(),
               where, "value ", v[i], " at index ", i, " does not fit the IDX int (int32) type");
      store_be(out.data() + 4 * i, static_cast<uint32_t>(static_cast<int32_t>(v[i])), 4);
    }
  } else if (type.code == 0x0D) {
    const std::vector<float> v = t.to_vector<float>();
    for (int64_t i = 0; i < n; ++i) store_be(out.data() + 4 * i, std::bit_cast<uint32_t>(v[i]), 4);
  } else {
    const std::vector<double> v = t.to_vector<double>();
    for (int64_t i = 0; i < n; ++i) store_be(out.data() + 8 * i, std::bit_cast<uint64_t>(v[i]), 8);
  }
  return out;
}

uint8_t code_for(DType dtype, const std::string& where) {
  switch (dtype) {
    case kUInt8:
      return 0x08;
    case kInt64:
      return 0x0C;
    case kFloat32:
      return 0x0D;
    case kFloat64:
      return 0x0E;
    default:
      HG_FAIL(where, "cannot write dtype ", dtype_name(dtype),
              " as IDX: expected uint8, int64, float32 or float64");
  }
}

}  // namespace

namespace {

Tensor read_idx_from(GzReader& in) {
  const IdxHeader h = read_header(in);
  const std::string& where = in.where();
  std::vector<uint8_t> payload = in.read_up_to(h.payload_bytes);
  HG_CHECK(static_cast<int64_t>(payload.size()) == h.payload_bytes, where, "truncated: expected ",
           h.payload_bytes, " bytes of data after the ", h.header_bytes, "-byte header (",
           shape_str(h.shape), " ", h.type->name, "), found ", payload.size(),
           in.truncation_note());
  const int64_t extra = in.count_rest();
  HG_CHECK(extra == 0, where, "trailing data: expected exactly ", h.payload_bytes,
           " bytes of data after the ", h.header_bytes, "-byte header (", shape_str(h.shape), " ",
           h.type->name, "), found ", extra, " more");
  in.check_complete();
  Tensor out = empty(h.shape, h.type->dtype);
  decode(*h.type, payload.data(), out);
  return out;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  GzReader in("read_idx", path);
  return read_idx_from(in);
}

Tensor read_idx_from_memory(const uint8_t* data, size_t size, const std::string& name) {
  GzReader in("read_idx", name, data, size);
  return read_idx_from(in);
}

void write_idx(const std::string& path, const Tensor& t) {
  const std::string where = "write_idx: " + path + ": ";
  HG_CHECK(t.defined(), where, "the tensor is undefined");
  HG_CHECK(t.dim() >= 1 && t.dim() <= kMaxIdxDims, where, "expected 1 to ", kMaxIdxDims,
           " dims, got ", describe(t));
  const IdxType& type = *find_type(code_for(t.dtype(), where));
  std::vector<uint8_t> bytes{0, 0, type.code, static_cast<uint8_t>(t.dim())};
  for (int64_t d = 0; d < t.dim(); ++d) {
    HG_CHECK(t.size(d) <= std::numeric_limits<uint32_t>::max(), where, "size ", t.size(d),
             " of dim ", d, " does not fit an IDX size (uint32)");
    bytes.resize(bytes.size() + 4);
    store_be(bytes.data() + bytes.size() - 4, static_cast<uint64_t>(t.size(d)), 4);
  }
  const std::vector<uint8_t> payload = encode(type, t, where);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  const bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  write_file(where, path, bytes, gz);
}

}  // namespace hg::data
