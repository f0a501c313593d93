// amp::explain, precision_stats, lost_update_share and Telemetry.
#include <cmath>

#include "test_util.h"

using namespace hg;

TEST_CASE("explain: the lecture's fp16 figures, field by field") {
  const amp::Explanation e = amp::explain(1.5625, kFloat16);
  CHECK(e.bits == 0x3E40);
  CHECK(e.sign == 0);
  CHECK(e.exponent_field == 15);
  CHECK(e.mantissa_field == 0x240);  // 1001000000
  CHECK(e.cls == amp::ValueClass::Normal);
  CHECK(e.abs_error == 0);
  CHECK(e.ulp == std::ldexp(1.0, -10));
  CHECK(amp::explain(65504, kFloat16).stored == 65504);
  CHECK(amp::explain(65520, kFloat16).cls == amp::ValueClass::Infinity);
  CHECK(amp::explain(65520, kFloat16).scale_log2 < 0);
  const amp::Explanation tiny = amp::explain(std::ldexp(1.0, -25), kFloat16);
  CHECK(tiny.cls == amp::ValueClass::Zero);
  CHECK(tiny.scale_log2 == 11);  // 2^-25 * 2^11 = 2^-14, the smallest normal
  const amp::Explanation sub = amp::explain(std::ldexp(1.0, -24), kFloat16);
  CHECK(sub.cls == amp::ValueClass::Subnormal);
  CHECK(sub.mantissa_field == 1);
  CHECK(amp::explain(0.1, kFloat16).rel_error > 0);
  CHECK(amp::explain(1e-30, kBFloat16).cls == amp::ValueClass::Normal);
  CHECK(amp::explain(3.0, kFloat16).to_text().find("normal 3") != std::string::npos);
  CHECK(amp::explain(3.0, kFloat16).to_json().find("\"class\":\"normal\"") != std::string::npos);
}

TEST_CASE("explain: overflow is reported as such, with the smallest scale that fixes it") {
  const amp::Explanation over = amp::explain(70000, kFloat16);
  CHECK(over.cls == amp::ValueClass::Infinity);
  CHECK(over.abs_error == INFINITY);  // was 0: the error of storing inf for 70000
  CHECK(over.scale_log2 == -1);       // 35000 fits; the old rule said 2^-2
  CHECK(amp::explain(65520, kFloat16).scale_log2 == -1);
  CHECK(amp::explain(131040, kFloat16).scale_log2 == -2);  // 65520 would round up to inf again
  CHECK(amp::explain(1e39, kBFloat16).scale_log2 == -2);   // 2.5e38 < bf16's 3.39e38
  CHECK(over.to_text().find("overflow") != std::string::npos);
  // an infinity has no spacing: no ulp in the text, null in the JSON
  CHECK(std::isnan(over.ulp));
  CHECK(over.to_text().find("ulp") == std::string::npos);
  CHECK(over.to_json().find("\"ulp\":null") != std::string::npos);
  CHECK(std::isnan(amp::explain(NAN, kBFloat16).ulp));
  CHECK(amp::explain(65504, kFloat16).ulp == 32);
  CHECK(over.to_text().find("rounding error") == std::string::npos);
  // JSON has no inf or NaN: non-finite numbers are null, and the output parses as JSON
  const std::string json = amp::explain(NAN, kFloat16).to_json();
  CHECK(json.find("\"value\":null") != std::string::npos);
  CHECK(json.find(":nan") == std::string::npos);
  CHECK(json.find("\"class\":\"nan\"") != std::string::npos);
  CHECK(over.to_json().find("\"stored\":null") != std::string::npos);
  // one rounding from double, as the tensor conversion: 1 + 2^-11 + 2^-40 is above the tie
  CHECK(amp::explain(1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40), kFloat16).stored ==
        1 + std::ldexp(1.0, -10));
}

TEST_CASE("precision_stats: overflow, flush to zero, subnormal, histogram") {
  Tensor t = from_vector(std::vector<double>{1e5, 1e-9, 1e-6, 1.0, 0.0, 3.0}, kFloat64);
  const amp::PrecisionStats s = amp::precision_stats(t, kFloat16);
  CHECK(s.count == 6);
  CHECK(s.overflow == 1);
  CHECK(s.flush_to_zero == 1);
  CHECK(s.subnormal == 1);
  CHECK(s.zeros == 1);
  CHECK(s.log2_histogram.at(0) == 1);
  CHECK(s.log2_histogram.at(1) == 1);
  const amp::PrecisionStats b = amp::precision_stats(t, kBFloat16);
  CHECK(b.overflow == 0);
  CHECK(b.flush_to_zero == 0);
  CHECK(s.to_text().find("overflow 16.67%") != std::string::npos);
  CHECK(s.to_json().find("\"flush_to_zero\":1") != std::string::npos);
  const Tensor bad = from_vector(std::vector<double>{NAN, 1.0, INFINITY, 2.0}, kFloat64);
  CHECK(amp::precision_stats(bad, kFloat16).to_text().find("non-finite 50.00%") !=
        std::string::npos);  // the JSON had the count, the text left it out
}

