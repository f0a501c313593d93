// A lossless transform of CIFAR-10 binary batches that xz compresses to ~55% of their size
// instead of ~75%, so the six batches reach the GPU machine in two device calls instead of three
// (tools/gpu_cifar_parts.sh; one call carries 64 MiB at most).
//
//   hg_cifar_pack encode < data_batch_1.bin > data_batch_1.hgc
//   hg_cifar_pack decode < data_batch_1.hgc > data_batch_1.bin
//
// Input records: 1 label byte, then the 1024 red, 1024 green and 1024 blue bytes of a 32x32
// image (row-major). Output: the magic "HGCIFAR1", the record count (4 bytes, little endian), the
// labels, then three planes of n x 1024 bytes each: green, red, blue. Each byte is a prediction
// residual, zigzag-mapped (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) so that small residuals of
// either sign are small bytes:
//  - every channel is predicted from its left, upper and upper-left neighbours with the median
//    edge detector of LOCO-I / JPEG-LS (min or max of left and up at an edge, else
//    left + up - upper-left); the first row predicts from the left, the first column from above;
//  - red and blue then subtract green's residual at the same pixel (the channels' edges
//    coincide), all modulo 256.
// Standalone (no halfgrad), so it also builds with a bare compiler on the GPU machine.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;
constexpr char kMagic[8] = {'H', 'G', 'C', 'I', 'F', 'A', 'R', '1'};
constexpr int kGreen = 1;
constexpr std::array<int, 3> kPlaneOrder = {1, 0, 2};  // green first: red and blue use it

// The median edge detector at (y, x) of a 32x32 plane.
int predict(const uint8_t* p, int y, int x) {
  if (y == 0 && x == 0) return 0;
  if (y == 0) return p[x - 1];
  if (x == 0) return p[(y - 1) * kSide];
  const int left = p[y * kSide + x - 1], up = p[(y - 1) * kSide + x];
  const int corner = p[(y - 1) * kSide + x - 1];
  const int lo = left < up ? left : up, hi = left < up ? up : left;
  if (corner >= hi) return lo;
  if (corner <= lo) return hi;
  return left + up - corner;
}

uint8_t zigzag(int residual) {  // residual in [-128, 127] as a byte's difference mod 256
  const int r = static_cast<int8_t>(static_cast<uint8_t>(residual));
  return static_cast<uint8_t>(r >= 0 ? 2 * r : -2 * r - 1);
}
int unzigzag(uint8_t z) { return (z & 1) != 0 ? -(z >> 1) - 1 : z >> 1; }

// The residuals of one image's planes (rgb: 3 x 1024 bytes) into res (3 x 1024, rgb order).
void encode_image(const uint8_t* rgb, uint8_t* res) {
  std::array<int, kPlane> green{};
  for (int c : kPlaneOrder) {
    const uint8_t* p = rgb + c * kPlane;
    for (int i = 0; i < kPlane; ++i) {
      int r = p[i] - predict(p, i / kSide, i % kSide);
      if (c == kGreen)
        green[i] = r;
      else
        r -= green[i];
      res[c * kPlane + i] = zigzag(r);
    }
  }
}

// The inverse of encode_image.
void decode_image(const uint8_t* res, uint8_t* rgb) {
  std::array<int, kPlane> green{};
  for (int c : kPlaneOrder) {
    uint8_t* p = rgb + c * kPlane;
    for (int i = 0; i < kPlane; ++i) {
      int r = unzigzag(res[c * kPlane + i]);
      if (c == kGreen)
        green[i] = r;
      else
        r += green[i];
      p[i] = static_cast<uint8_t>(r + predict(p, i / kSide, i % kSide));
    }
  }
}

bool fail(const std::string& message) {
  std::fprintf(stderr, "hg_cifar_pack: %s\n", message.c_str());
  return false;
}

// All of `in` into data; false (with a message) on a read error.
bool read_all(FILE* in, std::vector<uint8_t>& data) {
  std::array<uint8_t, 1 << 16> chunk{};
  for (size_t n; (n = std::fread(chunk.data(), 1, chunk.size(), in)) > 0;)
    data.insert(data.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  return std::ferror(in) == 0 || fail("cannot read the input");
}

bool encode(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  if (in.size() % kRecord != 0)
    return fail(std::to_string(in.size()) + " bytes are not whole CIFAR-10 records of " +
                std::to_string(kRecord));
  const size_t n = in.size() / kRecord;
  if (n > 0xffffffffu) return fail("too many records");
  out.assign(sizeof kMagic + 4 + in.size(), 0);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  for (int b = 0; b < 4; ++b) out[sizeof kMagic + b] = static_cast<uint8_t>(n >> (8 * b));
  uint8_t* labels = out.data() + sizeof kMagic + 4;
  uint8_t* planes = labels + n;
  std::array<uint8_t, 3 * kPlane> res{};
  for (size_t k = 0; k < n; ++k) {
    const uint8_t* record = in.data() + k * kRecord;
    labels[k] = record[0];
    encode_image(record + 1, res.data());
    for (int slot = 0; slot < 3; ++slot)  // planes in kPlaneOrder, each n x 1024
      std::memcpy(planes + (slot * n + k) * kPlane, res.data() + kPlaneOrder[slot] * kPlane,
                  kPlane);
  }
  return true;
}

bool decode(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  if (in.size() < sizeof kMagic + 4 || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    return fail("the input does not start with HGCIFAR1 (not made by hg_cifar_pack encode)");
  size_t n = 0;
  for (int b = 0; b < 4; ++b) n |= static_cast<size_t>(in[sizeof kMagic + b]) << (8 * b);
  if (in.size() != sizeof kMagic + 4 + n * kRecord)
    return fail(std::to_string(in.size()) + " bytes, but the header says " + std::to_string(n) +
                " records: the file is cut or corrupt");
  const uint8_t* labels = in.data() + sizeof kMagic + 4;
  const uint8_t* planes = labels + n;
  out.assign(n * kRecord, 0);
  std::array<uint8_t, 3 * kPlane> res{};
  for (size_t k = 0; k < n; ++k) {
    for (int slot = 0; slot < 3; ++slot)
      std::memcpy(res.data() + kPlaneOrder[slot] * kPlane, planes + (slot * n + k) * kPlane,
                  kPlane);
    uint8_t* record = out.data() + k * kRecord;
    record[0] = labels[k];
    decode_image(res.data(), record + 1);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode != "encode" && mode != "decode") {
    std::fprintf(stderr, "usage: hg_cifar_pack encode|decode < IN > OUT\n");
    return 2;
  }
  std::vector<uint8_t> in, out;
  if (!read_all(stdin, in)) return 1;
  if (!(mode == "encode" ? encode(in, out) : decode(in, out))) return 1;
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    fail("cannot write the output");
    return 1;
  }
  return 0;
}
