// nn::utils::rnn: pack_padded_sequence, pad_packed_sequence, pad_sequence and pack_sequence as
// PyTorch 1.13 lays them out, and LSTM and GRU over packed sequences: PyTorch's outputs, final
// states and gradients; a packed batch equals each sequence run alone; errors.
#include <vector>

#include "autograd/grad_util.h"
#include "nn/reference_parameters.h"

using namespace hg;
using namespace hg::nn::utils::rnn;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_upstream;
using hg::test::reference_values;
using hg::test::values;

TEST_CASE("pack_padded_sequence and pad_packed_sequence: PyTorch's layout, both ways") {
  const Tensor x = reference_values({4, 3, 2}, 5, 13, 6, 4.0);  // [L, N, F]
  const PackedSequence packed =
      pack_padded_sequence(x, std::vector<int64_t>{2, 4, 1}, false, false);
  // clang-format off
  expect_close(values(packed.data), {1.0, -1.0, -1.5, -0.25, 0.25, 1.5, -1.25, 0.0, -0.5, 0.75, -0.25, 1.0, 0.75, -1.25}, 0, 0);
  // clang-format on
  CHECK(packed.batch_sizes.to_vector<int64_t>() == std::vector<int64_t>{3, 2, 1, 1});
  CHECK(packed.sorted_indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 2});
  CHECK(packed.unsorted_indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 2});
  CHECK(packed.batch() == 3);
  const auto [padded, lengths] = pad_packed_sequence(packed, true, -1.0, 5);
  CHECK(padded.sizes() == Shape{3, 5, 2});
  CHECK(lengths.to_vector<int64_t>() == std::vector<int64_t>{2, 4, 1});
  // clang-format off
  expect_close(values(padded), {-1.5, -0.25, -0.5, 0.75, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.25, 0.0,
                -0.25, 1.0, 0.75, -1.25, -1.0, -1.0, 0.25, 1.5, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0,
                -1.0, -1.0}, 0, 0);
  // clang-format on
  // sorted lengths need no permutation, and the round trip gives x back (zeros past each length)
  const PackedSequence sorted = pack_padded_sequence(x, from_vector<int64_t>({4, 3, 3}));
  CHECK_FALSE(sorted.sorted_indices.defined());
  const Tensor back = std::get<0>(pad_packed_sequence(sorted));
  Tensor expected = x.clone();
  expected.select(0, 3).narrow(0, 1, 2).zero_();
  CHECK(hg::test::same_bits(back, expected));
  // the gradient reaches exactly the real time steps
  Tensor leaf = x.clone().requires_grad_();
  pack_padded_sequence(leaf, std::vector<int64_t>{4, 3, 3}).data.sum().backward();
  Tensor real = ones_like(x);
  real.select(0, 3).narrow(0, 1, 2).zero_();
  CHECK(hg::test::same_bits(leaf.grad(), real));
}

TEST_CASE("pad_sequence and pack_sequence") {
  const Tensor a = full({2, 2}, 1.0), b = full({3, 2}, 2.0);
  // torch: pad_sequence([a, b], batch_first=True, padding_value=7)
  CHECK(values(pad_sequence({a, b}, true, 7.0)) ==
        std::vector<double>{1, 1, 1, 1, 7, 7, 2, 2, 2, 2, 2, 2});
  CHECK(pad_sequence({a, b}).sizes() == Shape{3, 2, 2});
  const PackedSequence packed = pack_sequence({a, b}, false);
  CHECK(packed.batch_sizes.to_vector<int64_t>() == std::vector<int64_t>{2, 2, 1});
  CHECK(values(packed.data) == std::vector<double>{2, 2, 1, 1, 2, 2, 1, 1, 2, 2});
  expect_error([&] { pack_sequence({a, b}); }, {"pack_padded_sequence", "{2, 3}", "decrease"});
  expect_error([&] { pad_sequence({a, full({2, 3}, 1.0)}); }, {"pad_sequence", "[2, 3]"});
  expect_error([] { pad_sequence({}); }, {"pad_sequence", "at least one"});
}

