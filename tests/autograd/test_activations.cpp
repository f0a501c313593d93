// log1p, expm1 (autograd/unary_ops.cpp) and the activations composed from them (softplus, elu,
// selu, mish in autograd/composite_ops.cpp): PyTorch 1.13's values and gradients in float64,
// the tails where the naive formulas fail, the 16-bit and autocast rules, and the modules.
#include <cmath>
#include <functional>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::same_bits;
using hg::test::values;

namespace {

// The reference script's inputs: both tails, both sides of 0, and the tiny values where
// log(1 + x) and exp(x) - 1 round away.
const std::vector<double> kInputs = {-30.0, -5.0, -1.0, -1e-3, -1e-9, 0.0,  1e-9,
                                     1e-3,  0.5,  2.0,  9.0,   15.0,  25.0, 100.0};

struct TorchCase {
  const char* torch_call;
  std::function<Tensor(const Tensor&)> fn;
  std::vector<double> y, grad;
};

}  // namespace

TEST_CASE("log1p, expm1, softplus, elu, selu, mish: PyTorch's values and gradients") {
  // torch 1.13, float64: y = <torch_call>, then (y * g).sum().backward()
  const std::vector<TorchCase> cases = {
      {"log1p(abs(x))",
       [](const Tensor& x) { return log1p(abs(x)); },
       {3.4339872044851463, 1.791759469228055, 0.6931471805599453, 0.0009995003330835331,
        9.999999995e-10, 0.0, 9.999999995e-10, 0.0009995003330835331, 0.4054651081081644,
        1.0986122886681098, 2.302585092994046, 2.772588722239781, 3.258096538021482,
        4.61512051684126},
       {0.04838709677419355, -0.16666666666666666, -0.0, 0.9990009990009991, -1.4999999984999999,
        0.0, -0.49999999949999996, -1.4985014985014986, 0.6666666666666666, 0.0, -0.1, 0.09375,
        0.019230769230769232, -0.0049504950495049506}},
      {"expm1(x.clamp(max=50))",
       [](const Tensor& x) { return expm1(clamp_max(x, 50)); },
       {-0.9999999999999064, -0.9932620530009145, -0.6321205588285577, -0.0009995001666250085,
        -9.999999995e-10, 0.0, 1.0000000005000001e-09, 0.0010005001667083417, 0.6487212707001282,
        6.38905609893065, 8102.083927575384, 3269016.3724721107, 72004899336.38588,
        5.184705528587072e+21},
       {-1.4038770146385104e-13, 0.006737946999085476, 0.0, -0.999000499833375, 1.4999999985, 0.5,
        -0.5000000005, -1.5015007502500626, 1.6487212707001282, 0.0, -8103.083927575384,
        4903526.058708166, 36002449668.69294, 0.0}},
      {"F.softplus(x)",
       [](const Tensor& x) { return softplus(x); },
       {9.357622968839737e-14, 0.006715348489118068, 0.31326168751822286, 0.6926473055599401,
        0.6931471800599454, 0.6931471805599453, 0.6931471810599453, 0.6936473055599401,
        0.9740769841801067, 2.1269280110429727, 9.000123402189724, 15.000000305902274, 25.0, 100.0},
       {-1.403643445325895e-13, 0.006692850924284856, 0.0, -0.49975000002083336, 0.7499999996250001,
        0.25, -0.250000000125, -0.75037499996875, 0.6224593312018546, 0.0, -0.9998766054240138,
        1.4999995411466596, 0.5, -0.5}},
      {"F.softplus(x, beta=2, threshold=5)",
       [](const Tensor& x) { return softplus(x, 2, 5); },
       {4.37825538134826e-27, 2.2699449608432323e-05, 0.06346400552148625, 0.346073840279931,
        0.34657358977997266, 0.34657359027997264, 0.34657359077997263, 0.347073840279931,
        0.6566308437591114, 2.0090749639589047, 9.0, 15.0, 25.0, 100.0},
       {-1.3134766144044781e-26, 4.5397868702434395e-05, 0.0, -0.49950000016666657, 0.74999999925,
        0.25, -0.25000000024999997, -0.75074999975, 0.7310585786300049, 0.0, -1.0, 1.5, 0.5, -0.5}},
      {"F.elu(x)",
       [](const Tensor& x) { return elu(x); },
       {-0.9999999999999064, -0.9932620530009145, -0.6321205588285577, -0.000999500166624978,
        -9.999999717180685e-10, 0.0, 1e-09, 0.001, 0.5, 2.0, 9.0, 15.0, 25.0, 100.0},
       {-1.4036434453260263e-13, 0.006737946999085467, 0.0, -0.999000499833375, 1.4999999985, 0.5,
        -0.5, -1.5, 1.0, 0.0, -1.0, 1.5, 0.5, -0.5}},
      {"F.elu(x, alpha=0.5)",
       [](const Tensor& x) { return elu(x, 0.5); },
       {-0.4999999999999532, -0.49663102650045726, -0.31606027941427883, -0.000499750083312489,
        -4.999999858590343e-10, 0.0, 1e-09, 0.001, 0.5, 2.0, 9.0, 15.0, 25.0, 100.0},
       {-7.018217226630131e-14, 0.0033689734995427335, 0.0, -0.4995002499166875, 0.74999999925,
        0.25, -0.5, -1.5, 1.0, 0.0, -1.0, 1.5, 0.5, -0.5}},
      {"F.selu(x)",
       [](const Tensor& x) { return selu(x); },
       {-1.758099340847212, -1.7462533606696198, -1.1113307378125625, -0.0017572205841202171,
        -1.7580992911249316e-09, 0.0, 1.0507009873554806e-09, 0.0010507009873554805,
        0.5253504936777402, 2.101401974710961, 9.456308886199324, 15.760514810332207,
        26.26752468388701, 105.07009873554804},
       {-2.4677446160124274e-13, 0.011845980177756718, 0.0, -1.7563421202632563, 2.637149008633916,
        0.8790496704236883, -0.5253504936777402, -1.5760514810332207, 1.0507009873554805, 0.0,
        -1.0507009873554805, 1.5760514810332207, 0.5253504936777402, -0.5253504936777402}},
      {"F.mish(x)",
       [](const Tensor& x) { return mish(x); },
       {-2.807286890651921e-12, -0.033576237730161704, -0.30340146137410895, -0.0005996799840458664,
        -5.999999996800001e-10, 0.0, 6.000000003200001e-10, 0.000600319983954133,
        0.3752452113048951, 1.9439589595339946, 8.999999725928019, 14.999999999997192, 25.0, 100.0},
       {4.070565991445089e-12, -0.026747498019901936, 0.0, -0.5993599521834648, 0.89999999904, 0.3,
        -0.30000000032, -0.9009599277247973, 0.8864243753577272, 0.0, -1.0000005176238735,
        1.5000000000081424, 0.5, -0.5}},
  };
  for (const TorchCase& c : cases) {
    CAPTURE(c.torch_call);
    Tensor x = from_vector(kInputs, kFloat64).requires_grad_();
    const Tensor y = c.fn(x);
    // absolute 1e-15: torch's elu is exp(x) - 1 and its expm1 gradient result + 1, which cancel
    // near 0 and far below it, where halfgrad's are expm1(x) and exp(x)
    expect_close(values(y), c.y, 1e-15, 1e-14);
    (y * hg::test::reference_upstream({x.numel()})).sum().backward();
    expect_close(values(x.grad()), c.grad, 1e-15, 1e-12);
  }
}

