// Adagrad against torch.optim.Adagrad: reference steps, both code paths, the per-parameter step
// count behind lr_decay, 16-bit parameters with master weights, state_dict round trips,
// step_scaled, steps gated on the device and option checks.
//
// The reference values come from PyTorch 1.13 and the script at the top of test_rmsprop.cpp,
// run as `/usr/bin/python3 script.py adagrad`.
#include <cmath>

#include "optim_util.h"

using namespace hg;
using hg::optim::Adagrad;
using hg::optim::AdagradOptions;
using hg::test::expect_error;
using hg::test::row;
using hg::test::same_bits;
using hg::test::values;

namespace {

// clang-format off
// Adagrad(lr=0.1), float64
constexpr double kAdagradPlainF64[6][6] = {
    {0.4000000000155227, -1.3499999999926684, 2.099999999968303, -0.6500000000040254, 1.5999999999910843, 3.5999259129226857e-12},
    {0.31629857692475627, -1.3925369498371845, 2.1978960188061984, -0.5857909102876714, 1.5359842953197493, -0.07829615833119753},
    {0.2571699335681757, -1.3678877946255312, 2.277009222006961, -0.5647181765733671, 1.4491907766578607, -0.12818326223105042},
    {0.23480494881615147, -1.3059318262152892, 2.329172510081663, -0.593919985265943, 1.3781391016736997, -0.1366073076817239},
    {0.25760748128186106, -1.245715028654501, 2.3413769560447784, -0.6483148159736553, 1.3351511147374193, -0.10205203567129327},
    {0.3069020483758786, -1.2064849610867903, 2.309949841438956, -0.6989396903923909, 1.333544849940123, -0.05012331275252182}};
// Adagrad(lr=0.1), float32
constexpr double kAdagradPlainF32[6][6] = {
    {0.4000000059604645, -1.350000023841858, 2.0999999046325684, -0.6499999761581421, 1.600000023841858, 0.0},
    {0.31629857420921326, -1.392536997795105, 2.1978960037231445, -0.5857908725738525, 1.5359842777252197, -0.07829615473747253},
    {0.2571699321269989, -1.3678878545761108, 2.2770092487335205, -0.5647181272506714, 1.4491907358169556, -0.1281832605600357},
    {0.2348049432039261, -1.3059319257736206, 2.3291726112365723, -0.5939199328422546, 1.3781390190124512, -0.1366073042154312},
    {0.25760746002197266, -1.2457151412963867, 2.341377019882202, -0.6483147740364075, 1.3351510763168335, -0.10205203294754028},
    {0.3069020211696625, -1.2064850330352783, 2.3099498748779297, -0.6989396810531616, 1.3335448503494263, -0.05012330785393715}};
// Adagrad(lr=0.2, lr_decay=0.3, eps=1e-6), float64
constexpr double kAdagradLrDecayF64[6][6] = {
    {0.3000003104534328, -1.4499998533667364, 2.199999366069504, -0.5500000805078759, 1.699999821688238, -0.09999992800158686},
    {0.17122899967767796, -1.5154412712479572, 2.3506085284197797, -0.4512168960409125, 1.6015141896434246, -0.22045552923679357},
    {0.09731824610475115, -1.4846298470449184, 2.4494999933035495, -0.4248759868434647, 1.4930223282204336, -0.2828143970099744},
    {0.07377617260804399, -1.4194130711080482, 2.5044086990622763, -0.45561472396780295, 1.4182311092972102, -0.2916818115591087},
    {0.09450573410303578, -1.3646705499295009, 2.5155036462215348, -0.5050645580949991, 1.3791511296191679, -0.26026793361370576},
    {0.13394136547648863, -1.3332865075077933, 2.490361962531513, -0.545564449175021, 1.377866118059008, -0.2187249617210843}};
// Adagrad(lr=0.2, lr_decay=0.3, eps=1e-6), float32
constexpr double kAdagradLrDecayF32[6][6] = {
    {0.30000030994415283, -1.4499998092651367, 2.1999993324279785, -0.5500000715255737, 1.6999998092651367, -0.09999994188547134},
    {0.17122898995876312, -1.5154411792755127, 2.3506085872650146, -0.4512168765068054, 1.6015141010284424, -0.22045555710792542},
    {0.09731823951005936, -1.48462975025177, 2.44950008392334, -0.42487597465515137, 1.4930222034454346, -0.2828144133090973},
    {0.07377617061138153, -1.4194129705429077, 2.504408836364746, -0.45561471581459045, 1.4182310104370117, -0.29168182611465454},
    {0.09450572729110718, -1.3646703958511353, 2.5155038833618164, -0.5050645470619202, 1.3791509866714478, -0.2602679431438446},
    {0.13394135236740112, -1.3332864046096802, 2.4903621673583984, -0.5455644130706787, 1.3778660297393799, -0.21872496604919434}};
// Adagrad(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.2), float64
constexpr double kAdagradAccumulatorF64[6][6] = {
    {0.42750490547452086, -1.33442678622972, 1.9881330729901314, -0.653419045111272, 1.5757954850349938, 0.0030484225913374047},
    {0.35531447093105994, -1.3617105499107196, 2.0724317255825557, -0.5904408931926265, 1.500252424022734, -0.07407955731211499},
    {0.3020245172673449, -1.3185788846946502, 2.1491894034327372, -0.5677883482355488, 1.4137573264028669, -0.12318237665152523},
    {0.2800242538416814, -1.2485522138293172, 2.1967164906146643, -0.591973864400463, 1.3435422469117582, -0.13105394008379537},
    {0.2962098889694917, -1.1851905753182046, 2.1935224327278893, -0.6416817436867585, 1.2997128790131627, -0.09637497758265601},
    {0.33694501283249484, -1.1426079861210332, 2.141599488342224, -0.6889452236537728, 1.2932370103081385, -0.04461147921594825}};
// Adagrad(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.2), float32
constexpr double kAdagradAccumulatorF32[6][6] = {
    {0.42750489711761475, -1.334426760673523, 1.9881330728530884, -0.653419017791748, 1.5757955312728882, 0.003048419952392578},
    {0.3553144633769989, -1.361710548400879, 2.072431802749634, -0.5904408693313599, 1.5002524852752686, -0.07407956570386887},
    {0.3020245134830475, -1.318578839302063, 2.1491894721984863, -0.567788302898407, 1.41375732421875, -0.12318238615989685},
    {0.2800242602825165, -1.2485522031784058, 2.196716547012329, -0.5919738411903381, 1.343542218208313, -0.13105395436286926},
    {0.2962099015712738, -1.1851905584335327, 2.1935224533081055, -0.6416817307472229, 1.299712896347046, -0.0963749885559082},
    {0.3369450271129608, -1.1426079273223877, 2.141599416732788, -0.6889452338218689, 1.2932369709014893, -0.04461149126291275}};
// Adagrad(lr=0.3, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1), float64
constexpr double kAdagradAllF64[6][6] = {
    {0.23029356517801863, -1.5421097196844975, 2.2048232787741444, -0.4523871633509303, 1.7884538951792117, -0.198076148645044},
    {-0.00035411779813449007, -1.6595239269021556, 2.479219421671337, -0.26988582726245336, 1.6062896131057416, -0.4211403544667339},
    {-0.15757108718481386, -1.590236017222785, 2.6936038979053163, -0.21260803827353167, 1.3705666729080068, -0.5567942480296308},
    {-0.21426737505642224, -1.428540542455887, 2.8285423697137806, -0.28813891913972306, 1.1857518325677472, -0.5784626855032046},
    {-0.15821758016609583, -1.278278522226505, 2.8569722438329306, -0.42338713870967515, 1.0784190370561717, -0.4919363877471096},
    {-0.04180347871281555, -1.1840761833045892, 2.7788830382279235, -0.5443529499159838, 1.0740365905337306, -0.36730451510822837}};
// Adagrad(lr=0.3, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1), float32
constexpr double kAdagradAllF32[6][6] = {
    {0.23029354214668274, -1.542109727859497, 2.2048232555389404, -0.45238715410232544, 1.7884539365768433, -0.19807615876197815},
    {-0.00035415589809417725, -1.6595239639282227, 2.479219436645508, -0.2698858380317688, 1.6062896251678467, -0.4211403727531433},
    {-0.15757113695144653, -1.5902360677719116, 2.693603992462158, -0.21260803937911987, 1.3705666065216064, -0.556794285774231},
    {-0.21426741778850555, -1.428540587425232, 2.828542470932007, -0.2881389260292053, 1.1857517957687378, -0.5784627199172974},
    {-0.1582176238298416, -1.2782785892486572, 2.8569724559783936, -0.42338716983795166, 1.0784189701080322, -0.49193641543388367},
    {-0.041803523898124695, -1.184076189994812, 2.778883218765259, -0.5443530082702637, 1.0740364789962769, -0.36730456352233887}};
// clang-format on

const AdagradOptions kAdagradCombos[] = {
    AdagradOptions(0.1),
    AdagradOptions(0.05).lr_decay(0.1).eps(1e-6),
    AdagradOptions(0.2).initial_accumulator_value(0.3).weight_decay(0.05),
};

}  // namespace

