// Copy with dtype conversion, and fill. The contiguous same-dtype case is a memcpy per run.
#include <cstring>

#include "halfgrad/kernels/cpu/convert_bulk.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels::cpu {

void copy(const TensorView& src, const TensorView& out) {
  dispatch_all(out.dtype, [&]<typename To>() {
    dispatch_all(src.dtype, [&]<typename From>() {
      for_each<2>({&out, &src}, [](char** p, const int64_t* s, int64_t n) {
        constexpr bool widening = std::is_same_v<To, float> &&
                                  (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>);
        constexpr bool narrowing = std::is_same_v<From, float> &&
                                   (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>);
        if (s[0] == sizeof(To) && s[1] == sizeof(From)) {  // contiguous runs: bulk paths
          if constexpr (std::is_same_v<To, From>) {
            std::memcpy(p[0], p[1], static_cast<size_t>(n) * sizeof(To));
            return;
          } else if constexpr (widening) {  // the casts autocast inserts, 8 values at a time
            widen_n(reinterpret_cast<const From*>(p[1]), reinterpret_cast<To*>(p[0]), n);
            return;
          } else if constexpr (narrowing) {
            narrow_n(reinterpret_cast<const From*>(p[1]), reinterpret_cast<To*>(p[0]), n);
            return;
          }
        }
        for (int64_t i = 0; i < n; ++i) {
          *reinterpret_cast<To*>(p[0] + i * s[0]) =
              convert<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
        }
      });
    });
  });
}

void fill(const TensorView& out, double value) {
  dispatch_all(out.dtype, [&]<typename T>() {
    const T v = convert<T>(value);
    for_each<1>({&out}, [v](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    });
  });
}

}  // namespace hg::kernels::cpu
