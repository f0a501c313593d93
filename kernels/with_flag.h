#pragma once
// Turning a runtime flag into a template argument, for kernels that keep a per-element test out
// of their loops: body.template operator()<true>() or <false>(), one instantiation each.
namespace hg::kernels {

template <typename Body>
void with_flag(bool flag, Body&& body) {
  if (flag)
    body.template operator()<true>();
  else
    body.template operator()<false>();
}

}  // namespace hg::kernels
