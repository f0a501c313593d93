// nn::LSTM and nn::GRU: PyTorch 1.13's outputs, final states and input gradients (two layers,
// bidirectional, given initial states), parameter names and initialisation, layouts, gradcheck,
// dropout between layers, autocast, printing, errors.
#include <cmath>
#include <string>
#include <vector>

#include "reference_parameters.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_values;
using hg::test::values;

namespace {

const std::vector<std::string> kTorchNames{
    "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
    "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
    "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};

std::vector<std::string> parameter_names(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("LSTM: PyTorch's output, final states and input gradient") {
  // torch 1.13: nn.LSTM(3, 2, num_layers=2, bidirectional=True), float64, the parameters of
  // reference_parameters.h, x [3, 2, 3], given (h_0, c_0); the loss weighs y, h_n and c_n
  nn::LSTM lstm(nn::LSTMOptions(3, 2).num_layers(2).bidirectional(true));
  lstm.to(kFloat64);
  CHECK(parameter_names(lstm) == kTorchNames);
  hg::test::load_reference_parameters(lstm);
  Tensor x = reference_values({3, 2, 3}, 5, 13, 6, 4.0).requires_grad_();
  const Tensor h0 = reference_values({4, 2, 2}, 7, 9, 4, 6.0);
  const Tensor c0 = reference_values({4, 2, 2}, 3, 11, 5, 6.0);
  const auto [y, state] = lstm.forward(x, std::make_tuple(h0, c0));
  const auto& [h, c] = state;
  const Tensor loss = (y * reference_values(y.sizes(), 5, 7, 3, 2.0)).sum() +
                      (h * reference_values(h.sizes(), 3, 5, 2, 2.0)).sum() +
                      (c * reference_values(c.sizes(), 2, 7, 3, 4.0)).sum();
  loss.backward();
  // clang-format off
  expect_close(values(y),
               {-0.26108520547602104, 0.013094198780839504, 0.20130657109406813, -0.2832394868215281,
                0.12842003852120568, -0.3219276827877091, 0.2716886153719339, -0.4587060225020104,
                -0.2655210703253496, 0.025229989658639936, 0.13782472157196454, -0.22610896269429837,
                0.006164094765983627, -0.22131774683736727, 0.2873802116472163, -0.4244653157079284,
                -0.2800743809099851, 0.028198509165135832, 0.005451086540203405, -0.10682750946108985,
                -0.06941850021795458, -0.17095336405667855, 0.2954070441674699, -0.3179388575091752},
               1e-13, 1e-13);
  expect_close(values(h),
               {0.20648706622813381, -0.07290982323262639, 0.5193789585437881, 0.02034485896178426,
                0.11865310642138924, 0.539684757362629, 0.0783942486457278, 0.2944024359502418,
                -0.2800743809099851, 0.028198509165135832, -0.06941850021795458, -0.17095336405667855,
                0.20130657109406813, -0.2832394868215281, 0.2716886153719339, -0.4587060225020104},
               1e-13, 1e-13);
  expect_close(values(c),
               {0.24818504998332447, -0.21719839559465814, 0.7036267791739381, 0.06215844119968578,
                0.22993364054069976, 0.9306726039898443, 0.23258875335346202, 0.5307750149301447,
                -0.4028365924886953, 0.05543527873627055, -0.09992788647120586, -0.37304665445628893,
                0.3268353852900372, -0.46817732530160705, 0.4833458223385943, -0.8776350100213277},
               1e-13, 1e-13);
  expect_close(values(x.grad()),
               {0.39275607183228317, 0.12387280749787281, 0.25805139134430133, 0.20362215221795252,
                0.29094732930803746, 0.19785073166195952, 0.13136893990456455, -0.031564091831227166,
                -0.03762524652550051, -0.016131759714886642, 0.1814612692727504, -0.06374177680884927,
                0.12582462544425357, 0.010079185920234698, -0.03875540383426722, 0.03358155185894339,
                0.1417573592946837, -0.00890622384820969},
               1e-13, 1e-13);
  // clang-format on
}

TEST_CASE("GRU: PyTorch's output, final state and input gradient") {
  // torch 1.13: nn.GRU(3, 2, num_layers=2, bidirectional=True), as the LSTM case, given h_0
  nn::GRU gru(nn::GRUOptions(3, 2).num_layers(2).bidirectional(true));
  gru.to(kFloat64);
  CHECK(parameter_names(gru) == kTorchNames);
  hg::test::load_reference_parameters(gru);
  Tensor x = reference_values({3, 2, 3}, 5, 13, 6, 4.0).requires_grad_();
  const auto [y, h] = gru.forward(x, reference_values({4, 2, 2}, 7, 9, 4, 6.0));
  ((y * reference_values(y.sizes(), 5, 7, 3, 2.0)).sum() +
   (h * reference_values(h.sizes(), 3, 5, 2, 2.0)).sum())
      .backward();
  // clang-format off
  expect_close(values(y),
               {-0.45464016819655584, -0.5382700604778765, 0.2615771367095754, -0.46563178309586545,
                0.07286230740405997, 0.1765082054989035, 0.5013196506709033, -0.005818988800400771,
                -0.5085830894453738, -0.4632219397785894, 0.16010390064696908, -0.48892957509255414,
                -0.18703277976292199, 0.12272091020987959, 0.5274483965305024, 0.0683301577201827,
                -0.5094156285142648, -0.38704165204050656, 0.043715345756753565, -0.490383180043011,
                -0.33479611310428486, 0.09718800742576457, 0.5868719104480425, 0.19172179121699345},
               1e-13, 1e-13);
  expect_close(values(h),
               {-0.044215125641052955, -0.14223095075805842, 0.34203371789928355, -0.13307967874844606,
                -0.1759991156479936, 0.9099894044479331, 0.1379860026544954, 0.6499093369778903,
                -0.5094156285142648, -0.38704165204050656, -0.33479611310428486, 0.09718800742576457,
                0.2615771367095754, -0.46563178309586545, 0.5013196506709033, -0.005818988800400771},
               1e-13, 1e-13);
  expect_close(values(x.grad()),
               {0.07519758352627122, 0.005488962903329807, 0.044829583049872404, 0.17946820148151477,
                0.3393021531358441, 0.1136944441781748, 0.027272803068866272, -0.013146490796952107,
                -0.010927857637426722, -0.035480982561619946, 0.2720811591318747, -0.09181324909295341,
                0.040584807741410614, -0.009634893979535767, 0.011978683207342375, 0.0447346803732282,
                0.0689541057402349, -0.012268164471270708},
               1e-13, 1e-13);
  // clang-format on
}

TEST_CASE("LSTM and GRU: gradcheck through input and initial state, layouts, zero states") {
  manual_seed(51);
  nn::LSTM lstm(nn::LSTMOptions(3, 4).num_layers(2));
  lstm.to(kFloat64);
  hg::test::check_grad(
      [&](const std::vector<Tensor>& in) {
        const auto [y, state] = lstm.forward(in[0], std::make_tuple(in[1], in[2]));
        return y.sum() + std::get<1>(state).sum();
      },
      {hg::test::leaf({4, 2, 3}), hg::test::leaf({2, 2, 4}), hg::test::leaf({2, 2, 4})});
  nn::GRU gru(nn::GRUOptions(3, 4).bidirectional(true));
  gru.to(kFloat64);
  hg::test::check_grad(
      [&](const std::vector<Tensor>& in) { return std::get<0>(gru.forward(in[0], in[1])); },
      {hg::test::leaf({4, 2, 3}), hg::test::leaf({2, 2, 4})});
  // no initial state = zeros; batch_first and unbatched are the same computation
  const Tensor x = randn({5, 3, 3}, kFloat64);
  const auto [y, h] = gru.forward(x);
  CHECK(y.sizes() == Shape{5, 3, 8});
  CHECK(h.sizes() == Shape{2, 3, 4});
  expect_close(values(y), values(std::get<0>(gru.forward(x, zeros({2, 3, 4}, kFloat64)))), 0, 0);
  nn::GRU first(nn::GRUOptions(3, 4).bidirectional(true).batch_first(true));
  first.to(kFloat64);
  first.load_state_dict(gru.state_dict());
  expect_close(values(std::get<0>(first.forward(x.transpose(0, 1)))), values(y.transpose(0, 1)), 0,
               0);
  const auto [y1, h1] = gru.forward(x.select(1, 0));
  CHECK(h1.sizes() == Shape{2, 4});
  expect_close(values(y1), values(y.select(1, 0)), 1e-15, 1e-15);
}

TEST_CASE("LSTM and GRU: initialisation, dropout between layers, autocast, printing, errors") {
  manual_seed(52);
  nn::LSTM lstm(nn::LSTMOptions(6, 5).num_layers(3).dropout(0.5));
  CHECK(lstm.parameters().size() == 12);
  for (const Tensor& p : lstm.parameters())
    CHECK(p.abs().max().item<double>() <= 1.0 / std::sqrt(5.0));
  // dropout acts between layers in training only
  const Tensor x = randn({4, 2, 6});
  lstm.eval();
  CHECK(hg::test::same_bits(std::get<0>(lstm.forward(x)), std::get<0>(lstm.forward(x))));
  lstm.train();
  CHECK_FALSE(hg::test::same_bits(std::get<0>(lstm.forward(x)), std::get<0>(lstm.forward(x))));
  {
    amp::AutocastGuard autocast(kFloat16);  // the products in fp16: a 16-bit output
    CHECK(std::get<0>(nn::GRU(6, 5).forward(x)).dtype() == kFloat16);
  }
  CHECK(lstm.describe() == "LSTM(6, 5, num_layers=3, dropout=0.5)");
  CHECK(
      nn::GRU(nn::GRUOptions(2, 3).bias(false).batch_first(true).bidirectional(true)).describe() ==
      "GRU(2, 3, bias=false, batch_first=true, bidirectional=true)");
  CHECK(nn::GRU(nn::GRUOptions(2, 3).bias(false)).parameters().size() == 2);
  expect_error([] { nn::LSTM(0, 3); }, {"LSTM", "input_size 0"});
  expect_error([] { nn::GRU(nn::GRUOptions(2, 3).dropout(1.5)); }, {"GRU", "dropout", "1.5"});
  nn::GRU gru(3, 4);
  expect_error([&] { gru.forward(zeros({5, 2, 2})); }, {"GRU(3, 4)", "[L, N, 3]", "[5, 2, 2]"});
  expect_error(
      [&] {
        gru.forward(zeros({5, 2, 3}), zeros({2, 2, 4}));
      },
      {"GRU(3, 4)", "h_0 [1, 2, 4]", "[2, 2, 4]"});
  expect_error(
      [&] {
        lstm.forward(zeros({5, 2, 6}), std::make_tuple(zeros({3, 2, 5}), zeros({1, 2, 5})));
      },
      {"LSTM", "c_0 [3, 2, 5]", "[1, 2, 5]"});
  expect_error([&] { gru.forward(zeros({5, 2, 3}, kInt64)); }, {"GRU(3, 4)", "floating", "int64"});
}

TEST_CASE("LSTM with proj_size: PyTorch's output, final states and gradients") {
  // torch 1.13: nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True, batch_first=True),
  // the reference parameters, x [2, 4, 3], h_0 [4, 2, 2], c_0 [4, 2, 5] given
  nn::LSTM lstm(
      nn::LSTMOptions(3, 5).num_layers(2).proj_size(2).bidirectional(true).batch_first(true));
  CHECK(lstm.describe() ==
        "LSTM(3, 5, proj_size=2, num_layers=2, batch_first=true, bidirectional=true)");
  const auto names = parameter_names(lstm);
  REQUIRE(names.size() == 20);
  CHECK(names[4] == "weight_hr_l0");
  CHECK(names[19] == "weight_hr_l1_reverse");
  CHECK(lstm.named_parameters()[11].second.sizes() == Shape{20, 2});  // weight_hh_l1: [4H, proj]
  lstm.to(kFloat64);
  hg::test::load_reference_parameters(lstm);
  Tensor x = reference_values({2, 4, 3}, 5, 13, 6, 4.0).requires_grad_();
  Tensor h0 = reference_values({4, 2, 2}, 7, 11, 5, 6.0).requires_grad_();
  Tensor c0 = reference_values({4, 2, 5}, 3, 7, 2, 5.0).requires_grad_();
  const auto [y, state] = lstm.forward(x, std::make_tuple(h0, c0));
  const auto [h_n, c_n] = state;
  CHECK(y.sizes() == Shape{2, 4, 4});
  ((y * hg::test::reference_upstream(y.sizes())).sum() +
   (h_n * hg::test::reference_upstream(h_n.sizes())).sum() +
   (c_n * reference_values(c_n.sizes(), 3, 5, 2, 3.0)).sum())
      .backward();
  // clang-format off
  expect_close(values(y), {-0.05535850908077318, -0.20494756178734685, -0.4004993501929546,
                0.4505126469787654, 0.021219225599519775, -0.06332157005619783,
                -0.33561713365557516, 0.31920443679396643, 0.04818335777143276,
                -0.033105653389983294, -0.42052308646421827, 0.4048768143503248,
                0.060013406351286894, -0.023571203671467436, -0.37920986718345123,
                0.4498175658471321, -0.11990052915512589, -0.045463350955089236,
                -0.4862091578259908, 0.4687668028429673, -0.04589228894766277,
                -0.05486116927797237, -0.41106173310594935, 0.39828669545338563,
                -0.000459492633703637, -0.04365524364244649, -0.3210742591319244,
                0.36535124826191334, 0.015434023521487893, -0.00309849080235413,
                -0.09642204842225448, 0.2102003101645935}, 1e-12, 1e-12);
  expect_close(values(h_n), {-0.16788599967111312, -0.16788599967111312, -0.4460953678105108,
                -0.4460953678105108, 0.0580398748476201, 0.5326856798077342, -0.10704068328040084,
                0.1892658690461538, 0.060013406351286894, -0.023571203671467436,
                0.015434023521487893, -0.00309849080235413, -0.4004993501929546,
                0.4505126469787654, -0.4862091578259908, 0.4687668028429673}, 1e-12, 1e-12);
  expect_close(values(c_n), {0.13512850855249675, -0.6862524155367065, 0.9040145549127265, -0.00482946759783421,
                -0.10661735720040078, 0.37080172112575627, -1.0250867815202387,
                0.39425563199166525, 0.6981405525324166, 0.6733587113102759, 0.9181440473060347,
                0.5944599588973947, 1.1659405296231358, 0.06085928364492732, 0.33478885998058067,
                0.33002566566294594, -0.27670135377300636, -0.05397738318890159,
                -0.44484402789264554, -0.44215857255830876, -0.004688736346932086,
                0.40170551155386747, -0.16801630900419104, 0.10309230852664372, -0.514008873619747,
                0.039819634487002216, 0.5941662234699061, 0.001065563509686257,
                0.014263649887502795, -0.5576656158355848, 0.4573539585994608,
                -0.43893830056543504, 0.7009512671979743, -0.3263403959010487, 0.3663612853109059,
                0.10133996364500211, -0.7269432365496908, 0.6377980589472863, -0.61618410477675,
                0.49962968651441697}, 1e-12, 1e-12);
  expect_close(values(x.grad()), {-0.029429359442788017, -0.00421052580249455, 0.20374479989248376,
                0.10185914347164339, 0.08083562373165598, 0.045254426372382306, 0.1540220029593961,
                0.049778800006450526, -0.190225005502139, 0.12554657138468367,
                -0.023987418924736707, -0.23471445315860745, 0.47961954770473125,
                0.10986934047836393, -0.042621743233717056, 0.184173471026019, 0.16106390937794662,
                0.038646268115340277, 0.02842959217558831, 0.17251140084956534,
                0.06984348340022754, -0.009894216168902778, 0.1131558272592852,
                -0.0708910632057613}, 1e-12, 1e-12);
  expect_close(values(h0.grad()), {0.4063124674563165, -0.45798381049487785, -0.043241602774801206,
                -0.00744876415147365, -0.016152296207861763, -0.021303540979130803,
                0.008167162283500022, 0.020117307525934165, 0.12098173407986582,
                0.060229227922983325, -0.1801363908580344, 0.007987803379698677,
                -0.32871934162706284, -0.0815532534176191, 0.17673754368405137,
                0.03463982950019194}, 1e-12, 1e-12);
  // clang-format on
  expect_error([] { nn::LSTM(nn::LSTMOptions(3, 5).proj_size(5)); },
               {"LSTM", "proj_size 5", "[0, hidden_size 5)"});
  expect_error([] { nn::GRU(nn::GRUOptions(3, 5).proj_size(2)); },
               {"GRU", "proj_size 2", "LSTM only"});
  expect_error(
      [&] {
        lstm.forward(x, std::make_tuple(zeros({4, 2, 5}, kFloat64), c0));
      },
      {"LSTM", "h_0 [4, 2, 2]", "[4, 2, 5]"});
}
