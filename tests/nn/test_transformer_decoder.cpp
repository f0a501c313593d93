// nn::TransformerDecoderLayer, nn::TransformerDecoder and nn::Transformer: PyTorch 1.13's outputs
// and input gradients (post-norm with relu, pre-norm with gelu, causal and padding masks; a whole
// Transformer with torch's causal float mask), submodule names, stacking, masking, a copy task
// learned, printing, errors.
#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_util.h"
#include "halfgrad/optim/adam.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_upstream;
using hg::test::reference_values;
using hg::test::values;

namespace {

// The torch script's parameters: the i-th named parameter gets
// reference_values(shape, 3 + i % 5, 7 + 2 (i % 4), 3 + i % 3, 8), plus 1 for norm weights.
void load_decoder_reference(nn::Module& m) {
  NoGradGuard no_grad;
  int64_t i = 0;
  for (const auto& [name, p] : m.named_parameters()) {
    Tensor v = reference_values(p.sizes(), 3 + i % 5, 7 + 2 * (i % 4), 3 + i % 3, 8.0);
    const size_t dot = name.rfind('.');
    const size_t owner = name.rfind('.', dot - 1);
    const std::string module = name.substr(owner == std::string::npos ? 0 : owner + 1);
    const bool norm_weight = module.rfind("norm", 0) == 0 && name.substr(dot + 1) == "weight";
    Tensor target = p;
    target.copy_(norm_weight ? v + 1.0 : v);
    ++i;
  }
}

struct DecoderReference {
  std::vector<double> output, tgt_grad, memory_grad;
};

// torch: nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0, batch_first=True), tgt
// [2, 3, 4] with the causal bool mask, memory [2, 5, 4] with sample 1's last two keys padding
DecoderReference decoder_layer_reference(const nn::TransformerDecoderLayerOptions& options) {
  nn::TransformerDecoderLayer layer(options);
  layer.to(kFloat64);
  load_decoder_reference(layer);
  Tensor tgt = reference_values({2, 3, 4}, 5, 13, 6, 4.0).requires_grad_();
  Tensor memory = reference_values({2, 5, 4}, 7, 11, 5, 3.0).requires_grad_();
  const Tensor causal = triu(ones({3, 3}, kBool), 1);
  const Tensor padding = from_vector<bool>(
      {false, false, false, false, false, false, false, false, true, true}, {2, 5});
  const Tensor y = layer.forward(tgt, memory, causal, Tensor(), Tensor(), padding);
  (y * reference_upstream(y.sizes())).sum().backward();
  return {values(y), values(tgt.grad()), values(memory.grad())};
}

}  // namespace

