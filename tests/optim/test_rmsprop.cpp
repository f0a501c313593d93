// RMSprop against torch.optim.RMSprop: reference steps, both code paths, 16-bit parameters with
// master weights, state_dict and Checkpoint round trips, step_scaled, steps gated on the device
// and option checks.
#include "optim_util.h"

using namespace hg;
using hg::optim::RMSprop;
using hg::optim::RMSpropOptions;
using hg::test::expect_error;
using hg::test::row;
using hg::test::same_bits;
using hg::test::values;

// The reference values below come from PyTorch 1.13 (Debian's python3-torch, CPU) and this
// script, run as `/usr/bin/python3 script.py rmsprop` (test_adagrad.cpp: `... adagrad`); its
// inputs are those of tools/reference/optim_reference.py (kInit, kGrads in optim_reference.h).
//
//   import math, sys
//   import torch
//   INIT = [0.5, -1.25, 2.0, -0.75, 1.5, 0.1]
//   GRADS = [[round(math.sin(0.7 * (t + 1) + 1.3 * j) * (1.0 + 0.5 * j), 6) for j in range(6)]
//            for t in range(6)]
//   CASES = {"rmsprop": [
//       ("RmsPlain", "RMSprop(lr=0.01)"),
//       ("RmsMomentum", "RMSprop(lr=0.01, alpha=0.9, momentum=0.8)"),
//       ("RmsCentered", "RMSprop(lr=0.02, centered=True, eps=1e-6)"),
//       ("RmsAll", "RMSprop(lr=0.005, alpha=0.95, momentum=0.7, centered=True, "
//                  "weight_decay=0.1)")],
//     "adagrad": [
//       ("AdagradPlain", "Adagrad(lr=0.1)"),
//       ("AdagradLrDecay", "Adagrad(lr=0.2, lr_decay=0.3, eps=1e-6)"),
//       ("AdagradAccumulator", "Adagrad(lr=0.1, initial_accumulator_value=0.5, "
//                              "weight_decay=0.2)"),
//       ("AdagradAll", "Adagrad(lr=0.3, lr_decay=0.05, weight_decay=0.01, "
//                      "initial_accumulator_value=0.1)")]}
//   for name, ctor in CASES[sys.argv[1]]:
//       for dtype, suffix in ((torch.float64, "F64"), (torch.float32, "F32")):
//           p = torch.tensor(INIT, dtype=dtype, requires_grad=True)
//           opt = eval("torch.optim." + ctor.replace("(", "([p], ", 1))
//           rows = []
//           for g in GRADS:
//               p.grad = torch.tensor(g, dtype=dtype)
//               opt.step()
//               rows.append("{" + ", ".join(repr(v) for v in p.detach().tolist()) + "}")
//           print(f"// {ctor}, {str(dtype)[6:]}")
//           print(f"constexpr double k{name}{suffix}[6][6] = {{\n    "
//                 + ",\n    ".join(rows) + "};")

