// nn::RNN and the single-step cells (LSTMCell, GRUCell, RNNCell): PyTorch 1.13's outputs and
// input gradients, the cells against the layers they step, unbatched inputs, relu, errors.
#include <string>
#include <vector>

#include "reference_parameters.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_values;
using hg::test::values;

TEST_CASE("RNN: PyTorch's output, final state and input gradient") {
  // torch 1.13: nn.RNN(3, 2, num_layers=2, batch_first=True), float64, x [2, 3, 3], given h_0
  nn::RNN rnn(nn::RNNOptions(3, 2).num_layers(2).batch_first(true));
  rnn.to(kFloat64);
  hg::test::load_reference_parameters(rnn);
  Tensor x = reference_values({2, 3, 3}, 5, 13, 6, 4.0).requires_grad_();
  const auto [y, h] = rnn.forward(x, reference_values({2, 2, 2}, 7, 9, 4, 6.0));
  ((y * reference_values(y.sizes(), 5, 7, 3, 2.0)).sum() +
   (h * reference_values(h.sizes(), 3, 5, 2, 2.0)).sum())
      .backward();
  // clang-format off
  expect_close(values(y),
               {-0.6578209481327628, -0.2811797076363568, -0.43023509517302155, 0.27002569407565447,
                -0.5308209427513063, 0.1093377132339907, -0.7702572112048542, 0.33995364934541206,
                0.10833198909518883, 0.4842973825147036, -0.48590066786449543, 0.457351825595088},
               1e-13, 1e-13);
  expect_close(values(h),
               {-0.82905665742684, 0.6644126329692673, -0.7341536682872489, -0.3320501315749819,
                -0.5308209427513063, 0.1093377132339907, -0.48590066786449543, 0.457351825595088},
               1e-13, 1e-13);
  expect_close(values(x.grad()),
               {0.2697996968060042, -0.12641419322620426, -0.08017840696669778, -0.44451021225615134,
                0.16321460623928838, 0.19968830289721876, 0.1369002643239261, 0.029092307751249356,
                -0.18053872595080014, -0.12408776690401817, 0.11479562859915457, -0.04810567599471369,
                0.05528679654456532, -0.11373619568420293, 0.11531749698173907, 0.03330432276636813,
                0.17696103470313443, -0.2987458748210698},
               1e-13, 1e-13);
  // clang-format on
}

TEST_CASE("LSTMCell, GRUCell, RNNCell: PyTorch's step and input gradient") {
  // torch 1.13: nn.LSTMCell / GRUCell / RNNCell(3, 2), float64, x [2, 3], given states
  const Tensor h0 = reference_values({2, 2}, 7, 9, 4, 6.0);
  const Tensor g = reference_values({2, 2}, 5, 7, 3, 2.0);
  nn::LSTMCell lstm(3, 2);
  lstm.to(kFloat64);
  hg::test::load_reference_parameters(lstm);
  Tensor x = reference_values({2, 3}, 5, 13, 6, 4.0).requires_grad_();
  const auto [h, c] = lstm.forward(x, std::make_tuple(h0, reference_values({2, 2}, 3, 11, 5, 6.0)));
  ((h * g).sum() + (c * reference_values({2, 2}, 3, 5, 2, 2.0)).sum()).backward();
  expect_close(values(h),
               {-0.14940704917727737, -0.1169967752980854, 0.3653345020574744, 0.12092342308251354},
               1e-14, 1e-14);
  expect_close(values(c),
               {-0.1910824825261047, -0.16836814023757596, 0.5416668276775513, 0.198373007354314},
               1e-14, 1e-14);
  expect_close(values(x.grad()),
               {0.29527193609402613, 0.03106563300899104, -0.0970618163849043, 0.09948794911907426,
                0.061111334465782, -0.03879963938865913},
               1e-14, 1e-14);

  nn::GRUCell gru(3, 2);
  gru.to(kFloat64);
  hg::test::load_reference_parameters(gru);
  Tensor xg = reference_values({2, 3}, 5, 13, 6, 4.0).requires_grad_();
  const Tensor h_gru = gru.forward(xg, h0);
  (h_gru * g).sum().backward();
  expect_close(
      values(h_gru),
      {-0.3719268862573758, 0.008427655223971875, 0.24116525709112102, -0.23100133567426764}, 1e-14,
      1e-14);
  expect_close(values(xg.grad()),
               {0.15896596374169408, 0.05427142703292927, 0.01467105105827321,
                -0.012733062631990418, -0.14944680705944047, 0.04314574676302394},
               1e-14, 1e-14);

  nn::RNNCell rnn(3, 2);
  rnn.to(kFloat64);
  hg::test::load_reference_parameters(rnn);
  Tensor xr = reference_values({2, 3}, 5, 13, 6, 4.0).requires_grad_();
  const Tensor hr = rnn.forward(xr, h0);
  (hr * g).sum().backward();
  expect_close(
      values(hr),
      {0.2644000832690389, -0.14480822295404266, -0.14480822295404266, 0.28366809017746203}, 1e-14,
      1e-14);
  expect_close(values(xr.grad()),
               {0.4007982629110089, 0.24475764464122307, -0.7679347298728435, 0.11494155182688391,
                -0.22988310365376782, 0.22988310365376782},
               1e-14, 1e-14);
}