TEST_CASE("TransformerDecoderLayer: PyTorch's outputs and input gradients") {
  const auto options =
      nn::TransformerDecoderLayerOptions(4, 2).dim_feedforward(6).dropout(0.0).batch_first(true);
  DecoderReference r = decoder_layer_reference(options);
  // clang-format off
  expect_close(r.output, {-1.2955236589619983, -0.2082185805575201, 0.41673009014871853, 0.2178099735240128,
                -1.460470336326504, 0.9852903039580951, -0.3058828327514384, 0.5469457637343661,
                -1.2800397537166384, -0.2774104559362753, 0.4260822187686164, 0.2439782150072361,
                -0.9733843948773644, -1.244232448439866, 0.23361363365822038, 0.9881218523841226,
                -1.286731111534949, -0.3111973593065506, 0.4099331754880835, 0.3261123142949545,
                -0.9699256170501851, -1.2542995388601992, 0.2166695855010477, 1.022164365678755}, 1e-12, 1e-12);
  expect_close(r.tgt_grad, {-0.21138502937842268, 0.46246099752837133, -0.4129992142361697,
                -0.49494471135387796, 0.3781515612977965, 0.4301370644208756, -0.10787489290061171,
                -0.9040081202653073, -0.18846059369296084, -0.1872584261113691,
                0.006748250138892756, 0.4374371700077879, 0.36758971646601957, 0.19753161279387077,
                -0.5093227909167841, 0.6446297687307663, 0.04090395146196247, -0.4339909163838806,
                0.18400438852270037, 0.3323498135731514, 0.130430485987828, -0.0834823660660151,
                0.006485695446569663, -0.06756226410297632}, 1e-12, 1e-12);
  // the padded keys of sample 1 get no gradient
  expect_close(r.memory_grad, {-0.015504312420693788, -0.015504312420693788, -0.015504312420693788,
                -0.015504312420693788, -0.011156850276912742, -0.011156850276912742,
                -0.011156850276912742, -0.011156850276912742, -0.01509421938722042,
                -0.01509421938722042, -0.01509421938722042, -0.01509421938722042,
                0.010304018579238964, 0.010304018579238964, 0.010304018579238964,
                0.010304018579238964, -0.01738231383840055, -0.01738231383840055,
                -0.01738231383840055, -0.01738231383840055, 0.12664155986987927,
                0.12664155986987927, 0.12664155986987927, 0.12664155986987927, 0.11041019031522932,
                0.11041019031522932, 0.11041019031522932, 0.11041019031522932, 0.09906106665588568,
                0.09906106665588568, 0.09906106665588568, 0.09906106665588568, 0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 0.0}, 1e-12, 1e-12);
  // pre-norm with gelu
  r = decoder_layer_reference(nn::TransformerDecoderLayerOptions(options).norm_first(true).activation(nn::TransformerActivation::GELU));
  expect_close(r.output, {-3.8056132909165834, -0.8716787464896363, 3.3058197344154356, -0.9622121565412273,
                -1.4072476103356877, 0.9487821524307617, 1.251077609843962, 0.9636939284019796,
                -3.058870830791249, -0.2990469811770715, 3.7815490256417954, -0.8123275799971463,
                -1.3418049634788662, -2.1116083194086186, 2.5272607564731375, 1.0321829807878182,
                -3.3132042428732102, 0.07821545313919753, 4.167818970961118, -0.3683904833318481,
                -1.064114141816757, -1.943999584130055, 2.693774553253646, 1.361315314228589}, 1e-12, 1e-12);
  expect_close(r.tgt_grad, {-1.1736104879257934, 0.8948808237287891, 0.1555437723123972, -1.3768141081153933,
                1.3416020439854697, 0.6138390742509702, -0.28958627657732555, -1.6658548416591143,
                0.640641782276643, 0.33464585804021685, -1.1866110244966592, 1.7113233841797995,
                0.2704217831543892, -0.5603911149759444, -1.8983354214035775, 1.6883047532251325,
                0.02919509895209447, -1.2743217580842654, 1.601029409935119, 0.6440972491970524,
                -0.5417304002950027, -1.522833345895988, 1.0536100257491277, 0.010953720441862956}, 1e-12, 1e-12);
  expect_close(r.memory_grad, {-0.05057887673107287, -0.05057887673107287, -0.05057887673107287,
                -0.05057887673107287, -0.0641289164707865, -0.0641289164707865,
                -0.0641289164707865, -0.0641289164707865, 0.003908480083712258,
                0.003908480083712258, 0.003908480083712258, 0.003908480083712258,
                0.21758392622995082, 0.21758392622995082, 0.21758392622995082, 0.21758392622995082,
                -0.018138704756473188, -0.018138704756473188, -0.018138704756473188,
                -0.018138704756473188, 0.09164755593563013, 0.09164755593563013,
                0.09164755593563013, 0.09164755593563013, 0.23842311205935704, 0.23842311205935704,
                0.23842311205935704, 0.23842311205935704, 0.5075889344676997, 0.5075889344676997,
                0.5075889344676997, 0.5075889344676997, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, 1e-12, 1e-12);
  // clang-format on
}

TEST_CASE("Transformer: PyTorch's output and gradients, with its causal mask") {
  // torch: nn.Transformer(4, 2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=6,
  // dropout=0), src [5, 2, 4], tgt [3, 2, 4], tgt_mask = generate_square_subsequent_mask(3)
  nn::Transformer model(nn::TransformerOptions(4, 2)
                            .num_encoder_layers(1)
                            .num_decoder_layers(2)
                            .dim_feedforward(6)
                            .dropout(0.0));
  CHECK(model.parameters().size() == 52);
  CHECK(model.named_parameters().front().first == "encoder.layers.0.self_attn.in_proj_weight");
  model.to(kFloat64);
  load_decoder_reference(model);
  Tensor src = reference_values({5, 2, 4}, 5, 13, 6, 4.0).requires_grad_();
  Tensor tgt = reference_values({3, 2, 4}, 7, 11, 5, 3.0).requires_grad_();
  const Tensor mask = nn::Transformer::generate_square_subsequent_mask(3, kFloat64);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(values(mask) == std::vector<double>{0, -inf, -inf, 0, 0, -inf, 0, 0, 0});
  const Tensor y = model.forward(src, tgt, Tensor(), mask);
  (y * reference_upstream(y.sizes())).sum().backward();
  // clang-format off
  expect_close(values(y), {-0.8602498209502915, 0.2565829132286409, 2.2819392914713497, 0.5935810687154175,
                -0.8168409220367399, 0.3307834828626952, 2.2938518323813755, 0.25566094591306826,
                -0.8435002233043507, 0.4187443527558287, 2.2091204545175596, 0.2993515816823331,
                -0.8167818938887691, 0.33105949273364654, 2.293731754576134, 0.2550329173196045,
                -0.8463222790066498, 0.42409959010115544, 2.202181178548326, 0.3091816977598543,
                -0.8714924866400284, 0.2952280947464387, 2.2463525498017334, 0.6087103573315925}, 1e-12, 1e-12);
  expect_close(values(src.grad()), {0.004838389322993642, 0.011674265552701464, -0.004558483738469964,
                -0.013443398161294945, -0.025232524230459193, -0.014948951573675694,
                0.046834696838692236, -0.022122830703321758, 0.0046268403023255345,
                0.011575236990460501, -0.004774560378556369, -0.013404233086019606,
                0.00040948418091506667, -0.009680395506437362, 0.013599722232610632,
                -0.01493871402438032, 0.004400919445066983, 0.011459923778574181,
                -0.005000840747141662, -0.013365102335492667, 0.0009388085383508328,
                -0.009872770815693184, 0.013969698780688954, -0.01498440133904239,
                0.01435301610686515, 0.017534940808070245, -0.04095743125585071,
                0.004255195865741846, 0.0014174246121818682, -0.010050579600702823,
                0.014321871270894005, -0.015027581364363496, 0.013381190593196833,
                0.017032894837760926, -0.038294272426862716, 0.002734483834507671,
                -0.005102749214922495, -0.01270710222666989, 0.0005288170106693517,
                0.0066041302072393625}, 1e-12, 1e-12);
  expect_close(values(tgt.grad()), {-0.06484695799194037, 0.031027748721376536, 0.054384898152695746,
                -0.0933606620159412, -0.05317599178544952, 0.02429758155714131,
                0.059335740599085175, -0.07163763651129298, -0.08952225372919045,
                -0.06322726879415584, 0.04473806038579188, 0.03426858772149836,
                -0.05487666731940334, -0.016317519141183366, -0.007712366923116226,
                0.027479416205467753, -0.1494935039817163, -0.13182284540619826,
                0.1734938950768976, 0.043447631300223694, 0.05628560385634697,
                -0.23883367757020543, 0.09221998798981665, 0.09163038008837064}, 1e-12, 1e-12);
  // clang-format on
}

TEST_CASE("TransformerDecoder and Transformer: stacking, masks, initialisation, printing, errors") {
  manual_seed(51);
  const auto options = nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.25);
  nn::TransformerDecoder decoder(options, 2, /*final_norm=*/true);
  const auto state = decoder.state_dict();
  CHECK(state.count("layers.1.multihead_attn.in_proj_weight") == 1);
  CHECK(state.count("layers.0.norm3.bias") == 1);
  CHECK(state.count("norm.weight") == 1);
  CHECK(decoder.parameters().size() == 2 * 18 + 2);
  const Tensor tgt = randn({4, 2, 8}), memory = randn({6, 2, 8});  // [T, N, E], [S, N, E]
  decoder.eval();
  Tensor expected = tgt;
  for (int64_t i = 0; i < 2; ++i)
    expected = decoder.layers->at<nn::TransformerDecoderLayer>(i)->forward(expected, memory);
  CHECK(hg::test::same_bits(decoder.forward(tgt, memory), decoder.norm->forward(expected)));
  // causal: a later target position changes nothing before it
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(4);
  Tensor changed = tgt.clone();
  changed.select(0, 3).fill_(5.0);
  expect_close(values(decoder.forward(tgt, memory, causal).narrow(0, 0, 3)),
               values(decoder.forward(changed, memory, causal).narrow(0, 0, 3)), 1e-6, 1e-6);
  // a padded memory key changes nothing
  const Tensor padding = from_vector<bool>(
      {false, false, false, false, false, true, false, false, false, false, false, false}, {2, 6});
  Tensor changed_memory = memory.clone();
  changed_memory.select(0, 5).select(0, 0).fill_(100.0);
  expect_close(values(decoder.forward(tgt, memory, Tensor(), Tensor(), Tensor(), padding)),
               values(decoder.forward(tgt, changed_memory, Tensor(), Tensor(), Tensor(), padding)),
               1e-6, 1e-6);
  // dropout in training: a gradient for every parameter
  decoder.train();
  decoder.forward(tgt, memory, causal).sum().backward();
  for (const Tensor& p : decoder.parameters()) CHECK(p.grad().defined());
  // Transformer: xavier uniform matrices, zero attention biases
  nn::Transformer model(nn::TransformerOptions(8, 2).num_encoder_layers(1).num_decoder_layers(1));
  const Tensor in_proj =
      model.encoder->layers->at<nn::TransformerEncoderLayer>(0)->self_attn->in_proj_weight;
  CHECK(in_proj.abs().max().item<float>() <= std::sqrt(6.0 / (24 + 8)));
  CHECK(in_proj.abs().max().item<float>() > 0.5 * std::sqrt(6.0 / (24 + 8)));
  CHECK(decoder.layers->at<nn::TransformerDecoderLayer>(0)->describe() ==
        "TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.25, "
        "activation=relu)");
  CHECK(decoder.describe() == "TransformerDecoder(num_layers=2, norm=LayerNorm)");
  CHECK(model.describe() ==
        "Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1)");
  expect_error(
      [&] {
        model.forward(randn({5, 2, 8}), randn({4, 3, 8}));
      },
      {"Transformer", "batch size", "[5, 2, 8]", "[4, 3, 8]"});
  expect_error(
      [&] {
        model.forward(randn({5, 2, 6}), randn({4, 2, 6}));
      },
      {"Transformer", "d_model = 8", "[5, 2, 6]"});
  expect_error(
      [&] {
        model.forward(randn({5, 2, 8}), randn({4, 8}));
      },
      {"Transformer", "both batched", "[4, 8]"});
  expect_error(
      [&] {
        decoder.forward(tgt, randn({6, 8}));
      },
      {"TransformerDecoderLayer", "both be batched", "[6, 8]"});
  expect_error([&] { nn::TransformerDecoder(options, 0); }, {"TransformerDecoder", "num_layers"});
  expect_error([] { nn::Transformer::generate_square_subsequent_mask(3, kInt64); },
               {"generate_square_subsequent_mask", "floating", "int64"});
}