namespace {

// clang-format off
// RMSprop(lr=0.01), float64
constexpr double kRmsPlainF64[6][6] = {
    {0.4000000155226934, -1.349999992668332, 2.0999999683033845, -0.6500000040253953, 1.5999999910844047, 3.5999218744864336e-09},
    {0.3161730134406252, -1.3927122188789924, 2.197916367637813, -0.5856013959041604, 1.5357945404664282, -0.07844808584688849},
    {0.25679351165123404, -1.367850730811959, 2.2771841046061985, -0.5643675665757351, 1.448830919362495, -0.1285963605141826},
    {0.23423103682304255, -1.305376060825559, 2.3296124579815576, -0.5939086215836709, 1.3775340066279604, -0.13710654360771318},
    {0.2573339896496737, -1.2446467120497955, 2.341938844529539, -0.6489388574480529, 1.3342486129767357, -0.10208654421521625},
    {0.3073061230486836, -1.2049668930756117, 2.3100855833209035, -0.7001913617612285, 1.332623092458557, -0.049459403824256}};
// RMSprop(lr=0.01), float32
constexpr double kRmsPlainF32[6][6] = {
    {0.40000003576278687, -1.350000023841858, 2.0999999046325684, -0.6499999761581421, 1.600000023841858, 7.450580596923828e-09},
    {0.3161730170249939, -1.3927122354507446, 2.197916269302368, -0.5856013894081116, 1.5357946157455444, -0.07844807952642441},
    {0.2567935287952423, -1.3678507804870605, 2.277184009552002, -0.5643675327301025, 1.4488309621810913, -0.12859636545181274},
    {0.23423105478286743, -1.3053760528564453, 2.3296122550964355, -0.5939086079597473, 1.377534031867981, -0.13710655272006989},
    {0.25733399391174316, -1.244646668434143, 2.3419387340545654, -0.6489388346672058, 1.334248661994934, -0.10208655148744583},
    {0.30730611085891724, -1.2049669027328491, 2.3100855350494385, -0.7001913189888, 1.3326231241226196, -0.049459412693977356}};
// RMSprop(lr=0.01, alpha=0.9, momentum=0.8), float64
constexpr double kRmsMomentumF64[6][6] = {
    {0.4683772249505857, -1.281622775868517, 2.0316227734320216, -0.7183772238008558, 1.5316227757101242, 0.0683772237583084},
    {0.41620491955128647, -1.3209595635869935, 2.087943081509028, -0.6721499741707895, 1.536052252818846, 0.017826156909042976},
    {0.3549457218888109, -1.3439081807380908, 2.158517232124047, -0.6279567889518389, 1.5116157905748586, -0.039255500271880475},
    {0.29819591281065677, -1.3409901491337972, 2.232347113435289, -0.6030033318602008, 1.468813447272177, -0.08788034819809504},
    {0.26104617071074393, -1.3179895209426824, 2.2956875945984976, -0.6023276016204019, 1.419995603995353, -0.1142582814622389},
    {0.24916687288151362, -1.2857226847138166, 2.334955241056488, -0.6198136054603406, 1.3803672516956216, -0.11664943618816513}};
// RMSprop(lr=0.01, alpha=0.9, momentum=0.8), float32
constexpr double kRmsMomentumF32[6][6] = {
    {0.4683772325515747, -1.2816227674484253, 2.031622886657715, -0.7183772325515747, 1.5316227674484253, 0.06837722659111023},
    {0.41620492935180664, -1.3209595680236816, 2.0879430770874023, -0.6721499562263489, 1.5360522270202637, 0.017826156690716743},
    {0.35494571924209595, -1.3439081907272339, 2.1585171222686768, -0.627956748008728, 1.5116157531738281, -0.03925550356507301},
    {0.29819589853286743, -1.3409901857376099, 2.232347011566162, -0.6030032634735107, 1.468813419342041, -0.08788035809993744},
    {0.2610461413860321, -1.3179895877838135, 2.295687437057495, -0.6023275256156921, 1.4199955463409424, -0.1142582967877388},
    {0.2491668462753296, -1.2857227325439453, 2.3349549770355225, -0.6198135018348694, 1.3803671598434448, -0.11664945632219315}};
// RMSprop(lr=0.02, centered=True, eps=1e-6), float64
constexpr double kRmsCenteredF64[6][6] = {
    {0.2989955727973636, -1.4510060819175934, 2.2010011598971846, -0.5489932501560626, 1.7010057619374657, -0.10100683579751327},
    {0.12972155024124105, -1.5371919224982307, 2.398213353080269, -0.4189057043832961, 1.5725863698207787, -0.25946667319596267},
    {0.009210812813311861, -1.4872033600996482, 2.5585850652705084, -0.3758989347835647, 1.3980858773770408, -0.3612587145854819},
    {-0.03672657202923617, -1.3622353969852345, 2.6651884262891485, -0.43541467288405294, 1.2543128733573674, -0.3785547355797121},
    {0.010068250159302294, -1.2406436506537746, 2.690300265244074, -0.5455869480661448, 1.1666418498536992, -0.3079087009506595},
    {0.11038677788025814, -1.1610130388633142, 2.625887679496903, -0.6481000436036, 1.1633490562569644, -0.20247730300979153}};
// RMSprop(lr=0.02, centered=True, eps=1e-6), float32
constexpr double kRmsCenteredF32[6][6] = {
    {0.29899558424949646, -1.4510060548782349, 2.2010011672973633, -0.5489932298660278, 1.7010058164596558, -0.10100682824850082},
    {0.12972156703472137, -1.5371918678283691, 2.3982133865356445, -0.41890567541122437, 1.5725864171981812, -0.25946664810180664},
    {0.009210832417011261, -1.4872033596038818, 2.5585851669311523, -0.37589889764785767, 1.3980859518051147, -0.36125868558883667},
    {-0.03672654926776886, -1.362235426902771, 2.6651885509490967, -0.4354146420955658, 1.2543129920959473, -0.37855470180511475},
    {0.010068267583847046, -1.2406437397003174, 2.690300464630127, -0.5455869436264038, 1.1666419506072998, -0.30790865421295166},
    {0.11038678884506226, -1.161013126373291, 2.625887870788574, -0.6481000185012817, 1.1633491516113281, -0.20247726142406464}};
// RMSprop(lr=0.005, alpha=0.95, momentum=0.7, centered=True, weight_decay=0.1), float64
constexpr double kRmsAllF64[6][6] = {
    {0.4770584281292276, -1.2729415725374376, 2.022941564272656, -0.727058427024252, 1.5229415723036894, 0.07705842699052373},
    {0.44134775912156093, -1.2981424543569575, 2.061958525102199, -0.6956245411116926, 1.5221361915243403, 0.042411877383077626},
    {0.40184312122511795, -1.3073236256445597, 2.1084592391580794, -0.6680757039016855, 1.5012797142667382, 0.0058184981139766286},
    {0.3681311450353718, -1.2978411762260404, 2.1537733095469846, -0.655319363852304, 1.4696893878188313, -0.021941839345933155},
    {0.3494777981621251, -1.2762760591550324, 2.1869539466565824, -0.6588469068449591, 1.4366848391206177, -0.032812900922052454},
    {0.3476480184769575, -1.2509735982241115, 2.199871193064625, -0.6730514157738711, 1.4124419898319616, -0.027976164848886136}};
// RMSprop(lr=0.005, alpha=0.95, momentum=0.7, centered=True, weight_decay=0.1), float32
constexpr double kRmsAllF32[6][6] = {
    {0.47705844044685364, -1.2729415893554688, 2.0229415893554688, -0.7270584106445312, 1.5229415893554688, 0.07705842703580856},
    {0.44134777784347534, -1.298142433166504, 2.0619585514068604, -0.6956245303153992, 1.5221362113952637, 0.04241187870502472},
    {0.4018431305885315, -1.3073235750198364, 2.108459234237671, -0.668075680732727, 1.5012797117233276, 0.0058185020461678505},
    {0.368131160736084, -1.2978410720825195, 2.153773307800293, -0.655319333076477, 1.4696893692016602, -0.021941831335425377},
    {0.3494778275489807, -1.2762759923934937, 2.1869540214538574, -0.6588468551635742, 1.4366848468780518, -0.03281288966536522},
    {0.3476480543613434, -1.2509735822677612, 2.199871301651001, -0.6730513572692871, 1.4124419689178467, -0.027976151555776596}};
// clang-format on

const RMSpropOptions kRmspropCombos[] = {
    RMSpropOptions(0.01),
    RMSpropOptions(0.01).momentum(0.9),
    RMSpropOptions(0.003).centered(true).alpha(0.9),
    RMSpropOptions(0.005).momentum(0.5).centered(true).weight_decay(0.02).eps(1e-5),
};

}  // namespace