TEST_CASE("Adagrad: steps match torch.optim.Adagrad") {
  hg::test::check_reference_ulp<Adagrad>(AdagradOptions(0.1), kAdagradPlainF64, kAdagradPlainF32);
}

TEST_CASE("Adagrad: lr_decay (by the parameter's step count) and eps match PyTorch") {
  hg::test::check_reference_ulp<Adagrad>(AdagradOptions(0.2).lr_decay(0.3).eps(1e-6),
                                         kAdagradLrDecayF64, kAdagradLrDecayF32);
}

TEST_CASE("Adagrad: initial_accumulator_value and weight decay match PyTorch") {
  hg::test::check_reference_ulp<Adagrad>(
      AdagradOptions(0.1).initial_accumulator_value(0.5).weight_decay(0.2), kAdagradAccumulatorF64,
      kAdagradAccumulatorF32);
  hg::test::check_reference_ulp<Adagrad>(
      AdagradOptions(0.3).lr_decay(0.05).weight_decay(0.01).initial_accumulator_value(0.1),
      kAdagradAllF64, kAdagradAllF32);
}

TEST_CASE("Adagrad: defaults and the sum buffer as in PyTorch") {
  const AdagradOptions o;
  CHECK(o.lr() == 1e-2);
  CHECK(o.lr_decay() == 0.0);
  CHECK(o.weight_decay() == 0.0);
  CHECK(o.initial_accumulator_value() == 0.0);
  CHECK(o.eps() == 1e-10);
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(d);
    Tensor w = ones({3}, d).requires_grad_();
    Adagrad opt({w}, AdagradOptions(0.1).initial_accumulator_value(0.75));
    CHECK(opt.state(w) == nullptr);  // made by the first update (PyTorch: by the constructor)
    w.set_grad(full({3}, 0.5, d));
    opt.step();
    const optim::ParamState* st = opt.state(w);
    REQUIRE(st != nullptr);
    CHECK(st->step == 1);
    CHECK(st->buffers.size() == 1);
    const Tensor& sum = st->buffers.at("sum");
    CHECK(sum.dtype() == (d == kFloat64 ? kFloat64 : kFloat32));
    CHECK(values(sum) == std::vector<double>(3, 1.0));  // 0.75 + 0.5^2
    CHECK(values(w)[0] == doctest::Approx(0.95).epsilon(d == kFloat64 ? 1e-9 : 4e-3));
    CHECK(w.dtype() == d);
  }
}

