#!/usr/bin/env python3
"""Reference values for halfgrad's optimizer tests (tests/optim/), computed with PyTorch.

Prints a C++ header with every number the tests compare against; regenerate it with
    /usr/bin/python3 tools/reference/optim_reference.py > tests/optim/optim_reference.h
The values were generated once with Debian's python3-torch (PyTorch 1.13, CPU) and committed;
the tests do not need PyTorch.

Inputs are literals printed into the header too (17 significant digits, so the C++ side reads
exactly the doubles used here); fp32 cases round them to float32 the same way (RNE) on both
sides. Optimizer cases run STEPS updates on one parameter of N elements, with the gradient of
step t set by hand (kGrads[t]), and record the parameter after every step.
"""
import math

import torch

N = 6
STEPS = 6
INIT = [0.5, -1.25, 2.0, -0.75, 1.5, 0.1]
GRADS = [[round(math.sin(0.7 * (t + 1) + 1.3 * j) * (1.0 + 0.5 * j), 6) for j in range(N)]
         for t in range(STEPS)]


def fmt(x):
    if math.isinf(x):
        return "kInf" if x > 0 else "-kInf"
    return repr(float(x))


def array1(values):
    return "{" + ", ".join(fmt(v) for v in values) + "}"


def array2(rows):
    return "{\n    " + ",\n    ".join(array1(r) for r in rows) + "}"


def emit(name, rows, comment):
    print(f"// {comment}")
    if rows and isinstance(rows[0], list):
        print(f"inline constexpr double {name}[{len(rows)}][{len(rows[0])}] = {array2(rows)};")
    else:
        print(f"inline constexpr double {name}[{len(rows)}] = {array1(rows)};")


def run_optimizer(make, dtype):
    p = torch.tensor(INIT, dtype=dtype, requires_grad=True)
    opt = make([p])
    out = []
    for t in range(STEPS):
        p.grad = torch.tensor(GRADS[t], dtype=dtype)
        opt.step()
        out.append([float(v) for v in p.detach().tolist()])
    return out


OPTIMIZERS = [
    ("SgdPlain", "SGD(lr=0.1)", lambda ps: torch.optim.SGD(ps, lr=0.1)),
    ("SgdMomentum", "SGD(lr=0.1, momentum=0.9)",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("SgdDampening", "SGD(lr=0.1, momentum=0.9, dampening=0.3)",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3)),
    ("SgdNesterov", "SGD(lr=0.1, momentum=0.9, nesterov=True)",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
    ("SgdWeightDecay", "SGD(lr=0.1, momentum=0.8, weight_decay=0.05)",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, weight_decay=0.05)),
    ("Adam", "Adam(lr=0.01)", lambda ps: torch.optim.Adam(ps, lr=0.01)),
    ("AdamWeightDecay", "Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)",
     lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamAmsgrad", "Adam(lr=0.01, amsgrad=True)",
     lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True)),
    ("AdamW", "AdamW(lr=0.01) (weight_decay 1e-2 by default)",
     lambda ps: torch.optim.AdamW(ps, lr=0.01)),
    ("AdamWAmsgrad", "AdamW(lr=0.02, weight_decay=0.3, amsgrad=True)",
     lambda ps: torch.optim.AdamW(ps, lr=0.02, weight_decay=0.3, amsgrad=True)),
]


def quadratic_adam():
    """Adam(lr=0.05) on loss = sum((w - target)^2), gradients from autograd."""
    target = torch.tensor([1.0, -2.0, 0.5, 3.0, -0.25, 0.0], dtype=torch.float64)
    w = torch.tensor(INIT, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((w - target) * (w - target)).sum()
        loss.backward()
        opt.step()
        out.append(w.detach().tolist())
    return target.tolist(), out


def two_groups():
    """SGD: group 0 = INIT[:3] with lr 0.1, momentum 0.9; group 1 = INIT[3:] with the defaults
    lr 0.01, momentum 0."""
    a = torch.tensor(INIT[:3], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(INIT[3:], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1, "momentum": 0.9}, {"params": [b]}], lr=0.01)
    out = []
    for t in range(STEPS):
        a.grad = torch.tensor(GRADS[t][:3], dtype=torch.float64)
        b.grad = torch.tensor(GRADS[t][3:], dtype=torch.float64)
        opt.step()
        out.append(a.detach().tolist() + b.detach().tolist())
    return out


def lr_sequence(make_scheduler, lrs, steps):
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])
    sched = make_scheduler(opt)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return [list(map(float, r)) for r in out]