TEST_CASE("RMSprop: steps match torch.optim.RMSprop") {
  hg::test::check_reference_ulp<RMSprop>(RMSpropOptions(0.01), kRmsPlainF64, kRmsPlainF32);
}

TEST_CASE("RMSprop: alpha and momentum match PyTorch") {
  hg::test::check_reference_ulp<RMSprop>(RMSpropOptions(0.01).alpha(0.9).momentum(0.8),
                                         kRmsMomentumF64, kRmsMomentumF32);
}

TEST_CASE("RMSprop: centered (the variance from grad_avg) and eps match PyTorch") {
  hg::test::check_reference_ulp<RMSprop>(RMSpropOptions(0.02).centered(true).eps(1e-6),
                                         kRmsCenteredF64, kRmsCenteredF32);
}

TEST_CASE("RMSprop: weight decay with momentum and centered matches PyTorch") {
  hg::test::check_reference_ulp<RMSprop>(
      RMSpropOptions(0.005).alpha(0.95).momentum(0.7).centered(true).weight_decay(0.1), kRmsAllF64,
      kRmsAllF32);
}

TEST_CASE("RMSprop: defaults and state buffers as in PyTorch") {
  const RMSpropOptions o;
  CHECK(o.lr() == 1e-2);
  CHECK(o.alpha() == 0.99);
  CHECK(o.eps() == 1e-8);
  CHECK(o.weight_decay() == 0.0);
  CHECK(o.momentum() == 0.0);
  CHECK(!o.centered());
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(d);
    Tensor plain = ones({3}, d).requires_grad_();
    Tensor all = ones({3}, d).requires_grad_();
    RMSprop opt({optim::ParamGroup({plain}),
                 optim::ParamGroup({all}, RMSpropOptions().momentum(0.9).centered(true))});
    plain.set_grad(full({3}, 0.5, d));
    all.set_grad(full({3}, 0.5, d));
    opt.step();
    REQUIRE(opt.state(plain) != nullptr);
    CHECK(opt.state(plain)->buffers.size() == 1);
    for (const char* name : {"square_avg", "momentum_buffer", "grad_avg"}) {
      REQUIRE(opt.state(all)->buffers.count(name) == 1);
      CHECK(opt.state(all)->buffers.at(name).dtype() == (d == kFloat64 ? kFloat64 : kFloat32));
    }
    const double keep = 1.0 - 0.99;  // (1 - alpha) * g * g, in the compute dtype
    CHECK(values(opt.state(plain)->buffers.at("square_avg"))[0] ==
          (d == kFloat64 ? keep * 0.5 * 0.5 : static_cast<double>(float(keep) * 0.5f * 0.5f)));
    // First step: w - lr * g / (sqrt(0.01 g^2) + eps) = 1 - 10 lr (up to eps).
    CHECK(values(plain)[0] == doctest::Approx(0.9).epsilon(d == kFloat64 ? 1e-6 : 4e-3));
    CHECK(plain.dtype() == d);
  }
}