TEST_CASE("Adagrad: each parameter decays its lr by its own step count") {
  // b gets no gradient in the first step: its first update uses lr, not lr / (1 + lr_decay).
  const std::vector<Tensor> grads = hg::test::seeded_grads(8, 4, kFloat64, 22);
  const AdagradOptions o = AdagradOptions(0.1).lr_decay(0.5);
  Tensor a = zeros({8}, kFloat64).requires_grad_();
  Tensor b = zeros({8}, kFloat64).requires_grad_();
  Adagrad opt({a, b}, o);
  a.set_grad(grads[0]);
  opt.step();
  for (int t = 1; t < 4; ++t) {
    a.set_grad(grads[t]);
    b.set_grad(grads[t]);
    opt.step();
  }
  CHECK(opt.state(a)->step == 4);
  CHECK(opt.state(b)->step == 3);
  const std::vector<Tensor> late(grads.begin() + 1, grads.end());
  CHECK(same_bits(b, hg::test::run_steps<Adagrad>(zeros({8}, kFloat64), late, o, true)));
  CHECK(same_bits(a, hg::test::run_steps<Adagrad>(zeros({8}, kFloat64), grads, o, true)));
}

TEST_CASE("Adagrad: the tensor-op path matches the CPU loops bit for bit") {
  hg::test::check_tensor_path_matches_loops<Adagrad>(kAdagradCombos, 22);
}

TEST_CASE("Adagrad: 16-bit parameters with master weights follow the fp32 run exactly") {
  hg::test::check_masters_follow_fp32<Adagrad>(kAdagradCombos, 22);
}

TEST_CASE("Adagrad: step_scaled(s) equals step on the unscaled gradients") {
  hg::test::check_step_scaled<Adagrad>(kAdagradCombos, 22);
}

