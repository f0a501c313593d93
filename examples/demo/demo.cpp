// hg_demo: a first look at halfgrad's tensor core.
//   1. fp32 -> fp16 / bf16: round to nearest even, overflow to inf, underflow to zero;
//   2. tensors in three dtypes, printed;
//   3. a tiny autograd example where a cast sits on the tape (CastBackward).
#include <halfgrad/halfgrad.h>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <string>

namespace {

void rounding_row(const std::string& label, float value) {
  // Round-trip through the 16-bit storage types: the value a fp16/bf16 tensor would hold.
  const hg::Half h(value);
  const hg::BFloat16 b(value);
  std::cout << "  " << std::left << std::setw(10) << label << std::right << std::setw(16)
            << std::setprecision(9) << value << std::setw(16) << float(h) << "  (0x" << std::hex
            << std::setw(4) << std::setfill('0') << h.bits << std::dec << std::setfill(' ') << ')'
            << std::setw(16) << std::setprecision(6) << float(b) << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {  // the demo takes no options: say so rather than ignore them
    const std::string arg = argv[1];
    std::cout << "usage: hg_demo\nA tour of halfgrad's numerics: fp32 -> fp16/bf16 rounding, "
                 "tensors in each dtype, a backward pass through a taped cast. No options.\n";
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  std::cout << "== 1. fp32 -> fp16 / bf16 rounding (IEEE round to nearest, ties to even)\n"
            << "  value                 fp32            fp16  (bits)              bf16\n";
  rounding_row("1/3", 1.0f / 3.0f);
  rounding_row("65519.99", 65519.99f);           // just below the halfway point: 65504, fp16's max
  rounding_row("65520", 65520.0f);               // the halfway point to 65536: ties to even = inf
  rounding_row("2^-24", std::ldexp(1.0f, -24));  // fp16's smallest subnormal, kept
  rounding_row("2^-25", std::ldexp(1.0f, -25));  // halfway between 0 and 2^-24: ties to even = 0
  rounding_row("1e-8", 1e-8f);                   // far below fp16's range; bf16 keeps fp32's range
  std::cout
      << "  fp16 has 10 mantissa bits and a max of 65504; bf16 has 7 mantissa bits and fp32's "
         "exponent range.\n\n";

  std::cout << "== 2. the same values as tensors, cast with Tensor::to(dtype)\n";
  hg::Tensor x = hg::from_vector<float>({1.0f / 3.0f, 65519.99f, 65520.0f, std::ldexp(1.0f, -25)});
  std::cout << "x          = " << x << '\n'
            << "x.to(fp16) = " << x.to(hg::kFloat16) << '\n'
            << "x.to(bf16) = " << x.to(hg::kBFloat16) << "\n\n";

  std::cout << "== 3. autograd: an fp32 weight used in an fp16 matmul\n";
  hg::manual_seed(0);
  hg::Tensor w = hg::randn({3, 2}, hg::TensorOptions().requires_grad(true));  // fp32 leaf
  hg::Tensor a = hg::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}, hg::kFloat16);
  hg::Tensor y = hg::matmul(a, w.to(hg::kFloat16));  // the cast is an op on the tape
  hg::Tensor loss = hg::sum(y.to(hg::kFloat32));     // reduce in fp32
  std::cout << "w    = " << w << '\n' << "y    = " << y << '\n' << "loss = " << loss << "\n\n";

  std::cout << "The tape, newest first (each cast is a CastBackward node):\n";
  hg::autograd::print_tape(loss, std::cout);

  loss.backward();
  std::cout << "\nw.grad = " << w.grad() << '\n'
            << "  fp32, like w: CastBackward cast the fp16 gradient back. Each row k is "
               "a[0][k] + a[1][k] = 5, 7, 9.\n";
  return 0;
}