SCHEDULERS = [
    ("StepLR", "StepLR(step_size=3, gamma=0.1), group lrs 0.1 and 0.5: lrs of epochs 0..12",
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1), [0.1, 0.5], 12),
    ("CosineAnnealingLR", "CosineAnnealingLR(T_max=10, eta_min=0.001), lr 0.1: epochs 0..25",
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), [0.1], 25),
    ("OneCycleCos", "OneCycleLR(max_lr=0.1, total_steps=20, cycle_momentum=False): epochs 0..19",
     lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=20,
                                                   cycle_momentum=False), [0.1], 19),
    ("OneCycleLinear", "OneCycleLR(max_lr=0.2, total_steps=15, pct_start=0.4, "
     "anneal_strategy='linear', div_factor=10, final_div_factor=100, cycle_momentum=False): "
     "epochs 0..14",
     lambda o: torch.optim.lr_scheduler.OneCycleLR(
         o, max_lr=0.2, total_steps=15, pct_start=0.4, anneal_strategy="linear", div_factor=10.0,
         final_div_factor=100.0, cycle_momentum=False), [0.1], 14),
    ("OneCycleThreePhase", "OneCycleLR(max_lr=0.1, total_steps=20, pct_start=0.25, "
     "three_phase=True, cycle_momentum=False): epochs 0..19",
     lambda o: torch.optim.lr_scheduler.OneCycleLR(
         o, max_lr=0.1, total_steps=20, pct_start=0.25, three_phase=True, cycle_momentum=False),
     [0.1], 19),
    ("LinearWarmup", "LinearLR(start_factor=0.25, end_factor=1.0, total_iters=5), lr 0.2: "
     "epochs 0..10",
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=5), [0.2], 10),
    ("MultiStepLR", "MultiStepLR(milestones=[2, 5, 5, 9], gamma=0.5), group lrs 0.1 and 0.4: "
     "epochs 0..12",
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.5),
     [0.1, 0.4], 12),
    ("ExponentialLR", "ExponentialLR(gamma=0.9), lr 0.3: epochs 0..15",
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), [0.3], 15),
    ("SequentialLR", "SequentialLR([LinearLR(start_factor=0.25, total_iters=3), "
     "CosineAnnealingLR(T_max=6, eta_min=0.001), StepLR(step_size=2, gamma=0.5)], "
     "milestones=[3, 9]), group lrs 0.1 and 0.2: epochs 0..14",
     lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
         torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3),
         torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
         torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)], milestones=[3, 9]),
     [0.1, 0.2], 14),
]

CLIP_GRADS = [[3.0, -4.0, 1.5], [0.5, -2.0, 2.5, 1.0]]


def clip_case(max_norm, norm_type, dtype):
    params = [torch.zeros(len(g), dtype=dtype, requires_grad=True) for g in CLIP_GRADS]
    for p, g in zip(params, CLIP_GRADS):
        p.grad = torch.tensor(g, dtype=dtype)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    return [float(total)] + params[0].grad.tolist() + params[1].grad.tolist()


def main():
    print("#pragma once")
    print("// Generated by tools/reference/optim_reference.py with PyTorch "
          f"{torch.__version__}; do not edit.")
    print("// One array per line, as generated: not reformatted.")
    print("// clang-format off")
    print("#include <limits>\n")
    print("namespace hg::test::optim_ref {\n")
    print("inline constexpr double kInf = std::numeric_limits<double>::infinity();")
    print(f"inline constexpr int kN = {N};")
    print(f"inline constexpr int kSteps = {STEPS};")
    emit("kInit", INIT, "the parameter's initial value")
    emit("kGrads", GRADS, "the gradient of each step")
    print()
    for name, desc, make in OPTIMIZERS:
        for dtype, suffix in ((torch.float64, "F64"), (torch.float32, "F32")):
            emit(f"k{name}{suffix}", run_optimizer(make, dtype),
                 f"{desc}, {str(dtype)[6:]}: the parameter after each step")
    target, values = quadratic_adam()
    emit("kQuadraticTarget", target, "quadratic loss sum((w - target)^2)")
    emit("kQuadraticAdam", values, quadratic_adam.__doc__.strip())
    emit("kTwoGroups", two_groups(), " ".join(two_groups.__doc__.split()))
    print()
    for name, desc, make, lrs, steps in SCHEDULERS:
        emit(f"k{name}", lr_sequence(make, lrs, steps), desc)
    print()
    emit("kClipGrads", [g + [0.0] * (4 - len(g)) for g in CLIP_GRADS],
         "clip_grad_norm_: two gradients [3] and [4] (the first padded with 0 here)")
    cases = [(1.0, 2.0), (1.0, 1.0), (1.0, math.inf), (2.0, 3.0), (100.0, 2.0)]
    emit("kClipCases", [[m, p] for m, p in cases], "{max_norm, norm_type} of each case")
    for dtype, suffix in ((torch.float64, "F64"), (torch.float32, "F32")):
        emit(f"kClip{suffix}", [clip_case(m, p, dtype) for m, p in cases],
             f"{str(dtype)[6:]}: {{total norm, clipped grads of both}} per case")
    print("\n}  // namespace hg::test::optim_ref")


if __name__ == "__main__":
    main()
