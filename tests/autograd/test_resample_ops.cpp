// pad and interpolate (autograd/resample_ops.cpp): values and gradients against PyTorch 1.13,
// gradcheck, dtypes, the 16-bit rule of bilinear, and the errors.
#include <string>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

struct PadCase {
  const char* torch_call;
  PadMode mode;
  std::vector<int64_t> pads;
  double value;
  Shape shape;
  bool batched;  // torch 1.13 pads circularly only with a batch dim
  std::vector<double> y, grad;
};

struct InterpolateCase {
  const char* torch_call;
  InterpolateOptions options;
  Shape shape;
  std::vector<double> y, grad;
};

}  // namespace

TEST_CASE("pad: PyTorch's values and gradients in every mode") {
  // torch 1.13: F.pad(x, pads, mode, value) of x = arange(12.).reshape(1, 3, 4) in float64
  const std::vector<PadCase> cases = {
      {"pad constant (1, 2, 0, 1) [1, 4, 7]",
       PadMode::Constant,
       {1, 2, 0, 1},
       -1.5,
       {1, 4, 7},
       false,
       {-1.5, 0.0, 1.0, 2.0,  3.0,  -1.5, -1.5, -1.5, 4.0,  5.0,  6.0,  7.0,  -1.5, -1.5,
        -1.5, 8.0, 9.0, 10.0, 11.0, -1.5, -1.5, -1.5, -1.5, -1.5, -1.5, -1.5, -1.5, -1.5},
       {1.0, 0.0, -1.0, 1.5, 1.0, 0.0, -1.0, 1.5, 1.0, 0.0, -1.0, 1.5}},
      {"pad constant (-1, 1, 1, -1) [1, 3, 4]",
       PadMode::Constant,
       {-1, 1, 1, -1},
       -1.5,
       {1, 3, 4},
       false,
       {-1.5, -1.5, -1.5, -1.5, 1.0, 2.0, 3.0, -1.5, 5.0, 6.0, 7.0, -1.5},
       {0.0, 1.5, 0.5, -0.5, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0}},
      {"pad reflect (2, 3, 1, 1) [1, 5, 9]",
       PadMode::Reflect,
       {2, 3, 1, 1},
       0,
       {1, 5, 9},
       false,
       {6.0, 5.0,  4.0,  5.0,  6.0, 7.0, 6.0, 5.0, 4.0, 2.0, 1.0, 0.0, 1.0,  2.0, 3.0,
        2.0, 1.0,  0.0,  6.0,  5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0, 4.0, 10.0, 9.0, 8.0,
        9.0, 10.0, 11.0, 10.0, 9.0, 8.0, 6.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0,  5.0, 4.0},
       {0.5, -0.5, 0.5, -1.5, 0.0, 1.5, 1.0, 0.0, -0.5, -2.0, -1.0, 1.5}},
      {"pad replicate (1, 2, 2, 0) [1, 5, 7]",
       PadMode::Replicate,
       {1, 2, 2, 0},
       0,
       {1, 5, 7},
       false,
       {0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0,  0.0,  0.0,  1.0, 2.0,
        3.0, 3.0, 3.0, 4.0, 4.0, 5.0, 6.0, 7.0, 7.0, 7.0, 8.0, 8.0, 9.0, 10.0, 11.0, 11.0, 11.0},
       {-1.5, 0.0, -3.0, 4.5, -0.5, 0.0, -1.0, 1.5, -0.5, 0.0, -1.0, 1.5}},
      {"pad circular (4, 1, 1, 2) [1, 1, 6, 9]",
       PadMode::Circular,
       {4, 1, 1, 2},
       0,
       {1, 1, 6, 9},
       true,
       {8.0, 9.0,  10.0, 11.0, 8.0, 9.0,  10.0, 11.0, 8.0, 0.0, 1.0, 2.0, 3.0, 0.0,
        1.0, 2.0,  3.0,  0.0,  4.0, 5.0,  6.0,  7.0,  4.0, 5.0, 6.0, 7.0, 4.0, 8.0,
        9.0, 10.0, 11.0, 8.0,  9.0, 10.0, 11.0, 8.0,  0.0, 1.0, 2.0, 3.0, 0.0, 1.0,
        2.0, 3.0,  0.0,  4.0,  5.0, 6.0,  7.0,  4.0,  5.0, 6.0, 7.0, 4.0},
       {0.0, -3.0, 0.0, 3.0, 2.0, 3.0, -1.0, -1.5, -2.0, 1.5, 1.0, -3.0}},
  };
  for (const PadCase& c : cases) {
    CAPTURE(c.torch_call);
    Tensor x = arange(12, kFloat64).reshape({1, 3, 4}).requires_grad_();
    const Tensor y = pad(c.batched ? x.unsqueeze(0) : x, c.pads, c.mode, c.value);
    REQUIRE(y.sizes() == c.shape);
    CHECK(values(y) == c.y);
    (y * hg::test::reference_upstream(y.sizes(), kFloat64)).sum().backward();
    CHECK(values(x.grad()) == c.grad);
  }
}