TEST_CASE("Adagrad: a state_dict round trip continues bit for bit (step counts included)") {
  for (DType dtype : {kFloat32, kFloat64, kBFloat16}) {
    CAPTURE(dtype);
    const bool masters = dtype == kBFloat16;
    const Tensor init = hg::test::seeded_grads(33, 1, kFloat32, 22)[0].to(dtype);
    const std::vector<Tensor> grads = hg::test::seeded_grads(33, 6, dtype, 22);
    const AdagradOptions o =
        AdagradOptions(0.1).lr_decay(0.2).initial_accumulator_value(0.1).weight_decay(0.01);
    Tensor a = init.clone().requires_grad_();
    Adagrad opt_a({a}, o);
    opt_a.set_master_weights(masters);
    for (int t = 0; t < 3; ++t) {
      a.set_grad(grads[t]);
      opt_a.step();
    }
    const optim::OptimizerStateDict saved = opt_a.state_dict();
    CHECK(saved.tensors.count("state.0.sum") == 1);
    CHECK(saved.scalars.at("state.0.step") == 3.0);
    CHECK(saved.scalars.at("param_groups.0.lr_decay") == 0.2);
    CHECK(saved.scalars.at("param_groups.0.initial_accumulator_value") == 0.1);
    Tensor b = a.detach().clone().requires_grad_();
    Adagrad opt_b({b});  // the options come from the state dict
    opt_b.set_master_weights(masters);
    opt_b.load_state_dict(saved);
    CHECK(opt_b.param_groups()[0].options_as<AdagradOptions>().lr_decay() == 0.2);
    for (int t = 3; t < 6; ++t) {
      a.set_grad(grads[t]);
      b.set_grad(grads[t]);
      opt_a.step();
      opt_b.step();
    }
    CHECK(same_bits(a, b));
    if (masters) CHECK(same_bits(opt_a.master_weight(a), opt_b.master_weight(b)));
    CHECK(opt_b.state(b)->step == 6);
  }
}

// On the CPU a gated step takes the fused kernel's CPU column (kernels/cpu/amp.cpp), which
// tests the flag and forms the step number from the device's count of applied steps.
TEST_CASE("Adagrad: step_unless_found_inf decides on the device, a skipped step not decaying") {
  Tensor w = zeros({4}).requires_grad_();
  Adagrad opt({w}, AdagradOptions(0.1).lr_decay(1.0));
  for (const float found : {1.0f, 0.0f, 1.0f, 0.0f}) {
    w.set_grad(ones({4}));
    CHECK(opt.step_unless_found_inf(full({1}, found)) == optim::GatedStep::OnDevice);
  }
  CHECK(opt.host_readbacks() == 0);
  CHECK(opt.state(w)->step == 2);  // settles: one readback
  CHECK(opt.host_readbacks() == 1);
  // step 1 with lr 0.1, step 2 with lr 0.1 / (1 + 1.0) on the sum 2
  const float first = -0.1f * 1.0f / (1.0f + 1e-10f);
  const float second = first + -0.05f * 1.0f / (std::sqrt(2.0f) + 1e-10f);
  CHECK(values(w)[0] == static_cast<double>(second));
  CHECK(values(opt.state(w)->buffers.at("sum"))[0] == 2.0);
}

TEST_CASE("Adagrad: bad options raise hg::Error naming the option and its value") {
  Tensor w = zeros({3}).requires_grad_();
  expect_error([&] { Adagrad({w}, AdagradOptions(-0.01)); }, {"Adagrad", "lr", "-0.01"});
  expect_error([&] { Adagrad({w}, AdagradOptions().lr_decay(-1)); },
               {"Adagrad", "lr_decay", "-1", ">= 0"});
  expect_error([&] { Adagrad({w}, AdagradOptions().weight_decay(NAN)); },
               {"Adagrad", "weight_decay", "nan", "finite"});
  expect_error([&] { Adagrad({w}, AdagradOptions().initial_accumulator_value(-0.5)); },
               {"Adagrad", "initial_accumulator_value", "-0.5"});
  expect_error([&] { Adagrad({w}, AdagradOptions().eps(INFINITY)); }, {"Adagrad", "eps", "inf"});
  Adagrad opt({w});
  // An option made invalid after construction is caught by the next step, before any update.
  opt.param_groups()[0].options_as<AdagradOptions>().lr_decay(-0.25);
  w.set_grad(ones({3}));
  expect_error([&] { opt.step(); }, {"Adagrad", "lr_decay", "-0.25"});
  CHECK(values(w) == std::vector<double>(3, 0.0));
  CHECK(opt.state(w) == nullptr);
}
