// Chapters 1 and 2: what the bits of fp16 mean, and how coarse each binade is.
#include <cmath>
#include <cstdio>
#include <string>

#include "chapters.h"
#include "plot.h"

namespace hg::tour {

void heading(int number, const std::string& title, const std::string& claim) {
  std::printf("\n== Chapter %d: %s ==\n%s\n\n", number, title.c_str(), claim.c_str());
}

namespace {

// "0 01111 1001000000": sign, exponent and mantissa fields of an explained value.
std::string fields(const amp::Explanation& e) {
  std::string out = std::to_string(e.sign) + ' ';
  for (int b = e.exponent_bits - 1; b >= 0; --b) out += (e.exponent_field >> b) & 1u ? '1' : '0';
  out += ' ';
  for (int b = e.mantissa_bits - 1; b >= 0; --b) out += (e.mantissa_field >> b) & 1u ? '1' : '0';
  return out;
}

const char* class_name(amp::ValueClass c) {
  static const char* names[] = {"zero", "subnormal", "normal", "infinity", "NaN"};
  return names[static_cast<int>(c)];
}

void show(const char* what, double value, DType dtype) {
  const amp::Explanation e = amp::explain(value, dtype);
  char spacing[32] = "";  // an infinity or a NaN has no ulp (explain's is NaN): the class alone
  if (std::isfinite(e.ulp)) std::snprintf(spacing, sizeof spacing, ", ulp %.3g", e.ulp);
  std::printf("  %-28s %-9s %-36s = %-14.8g (%s%s)\n", what, std::string(dtype_name(dtype)).c_str(),
              fields(e).c_str(), e.stored, class_name(e.cls), spacing);
}

}  // namespace

void chapter_anatomy(Context&) {
  heading(
      1, "FP16 anatomy",
      "fp16 = 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. A normal value is\n"
      "(-1)^s * 2^(e-15) * 1.m; exponent field 0 holds zero and the subnormals 2^-14 * 0.m.\n"
      "Bit fields below come from amp::explain (the library's conversion, round to nearest even).");
  show("largest: 65504", 65504, kFloat16);
  show("smallest normal: 2^-14", std::ldexp(1.0, -14), kFloat16);
  show("smallest subnormal: 2^-24", std::ldexp(1.0, -24), kFloat16);
  show("1.5625 = 1 + 1/2 + 1/16", 1.5625, kFloat16);
  show("1.0", 1.0, kFloat16);
  show("0.1 (not exact)", 0.1, kFloat16);
  std::printf("  Out of range, the conversion does this:\n");
  show("65520 (overflows)", 65520, kFloat16);
  show("2.5e-8 (below 2^-25: zero)", 2.5e-8, kFloat16);
  show("4e-8 (rounds up to 2^-24)", 4e-8, kFloat16);

  std::printf("\n  FP32 for comparison (8 exponent bits, bias 127; 23 mantissa bits):\n");
  show("largest", 3.4028234663852886e38, kFloat32);
  show("smallest normal: 2^-126", std::ldexp(1.0, -126), kFloat32);
  show("smallest subnormal: 2^-149", std::ldexp(1.0, -149), kFloat32);
  show("1.5625", 1.5625, kFloat32);

  std::printf("\n  bf16 keeps fp32's 8 exponent bits and has only 7 mantissa bits:\n");
  show("largest", 3.3895313892515355e38, kBFloat16);
  show("smallest normal: 2^-126", std::ldexp(1.0, -126), kBFloat16);
  show("smallest subnormal: 2^-133", std::ldexp(1.0, -133), kBFloat16);
  show("1.5625", 1.5625, kBFloat16);
  show("65504 (fp16's largest)", 65504, kBFloat16);
  show("0.1", 0.1, kBFloat16);
  show("2^-25 (zero in fp16)", std::ldexp(1.0, -25), kBFloat16);
  std::printf(
      "\n  The trade: fp16 spans 2^-24 .. 65504 (40 binades) with 11 significant bits (relative\n"
      "  step 2^-10 = 0.098%%); bf16 spans fp32's 2^-133 .. 3.4e38 with 8 significant bits\n"
      "  (relative step 2^-7 = 0.78%%). bf16 rarely under- or overflows, but rounds 8x coarser.\n");
}

void chapter_resolution(Context& ctx) {
  heading(2, "The resolution table",
          "Inside the binade [2^e, 2^(e+1)) fp16 values are spaced 2^(e-10) apart (2^-24 for all\n"
          "subnormals). 'ulp' is amp::explain's spacing; 'next - value' steps the bit pattern by\n"
          "one (Half::from_bits), so the two columns check each other.");
  std::printf("  %-22s %-13s %-13s %-11s %s\n", "binade", "ulp", "next - value", "ulp/value",
              "kind");
  PlotSpec plot{"ch2_resolution",
                "Spacing of representable numbers (ulp) per binade",
                "value (start of the binade)",
                "ulp (spacing)",
                true,
                true,
                {},
                {}};
  Series fp16{"fp16", {}, "steps"}, bf16{"bf16", {}, "steps"};
  int mismatches = 0;
  for (int e = -24; e <= 15; ++e) {
    const double value = std::ldexp(1.0, e);
    const amp::Explanation x = amp::explain(value, kFloat16);
    const double next = static_cast<float>(
        Half::from_bits(static_cast<uint16_t>(Half(static_cast<float>(value)).bits + 1)));
    const double step = next - value;
    mismatches += step != x.ulp;
    const std::string range =
        "[2^" + std::to_string(e) + ", " +
        (e == 15 ? std::string("65504]") : "2^" + std::to_string(e + 1) + ")");
    std::printf("  %-22s %-13.6g %-13.6g %-11.4g %s\n", range.c_str(), x.ulp, step, x.ulp / value,
                e < -14 ? "subnormal" : "normal");
    fp16.points.emplace_back(value, x.ulp);
    bf16.points.emplace_back(value, amp::explain(value, kBFloat16).ulp);
  }
  std::printf(
      "  ulp and next - value agree in %d of 40 binades. Reading: at 1024 the step is 1,\n"
      "  so 1024 + 0.4 == 1024; at 32768 the step is 32.\n",
      40 - mismatches);
  plot.series = {fp16, bf16};
  plot.extra = {"set arrow from 2**-14, graph 0 to 2**-14, graph 1 nohead dt 2",
                "set label 'fp16 smallest normal 2^{-14}' at 2**-14, graph 0.92 offset 0.5,0"};
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace hg::tour