TEST_CASE("pad: any dims, dtypes, copies and gradcheck") {
  manual_seed(31);
  const Tensor x = hg::test::leaf({2, 3, 4});
  for (const PadMode mode :
       {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular}) {
    CAPTURE(static_cast<int>(mode));
    check_grad(
        [mode](const std::vector<Tensor>& in) {
          return pad(in[0], {1, 2, 2, 1, 1, 0}, mode);
        },
        {x});
  }
  // integers and bool pad with a constant; 16-bit values are moved, never rounded
  CHECK(values(pad(arange(3), {2, 1}, PadMode::Constant, 7)) ==
        std::vector<double>{7, 7, 0, 1, 2, 7});
  CHECK(values(pad(ones({2}, kBool), {1, 0})) == std::vector<double>{0, 1, 1});
  const Tensor h = from_vector<float>({0.1f, 65504.f, -3e-7f}).to(kFloat16);
  CHECK(hg::test::same_bits(pad(h, {0, 2}, PadMode::Reflect).slice(0, 0, 3), h));
  CHECK(pad(h, {1, 1}, PadMode::Constant, 2.5).dtype() == kFloat16);
  // always a new tensor: writing to a zero pad or a crop leaves x alone
  const Tensor source = ones({2, 3});
  pad(source, {0, 0}).fill_(5);
  pad(source, {-1, 0}).fill_(5);
  CHECK(values(source) == std::vector<double>(6, 1.0));
}

TEST_CASE("pad: errors name the mode, the pads and the input") {
  const Tensor x = zeros({2, 3});
  expect_error([&] { pad(x, {1}); }, {"pad", "{1}", "[2, 3]", "pairs"});
  expect_error([&] { pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "at most 2 dims"});
  expect_error(
      [&] {
        pad(x, {3, 0}, PadMode::Reflect);
      },
      {"reflect pad {3, 0}", "smaller than the dim"});
  expect_error(
      [&] {
        pad(x, {4, 0}, PadMode::Circular);
      },
      {"circular pad", "no larger than the dim"});
  expect_error([&] { pad(x, {-1, 0}, PadMode::Replicate); }, {"replicate pad", ">= 0"});
  expect_error([&] { pad(x, {-2, -2}); }, {"cropping more than the dim holds", "{-2, -2}"});
  expect_error([&] { pad(x, {-4, 5}); }, {"cropping more than the dim holds", "{-4, 5}"});
  CHECK(pad(x, {-1, -2}).sizes() == Shape{2, 0});
  expect_error([&] { pad(x, {1, 1}, PadMode::Reflect, 2.0); }, {"only for constant mode"});
  expect_error([&] { pad(arange(3), {1, 1}, PadMode::Reflect); }, {"floating-point", "int64"});
  expect_error([&] { pad(zeros({2}, kFloat16), {1, 1}, PadMode::Constant, 1e6); }, {"pad"});
}