TEST_CASE("LSTM over packed sequences: PyTorch's output, final states and gradients") {
  // torch 1.13: nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True), the reference
  // parameters, x [3, 4, 2] with lengths {2, 4, 3} (enforce_sorted=False), h_0 and c_0 given;
  // loss = (padded output * g).sum() + (h_n * g).sum() + (c_n * g').sum()
  nn::LSTM lstm(nn::LSTMOptions(2, 3).num_layers(2).bidirectional(true).batch_first(true));
  lstm.to(kFloat64);
  hg::test::load_reference_parameters(lstm);
  Tensor x = reference_values({3, 4, 2}, 5, 13, 6, 4.0).requires_grad_();
  Tensor h0 = reference_values({4, 3, 3}, 7, 11, 5, 6.0).requires_grad_();
  Tensor c0 = reference_values({4, 3, 3}, 3, 7, 2, 5.0).requires_grad_();
  const PackedSequence packed =
      pack_padded_sequence(x, from_vector<int64_t>({2, 4, 3}), true, false);
  const auto [output, state] = lstm.forward(packed, std::make_tuple(h0, c0));
  const auto [h_n, c_n] = state;
  const auto [y, lengths] = pad_packed_sequence(output, true);
  CHECK(y.sizes() == Shape{3, 4, 6});
  ((y * reference_upstream(y.sizes())).sum() + (h_n * reference_upstream(h_n.sizes())).sum() +
   (c_n * reference_values(c_n.sizes(), 3, 5, 2, 3.0)).sum())
      .backward();
  // clang-format off
  expect_close(values(y), {0.26321273191510436, 0.07394553245896143, -0.043750554677000036,
                0.26988519266599637, 0.2059292699413584, 0.10701410923426893, 0.31092904806753874,
                0.04306502829023761, -0.05299655949859344, 0.35128326259742765,
                0.11789384702295098, 0.2815492031818639, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 0.0, -0.13267587249129273, 0.14233012131403175,
                -0.014249303221250694, 0.3413855648691712, 0.38158201816142717,
                0.08539351206594384, -0.0216366681276122, 0.053177626817040344,
                -0.05712812271773053, 0.346658636331963, 0.3274683878404763, 0.11494426887606764,
                0.0651124743619125, 0.004711350326071397, -0.049284035059131565,
                0.34374551311970386, 0.273875147597636, 0.13530247276579677, 0.15114144988009373,
                0.0450812125644562, -0.022417292370452847, 0.4798871077128426, 0.32159007830702185,
                0.35969122888729144, 0.19328230940622662, 0.05877821302027374,
                -0.05855454381892487, 0.2193225209968097, 0.4326807592068089, 0.1629608961902665,
                0.22301533886739988, 0.0323433653360349, -0.0034249799996138976,
                0.16844428250430288, 0.40705012805945606, 0.17329501859505386, 0.24169672273205495,
                -0.01379392666818047, 0.021254447909221867, 0.11474818354691105,
                0.4766485154497198, 0.16076635803401626, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, 1e-12, 1e-12);
  expect_close(values(h_n), {0.12647101914411618, -0.0791308883468802, 0.1536385362701672, 0.10861121663014633,
                -0.26070656577025086, 0.3574450597340807, 0.17010815725668138, -0.5635436990259575,
                0.2172596088505607, 0.2586549424923373, 0.6497001897060231, 0.49768592405005224,
                0.08237721843437286, 0.7329525305157061, 0.39969522237286886, 0.01952547071716903,
                0.6488944195185428, 0.3062827665449533, 0.31092904806753874, 0.04306502829023761,
                -0.05299655949859344, 0.15114144988009373, 0.0450812125644562,
                -0.022417292370452847, 0.24169672273205495, -0.01379392666818047,
                0.021254447909221867, 0.26988519266599637, 0.2059292699413584, 0.10701410923426893,
                0.3413855648691712, 0.38158201816142717, 0.08539351206594384, 0.2193225209968097,
                0.4326807592068089, 0.1629608961902665}, 1e-12, 1e-12);
  expect_close(values(c_n), {0.2758020627484027, -0.10040017629792108, 0.93993705880202, 0.4059323337600969,
                -0.5213915082087773, 1.2837517738752044, 0.3717177400513427, -0.9934954889356264,
                1.3346795064075299, 0.3635840066944994, 0.91360528868821, 1.3054425469373863,
                0.12006324551240989, 1.2217018848469436, 1.047681200625632, 0.030726996094941977,
                1.0194592051289342, 0.8252945727673096, 0.5336180094495071, 0.09286467282987788,
                -0.14761513629598852, 0.2401863983560757, 0.09289591267831923,
                -0.06870639116844053, 0.37249103888615614, -0.02671308755033883,
                0.07027082528922991, 0.6786918861741742, 0.45452346208810335, 0.266104592774055,
                0.9366507166667483, 0.9312489447504175, 0.20094971035671347, 0.4673320016081207,
                1.1431148549748302, 0.41877700037807314}, 1e-12, 1e-12);
  expect_close(values(x.grad()), {-0.08906047439159206, -0.07580587920458129, -0.2040921087792856,
                0.11280490633635629, 0.0, 0.0, 0.0, 0.0, 0.11511231585305498, 0.1652058648336796,
                -0.10319587845246495, -0.0035298804298502136, -0.138081312644782,
                -0.0034688271539461465, -0.22469784737541776, 0.16843206282111878,
                0.20828151859828914, 0.11393823282063625, 0.13319396370938905,
                0.022054357182764293, 0.2644241963129832, 0.1388924922361713, 0.0, 0.0}, 1e-12, 1e-12);
  expect_close(values(h0.grad()), {-0.02545011817489154, 0.2786285365840135, -0.253178418409122, 0.00443512125999327,
                0.014351905842018266, -0.018787027102011532, 0.023959208726592407,
                -0.10476489532015006, 0.08080568659355764, 0.03132649056256148,
                0.012530596225024605, -0.006265298112512302, 0.04176040505036421,
                0.016704162020145685, -0.008352081010072843, 0.1078602606784959,
                0.043144104271398365, -0.021572052135699182, 0.033680461951490416,
                -0.16392891976278806, 0.14089309744369238, 0.040363821212645895,
                -0.10738911919282595, 0.266708176623137, 0.011841141653996199, 0.08582639251601469,
                -0.25712913910941015, -0.12359570769763495, 0.061797853848817474,
                -0.030898926924408737, -0.1304634943781882, 0.0652317471890941,
                -0.03261587359454705, -0.0717391044484015, 0.03586955222420075,
                -0.017934776112100374}, 1e-12, 1e-12);
  expect_close(values(c0.grad()), {-0.5002338263153476, 0.8997914005239906, -0.05163062905392036,
                -0.007507051514323076, 0.09507305137961544, -0.00738418404377396,
                0.04014085549685213, -0.32431927270189337, 0.07019510388277601,
                -0.023529796288739108, -0.6026841280550864, 0.4444499914205021,
                -0.005601382050081998, 0.09477083306991277, -0.19245584601912535,
                -0.007221964657668341, 0.134673543735159, -0.39993637406016475,
                0.07807063767733297, 0.1778891673784178, -0.08706075086079951, -0.4938767404691128,
                0.2194449838448914, 0.0969600849043873, -0.0038983030629189206,
                -0.17485735286260953, 0.03816538448451611, -0.5706908573941496,
                -0.0552704987244367, 0.36560555226370545, -0.20925495118145312, 0.4898438060328037,
                0.037285766706685305, 0.13099942552042448, 0.10966393031824552,
                -0.11716284994290982}, 1e-12, 1e-12);
  // clang-format on
}

TEST_CASE("GRU over packed sequences: PyTorch's output, final state and gradient") {
  // torch 1.13: nn.GRU(2, 3), x [4, 3, 2] with sorted lengths [4, 3, 1], no h_0
  nn::GRU gru(2, 3);
  gru.to(kFloat64);
  hg::test::load_reference_parameters(gru);
  Tensor x = reference_values({4, 3, 2}, 3, 11, 4, 5.0).requires_grad_();
  const auto [output, h_n] = gru.forward(pack_padded_sequence(x, std::vector<int64_t>{4, 3, 1}));
  const Tensor y = std::get<0>(pad_packed_sequence(output));
  ((y * reference_upstream(y.sizes())).sum() + (h_n * reference_upstream(h_n.sizes())).sum())
      .backward();
  // clang-format off
  expect_close(values(y), {0.32585802127307095, -0.014513717316315004, 0.2782255176702868,
                0.29934517308083936, -0.06402890305692815, 0.3444933767140989, 0.3239848523260195,
                -0.02716043024566077, 0.29263892483835796, 0.4312972636729007,
                -0.09285276429317174, 0.5046981783489346, 0.4720458721307048, -0.10813331728043554,
                0.5036722567875521, 0.0, 0.0, 0.0, 0.5310993959071595, -0.14959429578148553,
                0.6093412507883587, 0.3793735805259435, -0.2652770233724651, 0.730326193430723,
                0.0, 0.0, 0.0, 0.40385613264584874, -0.30556029725023215, 0.7801071948388715, 0.0,
                0.0, 0.0, 0.0, 0.0, 0.0}, 1e-12, 1e-12);
  expect_close(values(h_n), {0.40385613264584874, -0.30556029725023215, 0.7801071948388715, 0.3793735805259435,
                -0.2652770233724651, 0.730326193430723, 0.3239848523260195, -0.02716043024566077,
                0.29263892483835796}, 1e-12, 1e-12);
  expect_close(values(x.grad()), {0.2670962003801356, -0.2061115824667431, 0.041671198586841825, -0.0519881507734023,
                0.6215837676446913, -0.29705416300250126, 0.12126673688584136,
                -0.08897967988182519, -0.19628530284507162, 0.05782643992618564, 0.0, 0.0,
                -0.07545027504636222, 0.03886300058991703, 0.15356349343021686,
                0.03363959011312816, 0.0, 0.0, 0.26385333611320494, -0.08621734609821256, 0.0, 0.0,
                0.0, 0.0}, 1e-12, 1e-12);
  // clang-format on
}

TEST_CASE("a packed batch is each sequence run alone, autocast, errors") {
  manual_seed(61);
  nn::RNN rnn(nn::RNNOptions(3, 4).num_layers(2).bidirectional(true));
  const std::vector<Tensor> sequences{randn({2, 3}), randn({5, 3}), randn({3, 3})};
  const auto [output, h_n] = rnn.forward(pack_sequence(sequences, false));
  const Tensor padded = std::get<0>(pad_packed_sequence(output, true));  // [3, 5, 8]
  for (int64_t i = 0; i < 3; ++i) {
    const Tensor& s = sequences[static_cast<size_t>(i)];
    const auto [alone, h_alone] = rnn.forward(s);  // unbatched [L_i, 3]
    expect_close(values(padded.select(0, i).narrow(0, 0, s.size(0))), values(alone), 1e-6, 1e-6);
    expect_close(values(h_n.select(1, i)), values(h_alone), 1e-6, 1e-6);
  }
  {  // under autocast the packed data and the states run in the lower precision
    amp::AutocastGuard autocast(kBFloat16);
    const auto [low, h_low] = rnn.forward(pack_sequence(sequences, false));
    CHECK(low.data.dtype() == kBFloat16);
    CHECK(h_low.dtype() == kBFloat16);
  }
  const Tensor x = randn({4, 2, 3});
  expect_error(
      [] {
        pack_padded_sequence(randn({4, 0, 3}), std::vector<int64_t>{});
      },
      {"pack_padded_sequence", "at least one sequence", "[4, 0, 3]"});
  PackedSequence shuffled = pack_padded_sequence(x, std::vector<int64_t>{2, 3}, false, false);
  shuffled.unsorted_indices = from_vector<int64_t>({1, 1});
  expect_error([&] { pad_packed_sequence(shuffled); },
               {"pad_packed_sequence", "{1, 1}", "permutation of [0, 2)"});
  expect_error([&] { pack_padded_sequence(x, std::vector<int64_t>{4}); },
               {"pack_padded_sequence", "expected 2 lengths", "[4, 2, 3]"});
  expect_error(
      [&] {
        pack_padded_sequence(x, std::vector<int64_t>{5, 1});
      },
      {"pack_padded_sequence", "{5, 1}", "[1, 4]"});
  expect_error([&] { pack_padded_sequence(x, std::vector<int64_t>{2, 0}); }, {"[1, 4]"});
  expect_error(
      [&] {
        pack_padded_sequence(x, std::vector<int64_t>{2, 3});
      },
      {"decrease", "enforce_sorted = false"});
  expect_error(
      [&] {
        pad_packed_sequence(pack_padded_sequence(x, std::vector<int64_t>{3, 2}), false, 0.0, 2);
      },
      {"pad_packed_sequence", "total_length 2", "3"});
  expect_error(
      [&] {
        rnn.forward(pack_padded_sequence(randn({4, 2, 5}), std::vector<int64_t>{3, 2}));
      },
      {"RNN", "[rows, 3]", "[5, 5]"});
  expect_error(
      [&] {
        rnn.forward(pack_padded_sequence(x, std::vector<int64_t>{3, 2}), zeros({4, 3, 4}));
      },
      {"RNN", "h_0", "[4, 2, 4]"});
}
