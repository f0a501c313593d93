// nn::TransformerEncoderLayer and nn::TransformerEncoder: PyTorch 1.13's outputs and input
// gradients (post-norm with relu, pre-norm with gelu, a causal mask), submodule names, stacking,
// dropout, printing, errors.
#include <string>
#include <vector>

#include "autograd/grad_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_upstream;
using hg::test::reference_values;
using hg::test::values;

namespace {

// The torch script's parameters: the i-th named parameter (torch's order) gets
// reference_values(shape, 3 + i % 5, 7 + 2 (i % 4), 3 + i % 3, 8), norm weights plus 1.
void load_transformer_reference(nn::TransformerEncoderLayer& layer) {
  const std::vector<std::string> names{"self_attn.in_proj_weight",
                                       "self_attn.in_proj_bias",
                                       "self_attn.out_proj.weight",
                                       "self_attn.out_proj.bias",
                                       "linear1.weight",
                                       "linear1.bias",
                                       "linear2.weight",
                                       "linear2.bias",
                                       "norm1.weight",
                                       "norm1.bias",
                                       "norm2.weight",
                                       "norm2.bias"};
  std::map<std::string, Tensor> state = layer.state_dict();
  REQUIRE(state.size() == names.size());
  for (int64_t i = 0; i < static_cast<int64_t>(names.size()); ++i) {
    const std::string& name = names[i];
    REQUIRE(state.count(name) == 1);
    Tensor v = reference_values(state[name].sizes(), 3 + i % 5, 7 + 2 * (i % 4), 3 + i % 3, 8.0);
    const bool norm_weight = name.rfind("norm", 0) == 0 && name.find("weight") != std::string::npos;
    state[name] = norm_weight ? v + 1.0 : v;
  }
  layer.load_state_dict(state);
}

std::vector<double> transformer_reference_output(const nn::TransformerEncoderLayerOptions& options,
                                                 std::vector<double>* input_grad) {
  nn::TransformerEncoderLayer layer(options);
  layer.to(kFloat64);
  load_transformer_reference(layer);
  Tensor x = reference_values({2, 3, 4}, 5, 13, 6, 4.0).requires_grad_();
  const Tensor causal = triu(ones({3, 3}, kBool), 1);
  const Tensor y = layer.forward(x, causal, Tensor());
  (y * reference_upstream(y.sizes())).sum().backward();
  *input_grad = values(x.grad());
  return values(y);
}

}  // namespace

TEST_CASE("TransformerEncoderLayer: PyTorch's outputs and input gradients") {
  // torch 1.13: nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0, batch_first=True)
  // with the parameters above, x [2, 3, 4], src_mask = the causal bool mask
  const auto options =
      nn::TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).dropout(0.0).batch_first(true);
  std::vector<double> grad;
  // clang-format off
  expect_close(transformer_reference_output(options, &grad),
               {-1.1798796163705023, 0.2268613538253355, 2.1740638266309955, -0.3138810213774992,
                -1.2598490557621849, 1.16847863967932, 0.6205205597582167, 0.21690808699410968,
                -1.177434641620538, 0.17384048452442946, 2.2131687307334604, -0.27419623594640474,
                -1.1017579355444669, -0.9233545013135571, 2.1770234478752077, 1.5644911678640683,
                -1.199255706551393, 0.17905536172756664, 2.1983168721240047, -0.19365513067751733,
                -1.1062950210785498, -0.9355466853185977, 2.1360314244310725, 1.6551689537651455},
               1e-12, 1e-12);
  expect_close(grad,
               {-0.37683367990271943, 0.3389998570581853, -0.4438724543204443, -0.39593465730301197,
                0.5796484700152397, 0.7624782122581352, -0.20407491683980367, -1.6549104518114217,
                -0.2245525355421671, -0.07568639002193445, -0.04285518030089967, 0.4016818792119528,
                0.6466252938858944, 0.47201734767340964, -1.1685700133045833, 1.4591319653524635,
                0.06568696615879543, -0.6144104111527012, 0.25572749110274223, 0.4057512639758868,
                0.2774626069110909, -0.21003170737583685, 0.11804418838458212, -0.2526524458563714},
               1e-12, 1e-12);
  // pre-norm with gelu
  expect_close(transformer_reference_output(
                   nn::TransformerEncoderLayerOptions(options).norm_first(true).activation(nn::TransformerActivation::GELU), &grad),
               {-2.997797998679988, -0.12915401671792837, 2.5159941427198436, -1.1876170387118132,
                -0.2275193335765342, 1.6906255023702446, 0.9669907166403318, 0.5693287568481472,
                -2.114361601826624, 0.36713853606059027, 2.9515054271500683, -1.1166702646666833,
                -0.7424642252355191, -1.1980011047865862, 1.558340994650305, 0.556364364463553,
                -2.3283716499959746, 0.4839296921432799, 3.161488206104065, -0.8499022671707982,
                -0.5779418423993318, -0.9965071440036509, 1.7362740204338354, 0.8943785828536772},
               1e-12, 1e-12);
  expect_close(grad,
               {-1.300663401583648, 0.653823191145875, 0.1729287981236616, -1.0260885876858885,
                1.6590676319128561, 0.7157775389940149, -0.6055125999747899, -1.7693325709320809,
                0.8557330129977028, 0.28871396329295107, -1.1431695561226627, 1.4987225798320085,
                0.4271270901988606, -0.44752567495512824, -1.6005869258573973, 1.120985510613665,
                -0.019804757183078132, -1.1054539130556702, 1.5268129274197917, 0.5984457428189567,
                -0.5441748597852891, -1.5202342245346943, 1.0774084705492992, -0.012999386229315749},
               1e-12, 1e-12);
  // clang-format on
}