TEST_CASE("RMSprop: the tensor-op path matches the CPU loops bit for bit") {
  hg::test::check_tensor_path_matches_loops<RMSprop>(kRmspropCombos, 21);
}

TEST_CASE("RMSprop: 16-bit parameters with master weights follow the fp32 run exactly") {
  hg::test::check_masters_follow_fp32<RMSprop>(kRmspropCombos, 21);
}

TEST_CASE("RMSprop: step_scaled(s) equals step on the unscaled gradients") {
  hg::test::check_step_scaled<RMSprop>(kRmspropCombos, 21);
}

TEST_CASE("RMSprop: a state_dict round trip continues bit for bit") {
  for (DType dtype : {kFloat32, kFloat64, kFloat16}) {
    CAPTURE(dtype);
    const bool masters = dtype == kFloat16;
    const Tensor init = hg::test::seeded_grads(33, 1, kFloat32, 21)[0].to(dtype);
    const std::vector<Tensor> grads = hg::test::seeded_grads(33, 6, dtype, 21);
    const RMSpropOptions o = RMSpropOptions(0.01).momentum(0.9).centered(true).weight_decay(0.01);
    Tensor a = init.clone().requires_grad_();
    RMSprop opt_a({a}, o);
    opt_a.set_master_weights(masters);
    for (int t = 0; t < 3; ++t) {
      a.set_grad(grads[t]);
      opt_a.step();
    }
    const optim::OptimizerStateDict saved = opt_a.state_dict();
    CHECK(saved.tensors.count("state.0.square_avg") == 1);
    CHECK(saved.tensors.count("state.0.grad_avg") == 1);
    CHECK(saved.tensors.count("state.0.momentum_buffer") == 1);
    CHECK(saved.scalars.at("param_groups.0.alpha") == 0.99);
    CHECK(saved.scalars.at("param_groups.0.centered") == 1.0);
    Tensor b = a.detach().clone().requires_grad_();
    RMSprop opt_b({b}, RMSpropOptions(0.5));  // the options come from the state dict
    opt_b.set_master_weights(masters);
    opt_b.load_state_dict(saved);
    CHECK(opt_b.param_groups()[0].options_as<RMSpropOptions>().momentum() == 0.9);
    for (int t = 3; t < 6; ++t) {
      a.set_grad(grads[t]);
      b.set_grad(grads[t]);
      opt_a.step();
      opt_b.step();
    }
    CHECK(same_bits(a, b));
    CHECK(opt_b.state(b)->step == 6);
  }
}