TEST_CASE("activations: gradcheck, no NaN from the unused branch, fp32 near float64") {
  manual_seed(33);
  const Tensor x = hg::test::leaf_away({3, 5}, {0.0}, 0.05);
  for (const auto& fn : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return log1p(abs(t)); }, [](const Tensor& t) { return expm1(t); },
           [](const Tensor& t) { return softplus(t, 1.5, 1.0); },
           [](const Tensor& t) { return elu(t, 0.7); }, [](const Tensor& t) { return selu(t); },
           [](const Tensor& t) { return mish(t); }})
    check_grad([&fn](const std::vector<Tensor>& in) { return fn(in[0]); }, {x});
  // exp(1000) is inf in every dtype: the branch not taken must not turn the gradient into NaN
  Tensor big = from_vector<float>({1000.0f, -1000.0f}).requires_grad_();
  (softplus(big) + elu(big) + selu(big) + mish(big)).sum().backward();
  CHECK(values(big.grad())[0] == doctest::Approx(1 + 1 + 1.0507009873554805 + 1));
  CHECK(std::isfinite(values(big.grad())[1]));
  // fp32 within a few ulp of the float64 results
  const Tensor x64 = from_vector(kInputs, kFloat64);
  for (const auto& fn : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return log1p(abs(t)); },
           [](const Tensor& t) { return expm1(clamp_max(t, 50)); },
           [](const Tensor& t) { return softplus(t); }, [](const Tensor& t) { return selu(t); },
           [](const Tensor& t) { return mish(t); }})
    expect_close(values(fn(x64.to(kFloat32))), values(fn(x64).to(kFloat32)), 1e-37, 4e-7);
  // expm1's gradient is exp(x) from x: the output's y + 1 would be 0 here in fp32
  Tensor far = from_vector<float>({-20.0f}).requires_grad_();
  expm1(far).sum().backward();
  CHECK(far.grad().item<float>() == std::exp(-20.0f));
  // log1p and expm1 keep the tiny values that log(1 + x) and exp(x) - 1 lose
  CHECK(log1p(from_vector<float>({1e-10f})).item<float>() == 1e-10f);
  CHECK(expm1(from_vector<float>({-1e-10f})).item<float>() == -1e-10f);
}