TEST_CASE("TransformerEncoder: a stack of layers, a final norm, dropout, printing, errors") {
  manual_seed(50);
  const auto options = nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.25);
  nn::TransformerEncoder encoder(options, 3, /*final_norm=*/true);
  CHECK(encoder.layers->size() == 3);
  const auto state = encoder.state_dict();
  CHECK(state.count("layers.2.self_attn.out_proj.weight") == 1);
  CHECK(state.count("norm.bias") == 1);
  CHECK(encoder.parameters().size() == 3 * 12 + 2);
  const Tensor src = randn({5, 2, 8});  // [S, N, E]
  // = the layers one after the other, then the norm (in eval: no dropout)
  encoder.eval();
  Tensor expected = src;
  for (int64_t i = 0; i < 3; ++i)
    expected = encoder.layers->at<nn::TransformerEncoderLayer>(i)->forward(expected);
  expected = encoder.norm->forward(expected);
  CHECK(hg::test::same_bits(encoder.forward(src), expected));
  // dropout in training: another result each call, and a gradient for every parameter
  encoder.train();
  const Tensor a = encoder.forward(src), b = encoder.forward(src);
  CHECK_FALSE(hg::test::same_bits(a, b));
  a.sum().backward();
  for (const Tensor& p : encoder.parameters()) CHECK(p.grad().defined());
  // a padding mask reaches the attention: a padded key changes nothing for the others
  encoder.eval();
  const Tensor padding = from_vector<bool>(
      {false, false, false, false, true, false, false, false, false, false}, {2, 5});
  Tensor changed = src.clone();
  changed.select(0, 4).select(0, 0).fill_(100.0);  // the padded key of sample 0
  const Tensor before = encoder.forward(src, Tensor(), padding);
  const Tensor after = encoder.forward(changed, Tensor(), padding);
  expect_close(values(before.narrow(0, 0, 4).select(1, 0)),
               values(after.narrow(0, 0, 4).select(1, 0)), 1e-6, 1e-6);
  CHECK(encoder.layers->at<nn::TransformerEncoderLayer>(0)->describe() ==
        "TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.25, "
        "activation=relu)");
  CHECK(encoder.describe() == "TransformerEncoder(num_layers=3, norm=LayerNorm)");
  expect_error([&] { nn::TransformerEncoder(options, 0); }, {"TransformerEncoder", "num_layers"});
  expect_error([] { nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(6, 4)); },
               {"MultiheadAttention", "embed_dim 6", "num_heads 4"});
}