TEST_CASE("cells step the layers: the same weights give the same sequence") {
  manual_seed(53);
  nn::LSTM layer(4, 3);
  nn::LSTMCell cell(4, 3);
  cell.load_state_dict({{"weight_ih", layer.named_parameters()[0].second},
                        {"weight_hh", layer.named_parameters()[1].second},
                        {"bias_ih", layer.named_parameters()[2].second},
                        {"bias_hh", layer.named_parameters()[3].second}});
  const Tensor x = randn({5, 2, 4});
  const auto [y, state] = layer.forward(x);
  std::tuple<Tensor, Tensor> hc = {zeros({2, 3}), zeros({2, 3})};
  for (int64_t t = 0; t < 5; ++t) {
    hc = cell.forward(x.select(0, t), hc);
    expect_close(values(std::get<0>(hc)), values(y.select(0, t)), 1e-6, 1e-6);
  }
  expect_close(values(std::get<1>(hc)), values(std::get<1>(state).select(0, 0)), 1e-6, 1e-6);
  // unbatched input and state; no state = zeros; relu
  nn::RNNCell relu_cell(nn::RNNCellOptions(4, 3), nn::RNNNonlinearity::ReLU);
  const Tensor one = randn({4});
  const Tensor h1 = relu_cell.forward(one);
  CHECK(h1.sizes() == Shape{3});
  expect_close(
      values(h1),
      values(relu(linear(one, relu_cell.weight_ih, relu_cell.bias_ih) + relu_cell.bias_hh)), 1e-6,
      1e-6);
  CHECK(nn::GRUCell(4, 3).forward(one, zeros({3})).sizes() == Shape{3});
  CHECK(relu_cell.describe() == "RNNCell(4, 3)");
  CHECK(nn::LSTMCell(nn::LSTMCellOptions(4, 3).bias(false)).describe() ==
        "LSTMCell(4, 3, bias=false)");
  CHECK(nn::RNN(nn::RNNOptions(2, 3), nn::RNNNonlinearity::ReLU).describe() ==
        "RNN(2, 3, nonlinearity=relu)");
  expect_error([&] { cell.forward(zeros({2, 5})); }, {"LSTMCell(4, 3)", "[N, 4]", "[2, 5]"});
  expect_error(
      [&] {
        relu_cell.forward(zeros({2, 4}), zeros({3, 3}));
      },
      {"RNNCell(4, 3)", "h [2, 3]", "[3, 3]"});
  expect_error([] { nn::GRUCell(0, 3); }, {"GRUCell", "input_size 0"});
}
