#pragma once
// Whether the gradients being produced are still multiplied by a loss scale: set by
// GradScaler::scale(), cleared by unscale_()/update(). optim::clip_grad_norm_ consults it to
// explain clipping of scaled gradients. Per thread; depends on nothing.

namespace hg::amp {

// The pending scale (> 0) while gradients are scaled, else 0; +infinity when the scale lives on
// a device (GradScaler's device mode), where reading its value would wait for the device.
double pending_gradient_scale();
void set_pending_gradient_scale(double scale);

}  // namespace hg::amp