TEST_CASE("interpolate: PyTorch's values and gradients, nearest and bilinear") {
  // torch 1.13: F.interpolate(x, ...) of x = (sin(arange(15.) * 0.7) * 3).reshape(1, 1, 3, 5)
  // in float32, x's values as torch computed them
  const std::vector<float> x_values = {0.0,
                                       1.9326529502868652,
                                       2.9563491344451904,
                                       2.589628219604492,
                                       1.0049645900726318,
                                       -1.0523496866226196,
                                       -2.614727020263672,
                                       -2.947357654571533,
                                       -1.893800139427185,
                                       0.050440847873687744,
                                       1.9709597826004028,
                                       2.9645044803619385,
                                       2.5637974739074707,
                                       0.9572967290878296,
                                       -1.099437952041626};
  const std::vector<InterpolateCase> cases = {
      {"interp {'scale_factor': 1.5, 'mode': 'nearest'}",
       InterpolateOptions().scale_factor(1.5),
       {1, 1, 4, 7},
       // clang-format off
       {0.0, 0.0, 1.9326529502868652, 2.9563491344451904, 2.9563491344451904, 2.589628219604492,
        1.0049645900726318, 0.0, 0.0, 1.9326529502868652, 2.9563491344451904, 2.9563491344451904,
        2.589628219604492, 1.0049645900726318, -1.0523496866226196, -1.0523496866226196,
        -2.614727020263672, -2.947357654571533, -2.947357654571533, -1.893800139427185,
        0.050440847873687744, 1.9709597826004028, 1.9709597826004028, 2.9645044803619385,
        2.5637974739074707, 2.5637974739074707, 0.9572967290878296, -1.099437952041626},
       // clang-format on
       {-1.0, 0.0, 1.0, 1.0, -1.0, -0.5, 0.0, 0.5, 0.5, -0.5, -0.5, 0.0, 0.5, 0.5, -0.5}},
      {"interp {'scale_factor': (0.5, 0.4), 'mode': 'nearest'}",
       InterpolateOptions().scale_factor({0.5, 0.4}),
       {1, 1, 1, 2},
       {0.0, 2.9563491344451904},
       {-1.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}},
      {"interp {'size': (4, 3), 'mode': 'bilinear', 'align_corners': False}",
       InterpolateOptions().size({4, 3}).mode(InterpolateMode::Bilinear),
       {1, 1, 4, 3},
       {0.6442176103591919, 2.9563491344451904, 1.5331859588623047, -0.7416322231292725,
        -0.7334675788879395, 0.2014199048280716, -0.1199108138680458, -0.880674421787262,
        -0.5287221670150757, 2.3021414279937744, 2.5637974739074707, -0.4138595461845398},
       {-1.25, -0.6249998211860657, 1.5624998807907104, 0.0625000149011612, 0.1249999850988388,
        -0.625, -0.3124999701976776, -2.9802322387695312e-08, 0.31250011920928955,
        0.6249998807907104, -0.125, -0.06250008940696716, -1.5624998807907104, 0.6250001192092896,
        1.2499998807907104}},
      {"interp {'size': (5, 8), 'mode': 'bilinear', 'align_corners': True}",
       InterpolateOptions().size({5, 8}).mode(InterpolateMode::Bilinear).align_corners(true),
       {1, 1, 5, 8},
       // clang-format off
       {0.0, 1.1043732166290283, 2.078895330429077, 2.6638646125793457, 2.851571798324585,
        2.642016887664795, 1.9104864597320557, 1.0049645900726318, -0.5261748433113098,
        -0.4203818142414093, -0.2916751801967621, -0.0942278802394867, 0.10261528939008713,
        0.2988543212413788, 0.42496636509895325, 0.5277026891708374, -1.0523496866226196,
        -1.9451367855072021, -2.662245750427246, -2.852320432662964, -2.64634108543396,
        -2.0443081855773926, -1.0605536699295044, 0.050440847873687744, 0.4593050479888916,
        0.29678142070770264, 0.12250745296478271, -0.08701759576797485, -0.2707720100879669,
        -0.4287557899951935, -0.4923574924468994, -0.5244985818862915, 1.9709597826004028,
        2.5386996269226074, 2.9072606563568115, 2.6782851219177246, 2.104797124862671,
        1.1867966651916504, 0.07583869248628616, -1.099437952041626},
       // clang-format on
       {-0.5714285373687744, 0.07142864167690277, 1.035714030265808, 3.8743019104003906e-07,
        -1.5357143878936768, -0.1071428507566452, 1.2142856121063232, 3.8743019104003906e-07,
        -1.2142860889434814, 0.10714292526245117, 1.5357142686843872, 2.086162567138672e-07,
        -1.0357145071029663, -0.07142829895019531, 0.5714284181594849}},
      {"interp {'scale_factor': 1.7, 'mode': 'bilinear', 'align_corners': False}",
       InterpolateOptions().scale_factor(1.7).mode(InterpolateMode::Bilinear),
       {1, 1, 5, 8},
       // clang-format off
       {0.0, 0.7389556169509888, 1.8758103847503662, 2.504718542098999, 2.9024195671081543,
        2.6867012977600098, 2.0769426822662354, 1.1447875499725342, -0.40236902236938477,
        -0.17436517775058746, 0.17641007900238037, 0.47621089220046997, 0.7249796390533447,
        0.828701376914978, 0.7992247939109802, 0.6607680916786194, -1.0213983058929443,
        -1.5794742107391357, -2.438052177429199, -2.6445703506469727, -2.6249277591705322,
        -2.0297603607177734, -1.1664949655532837, -0.08387737721204758, 0.6371469497680664,
        0.5858857035636902, 0.5070223212242126, 0.2959381639957428, 0.06873723119497299,
        -0.18593670427799225, -0.3948807120323181, -0.5664092898368835, 1.9709597826004028,
        2.350844621658325, 2.9352827072143555, 2.740579843521118, 2.327547073364258,
        1.3825467824935913, 0.291882187128067, -0.9179616570472717},
       // clang-format on
       {-0.29974040389060974, -0.21150533854961395, 1.5363318920135498, -0.6509508490562439,
        -1.25648832321167, -0.21150538325309753, 1.507785677909851, -0.666089653968811,
        -0.7638413310050964, 0.07482713460922241, 1.7612457275390625, -0.48745661973953247,
        -0.7084777355194092, -0.15873689949512482, 0.5346019268035889}},
  };
  for (const InterpolateCase& c : cases) {
    CAPTURE(c.torch_call);
    Tensor x = from_vector(x_values, {1, 1, 3, 5}).requires_grad_();
    const Tensor y = interpolate(x, c.options);
    REQUIRE(y.sizes() == c.shape);
    // nearest copies (exact); torch's own bilinear varies in the last bit between its vector
    // and scalar paths
    expect_close(values(y), c.y, 1e-6, 1e-6);
    (y * hg::test::reference_upstream(y.sizes(), kFloat32)).sum().backward();
    expect_close(values(x.grad()), c.grad, 1e-6, 1e-6);
  }
}

