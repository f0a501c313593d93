#include "halfgrad/kernels/cpu/cpu_kernels.h"

namespace hg::kernels {

// Constant-initialised (function pointers only), so they are ready before any static
// constructor of the CUDA backend writes its column.
DispatchTable<CopyFn> copy{"copy", {cpu::copy, nullptr}};
DispatchTable<FillFn> fill{"fill", {cpu::fill, nullptr}};
DispatchTable<UnaryFn> unary{"unary", {cpu::unary, nullptr}};
DispatchTable<UnaryBackwardFn> unary_backward{"unary_backward", {cpu::unary_backward, nullptr}};
DispatchTable<BinaryFn> binary{"binary", {cpu::binary, nullptr}};
DispatchTable<WhereFn> where{"where", {cpu::where, nullptr}};
DispatchTable<ReduceFn> reduce{"reduce", {cpu::reduce, nullptr}};
DispatchTable<ArgReduceFn> arg_reduce{"arg_reduce", {cpu::arg_reduce, nullptr}};
DispatchTable<ArgsortFn> argsort{"argsort", {cpu::argsort, nullptr}};
DispatchTable<CumsumFn> cumsum{"cumsum", {cpu::cumsum, nullptr}};
DispatchTable<GemmFn> gemm{"gemm", {cpu::gemm, nullptr}};
DispatchTable<GemmBiasFn> gemm_bias{"gemm_bias", {cpu::gemm_bias, nullptr}};
DispatchTable<GemmBiasGradFn> gemm_bias_grad{"gemm_bias_grad", {cpu::gemm_bias_grad, nullptr}};
DispatchTable<SoftmaxFn> softmax{"softmax", {cpu::softmax, nullptr}};
DispatchTable<SoftmaxBackwardFn> softmax_backward{"softmax_backward",
                                                  {cpu::softmax_backward, nullptr}};

}  // namespace hg::kernels
