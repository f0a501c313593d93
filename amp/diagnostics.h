#pragma once
// Diagnostics that explain why low precision fails: what one value looks like in a format
// (explain), where a tensor's values land in fp16/bf16 (precision_stats: overflow, flush to
// zero, subnormals, a log2 histogram), and which updates a 16-bit weight cannot absorb
// (lost_update_share). Each has a text form for people and a JSON form for programs.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::amp {

enum class ValueClass { Zero, Subnormal, Normal, Infinity, NaN };

struct Explanation {
  double value = 0;        // the input
  DType dtype = kFloat16;  // float16, bfloat16 or float32
  uint32_t bits = 0;       // the stored bit pattern
  int sign = 0;
  uint32_t exponent_field = 0, mantissa_field = 0;
  int exponent_bits = 0, mantissa_bits = 0;
  double stored = 0;                    // the decoded stored value
  double abs_error = 0, rel_error = 0;  // rounding error of storing `value` (inf: overflow)
  double ulp = 0;                       // spacing of the format at the stored value (NaN
                                        // when that is an infinity or a NaN; JSON null)
  ValueClass cls = ValueClass::Zero;
  // log2 of the power of two that would bring `value` into the normal range (0 when it is
  // there): positive for values too small (what a loss scale does), negative for overflow (the
  // smallest step down after which the value stores finite).
  int scale_log2 = 0;

  std::string to_text() const;
  std::string to_json() const;
};

Explanation explain(double value, DType dtype = kFloat16);

// Where the values of t (read in fp32/fp64) would land if stored in `dtype`.
struct PrecisionStats {
  DType dtype = kFloat16;
  int64_t count = 0, zeros = 0;
  int64_t overflow = 0;                   // finite values that become inf
  int64_t flush_to_zero = 0;              // nonzero values that become 0
  int64_t subnormal = 0;                  // nonzero values stored as subnormals (precision lost)
  int64_t nonfinite = 0;                  // already inf/NaN
  std::map<int, int64_t> log2_histogram;  // floor(log2 |x|) -> count, nonzero finite values
  double share(int64_t n) const {
    return count ? static_cast<double>(n) / static_cast<double>(count) : 0.0;
  }
  std::string to_text(const std::string& name = "") const;
  std::string to_json(const std::string& name = "") const;
};

PrecisionStats precision_stats(const Tensor& t, DType dtype = kFloat16);

// The share of nonzero updates u that do not change a 16-bit weight w: fl16(fl32(w + u)) == w,
// the sum rounded as the optimizers' fp32 arithmetic rounds it, then stored. Roughly |u| below
// half the spacing at w on u's side (the lecture's "value/update > 2^11" for fp16 at a power of
// two, moving away from zero; 2^12 toward zero, where the spacing halves). w is float16 or
// bfloat16, u any floating dtype of w's shape.
double lost_update_share(const Tensor& weight16, const Tensor& update);

// Watches named tensors during a forward/backward pass: the activation's stats now, the
// gradient's when backward reaches it (a hook). report() lists both.
class Telemetry {
 public:
  explicit Telemetry(DType dtype = kFloat16) : dtype_(dtype) {}
  void watch(const std::string& name, const Tensor& activation);
  struct Row {
    std::string name;
    PrecisionStats activation, gradient;
    bool has_gradient = false;
  };
  const std::vector<Row>& rows() const { return *rows_; }
  std::string to_text() const;
  std::string to_json() const;

 private:
  DType dtype_;
  std::shared_ptr<std::vector<Row>> rows_ = std::make_shared<std::vector<Row>>();
};

}  // namespace hg::amp