TEST_CASE("Transformer: learns to copy a sequence (teacher forcing, causal mask)") {
  // tokens 1..5, sequences of 4; the decoder reads [start = 0, s0, s1, s2] and predicts s.
  manual_seed(52);
  const int64_t width = 16, length = 4, vocab = 6, batch = 32;
  nn::Embedding tokens(vocab, width), positions(length, width);
  nn::Transformer model(nn::TransformerOptions(width, 2)
                            .num_encoder_layers(1)
                            .num_decoder_layers(1)
                            .dim_feedforward(32)
                            .dropout(0.0)
                            .batch_first(true));
  nn::Linear head(width, vocab);
  std::vector<Tensor> params = model.parameters();
  for (nn::Module* m : std::vector<nn::Module*>{&tokens, &positions, &head})
    for (const Tensor& p : m->parameters()) params.push_back(p);
  optim::Adam adam(params, optim::AdamOptions(1e-2));
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(length);
  const Tensor where = arange(length, kInt64);
  const auto run = [&](const Tensor& sequence) {  // [N, 4] int64 -> logits [N, 4, vocab]
    const Tensor shifted = cat({zeros({sequence.size(0), 1}, kInt64), sequence.narrow(1, 0, 3)}, 1);
    const Tensor pos = positions.forward(where);
    const Tensor y = model.forward(tokens.forward(sequence) + pos, tokens.forward(shifted) + pos,
                                   Tensor(), causal);
    return head.forward(y);
  };
  double loss_value = 0.0;
  for (int step = 0; step < 200; ++step) {
    const Tensor sequence = randint(1, vocab, {batch, length});
    const Tensor loss = cross_entropy(run(sequence).flatten(0, 1), sequence.flatten());
    adam.zero_grad();
    loss.backward();
    adam.step();
    loss_value = loss.item<float>();
  }
  CHECK(loss_value < 0.05);
  const Tensor fresh = randint(1, vocab, {64, length});
  CHECK(eq(run(fresh).argmax(-1), fresh).to(kFloat32).mean().item<float>() == 1.0f);
}