TEST_CASE("interpolate: gradcheck, identity, dtypes") {
  manual_seed(32);
  const Tensor x = hg::test::leaf({2, 2, 3, 4});
  const std::vector<InterpolateOptions> options = {
      InterpolateOptions().size({5, 7}), InterpolateOptions().scale_factor({2, 0.5}),
      InterpolateOptions().size({7, 5}).mode(InterpolateMode::Bilinear),
      InterpolateOptions().size({2, 6}).mode(InterpolateMode::Bilinear).align_corners(true),
      InterpolateOptions().scale_factor(1.3).mode(InterpolateMode::Bilinear)};
  for (const InterpolateOptions& o : options)
    check_grad([&o](const std::vector<Tensor>& in) { return interpolate(in[0], o); }, {x});
  // the same size is a copy with nearest and with bilinear (weights 1 and 0)
  const Tensor x32 = randn({1, 2, 3, 4});
  CHECK(hg::test::same_bits(interpolate(x32, InterpolateOptions().size({3, 4})), x32));
  CHECK(hg::test::same_bits(
      interpolate(x32, InterpolateOptions().size({3, 4}).mode(InterpolateMode::Bilinear)), x32));
  // integer 2x nearest repeats each pixel in a 2x2 block, for any dtype
  const Tensor image = arange(4).reshape({1, 1, 2, 2}).to(kUInt8);
  const Tensor up = interpolate(image, InterpolateOptions().scale_factor(2));
  CHECK(up.dtype() == kUInt8);
  CHECK(values(up) == std::vector<double>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
  // 16-bit bilinear blends in float and rounds once
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const InterpolateOptions o = InterpolateOptions().size({5, 6}).mode(InterpolateMode::Bilinear);
    const Tensor x16 = x32.to(dtype);
    CHECK(hg::test::same_bits(interpolate(x16, o), interpolate(x16.to(kFloat32), o).to(dtype)));
  }
}

TEST_CASE("interpolate: errors name the options and the input") {
  const Tensor x = zeros({1, 2, 3, 4});
  expect_error(
      [&] {
        interpolate(zeros({2, 3, 4}), InterpolateOptions().size({2, 2}));
      },
      {"interpolate", "[N, C, H, W]", "[2, 3, 4]"});
  expect_error([&] { interpolate(x, InterpolateOptions()); }, {"interpolate", "neither"});
  expect_error(
      [&] {
        interpolate(x, InterpolateOptions().size({2, 2}).scale_factor(2));
      },
      {"both"});
  expect_error([&] { interpolate(x, InterpolateOptions().size({0, 2})); }, {"(0, 2)", "positive"});
  expect_error([&] { interpolate(x, InterpolateOptions().scale_factor(0.2)); },
               {"scale_factor 0.2", "empty output", "[1, 2, 3, 4]"});
  expect_error([&] { interpolate(x, InterpolateOptions().scale_factor(1e300)); },
               {"scale_factor 1e+300", "elements along a dim"});
  expect_error([&] { interpolate(x, InterpolateOptions().scale_factor(2).align_corners(true)); },
               {"align_corners", "nearest"});
  expect_error(
      [&] {
        interpolate(arange(4).reshape({1, 1, 2, 2}),
                    InterpolateOptions().scale_factor(2).mode(InterpolateMode::Bilinear));
      },
      {"bilinear", "int64"});
}