TEST_CASE("precision_stats: float32 as a target, fp64 values rounded once, other dtypes refused") {
  const Tensor big = from_vector(std::vector<double>{3.4e38, 1e-40, 1e-50}, kFloat64);
  const amp::PrecisionStats f = amp::precision_stats(big, kFloat32);
  CHECK(f.overflow == 0);  // finite in fp32 (it was counted as bf16 before)
  CHECK(f.subnormal == 1);
  CHECK(f.flush_to_zero == 1);
  // 2^-25 (1 + 1e-12) is just above half the smallest fp16 subnormal: stored as 2^-24, not 0
  const Tensor tiny =
      from_vector(std::vector<double>{std::ldexp(1.0, -25) * (1 + 1e-12)}, kFloat64);
  const amp::PrecisionStats h = amp::precision_stats(tiny, kFloat16);
  CHECK(h.flush_to_zero == 0);
  CHECK(h.subnormal == 1);
  hg::test::expect_error([&] { (void)amp::precision_stats(big, kFloat64); },
                         {"precision_stats", "float64", "[3] float64"});
  hg::test::expect_error([] { (void)amp::precision_stats(Tensor(), kFloat16); },
                         {"precision_stats", "undefined"});
}

TEST_CASE("lost_update_share: updates below half an ulp do not move a 16-bit weight") {
  Tensor w = ones({4}, kFloat16);
  Tensor u = from_vector(std::vector<float>{std::ldexp(1.0f, -12), std::ldexp(1.0f, -10), 0.0f,
                                            -std::ldexp(1.0f, -13)});
  CHECK(amp::lost_update_share(w, u) == doctest::Approx(2.0 / 3.0));  // zero updates not counted
}

TEST_CASE("telemetry: activation and gradient stats per watched tensor") {
  Tensor w = full({3}, 1e-3).requires_grad_();
  Tensor h = w * 1e-3;
  amp::Telemetry telemetry(kFloat16);
  telemetry.watch("h", h);
  (h * 1e-5).sum().backward();
  REQUIRE(telemetry.rows().size() == 1);
  CHECK(telemetry.rows()[0].activation.subnormal == 3);  // 1e-6 is subnormal in fp16
  CHECK(telemetry.rows()[0].has_gradient);
  CHECK(telemetry.rows()[0].gradient.subnormal == 3);  // 1e-5 < 2^-14 too
  CHECK(telemetry.to_text().find("h (gradient)") != std::string::npos);
}

TEST_CASE("diagnostics: edges found by an independent reference") {
  // a double just below a power of two: log2 rounds up to the integer, ilogb does not
  const double below = std::ldexp(1 - 0x1p-53, -30);
  CHECK(amp::explain(below, kFloat16).scale_log2 == 17);  // 2^16 leaves it below 2^-14
  const auto stats = amp::precision_stats(full({1}, 16 * (1 - 0x1p-53), kFloat64));
  CHECK(stats.log2_histogram.count(3) == 1);
  // lost_update_share: shapes must match (a broadcast update gave a share of 3), the weight is
  // 16-bit, and an fp64 update's nonzero test sees it unrounded (1e-50 is nonzero, and lost)
  hg::test::expect_error([] { amp::lost_update_share(ones({3}, kFloat16), full({1}, 1e-5)); },
                         {"lost_update_share", "[1] float32", "[3] float16"});
  hg::test::expect_error([] { amp::lost_update_share(ones({1}, kFloat64), full({1}, 1e-9)); },
                         {"lost_update_share", "float16 or bfloat16", "[1] float64"});
  CHECK(amp::lost_update_share(ones({2}, kFloat16),
                               from_vector(std::vector<double>{1e-50, 1.0}, kFloat64)) == 0.5);
}

TEST_CASE("diagnostics: JSON lines escape user-given names") {
  const std::string json = amp::precision_stats(ones({2})).to_json("a\"b\\c\n");
  CHECK(json.find(R"("name":"a\"b\\c\u000a")") != std::string::npos);
}