TEST_CASE("RMSprop: a train::Checkpoint saves and restores its state") {
  hg::test::TempDir dir;
  manual_seed(4);
  nn::Linear fc_a(3, 2), fc_b(3, 2);
  RMSprop opt_a(fc_a.parameters(), RMSpropOptions(0.01).momentum(0.9).centered(true));
  RMSprop opt_b(fc_b.parameters());
  const Tensor x = randn({5, 3});
  const auto train = [&](nn::Linear& fc, RMSprop& opt) {
    opt.zero_grad();
    sum(fc(x) * fc(x)).backward();
    opt.step();
  };
  for (int t = 0; t < 3; ++t) train(fc_a, opt_a);
  train::Checkpoint save;
  save.model(fc_a).optimizer(opt_a);
  save.save(dir.file("rmsprop.ckpt"));
  train::Checkpoint load;
  load.model(fc_b).optimizer(opt_b);
  load.load(dir.file("rmsprop.ckpt"));
  CHECK(same_bits(opt_a.state(fc_a.weight)->buffers.at("grad_avg"),
                  opt_b.state(fc_b.weight)->buffers.at("grad_avg")));
  for (int t = 0; t < 3; ++t) {
    train(fc_a, opt_a);
    train(fc_b, opt_b);
  }
  CHECK(same_bits(fc_a.weight, fc_b.weight));
  CHECK(same_bits(fc_a.bias, fc_b.bias));
}

// On the CPU a gated step takes the fused kernel's CPU column (kernels/cpu/amp.cpp), which
// tests the flag itself: the same bits as the loops, the skipped step's buffers dropped.
TEST_CASE("RMSprop: step_unless_found_inf decides on the device, as the loops would") {
  const std::vector<Tensor> grads = hg::test::seeded_grads(16, 3, kFloat32, 21);
  const RMSpropOptions o = RMSpropOptions(0.1).momentum(0.9).centered(true).weight_decay(0.01);
  Tensor w = zeros({16}).requires_grad_();
  RMSprop opt({w}, o);
  w.set_grad(grads[0]);
  CHECK(opt.step_unless_found_inf(full({1}, 1.0)) == optim::GatedStep::OnDevice);
  CHECK(opt.host_readbacks() == 0);
  CHECK(opt.state(w) == nullptr);  // settles (a readback): the only step was skipped
  for (int t = 1; t < 3; ++t) {
    w.set_grad(grads[t]);
    CHECK(opt.step_unless_found_inf(zeros({1})) == optim::GatedStep::OnDevice);
  }
  CHECK(opt.steps_taken() == 2);
  CHECK(opt.host_readbacks() == 2);
  CHECK(same_bits(w, hg::test::run_steps<RMSprop>(zeros({16}), {grads[1], grads[2]}, o, true)));
}

TEST_CASE("RMSprop: bad options raise hg::Error naming the option and its value") {
  Tensor w = zeros({3}).requires_grad_();
  expect_error([&] { RMSprop({w}, RMSpropOptions(-0.1)); }, {"RMSprop", "lr", "-0.1"});
  expect_error([&] { RMSprop({w}, RMSpropOptions().alpha(1.5)); },
               {"RMSprop", "alpha", "1.5", "[0, 1]"});
  expect_error([&] { RMSprop({w}, RMSpropOptions().alpha(NAN)); }, {"RMSprop", "alpha", "nan"});
  expect_error([&] { RMSprop({w}, RMSpropOptions().eps(-1e-8)); }, {"RMSprop", "eps", "-1e-08"});
  expect_error([&] { RMSprop({w}, RMSpropOptions().weight_decay(INFINITY)); },
               {"RMSprop", "weight_decay", "inf", "finite"});
  expect_error([&] { RMSprop({w}, RMSpropOptions().momentum(-0.5)); },
               {"RMSprop", "momentum", "-0.5"});
  RMSprop opt({w});
  // An option made invalid after construction is caught by the next step, before any update.
  opt.param_groups()[0].options_as<RMSpropOptions>().alpha(-0.1);
  w.set_grad(ones({3}));
  expect_error([&] { opt.step(); }, {"RMSprop", "alpha", "-0.1"});
  CHECK(values(w) == std::vector<double>(3, 0.0));
  // A state dict of another optimizer lacks RMSprop's options.
  Tensor v = zeros({3}).requires_grad_();
  optim::SGD sgd({v}, optim::SGDOptions(0.1));
  expect_error([&] { opt.load_state_dict(sgd.state_dict()); },
               {"RMSprop.load_state_dict", "param_groups.0.alpha"});
}