TEST_CASE("activations: 16-bit inputs computed in float and rounded once, and the autocast lists") {
  const Tensor x32 = from_vector<float>({-8.0f, -0.3f, -1e-4f, 0.0f, 2e-3f, 0.7f, 6.0f, 30.0f});
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = x32.to(dtype);
    const Tensor wide = x.to(kFloat32);
    CHECK(same_bits(softplus(x, 2, 10), softplus(wide, 2, 10).to(dtype)));
    CHECK(same_bits(elu(x, 0.3), elu(wide, 0.3).to(dtype)));
    CHECK(same_bits(selu(x), selu(wide).to(dtype)));
    CHECK(same_bits(mish(x), mish(wide).to(dtype)));
    CHECK(same_bits(log1p(abs(x)), log1p(abs(wide)).to(dtype)));  // one rounding anyway
  }
  // int64 inputs compute in float32, as PyTorch's unary float ops
  CHECK(log1p(arange(3)).dtype() == kFloat32);
  amp::AutocastGuard autocast(kFloat16);
  const Tensor h = x32.to(kFloat16);
  CHECK(log1p(abs(h)).dtype() == kFloat32);
  CHECK(expm1(h).dtype() == kFloat32);
  CHECK(softplus(h).dtype() == kFloat32);
  CHECK(mish(h).dtype() == kFloat16);  // on neither of PyTorch's lists: the input's dtype
  CHECK(elu(h).dtype() == kFloat16);
}

TEST_CASE("activations: errors and modules") {
  expect_error([] { softplus(zeros({2}), 0.0); }, {"softplus", "beta 0", "[2]"});
  expect_error([] { elu(zeros({2}), NAN); }, {"elu", "alpha"});
  expect_error([] { mish(arange(2)); }, {"mish", "floating", "int64"});
  const Tensor x = randn({2, 5});
  CHECK(same_bits(nn::Softplus(2, 3)(x), softplus(x, 2, 3)));
  CHECK(same_bits(nn::ELU(0.5)(x), elu(x, 0.5)));
  CHECK(same_bits(nn::SELU()(x), selu(x)));
  CHECK(same_bits(nn::Mish()(x), mish(x)));
  CHECK(same_bits(nn::Softmax(1)(x), softmax(x, 1)));
  CHECK(same_bits(nn::LogSoftmax(-1)(x), log_softmax(x, -1)));
  CHECK(nn::Softplus().describe() == "Softplus(beta=1, threshold=20)");
  CHECK(nn::ELU(0.5).describe() == "ELU(alpha=0.5)");
  CHECK(nn::LogSoftmax(1).describe() == "LogSoftmax(dim=1)");
  CHECK(nn::Mish().describe() == "Mish()");
}
