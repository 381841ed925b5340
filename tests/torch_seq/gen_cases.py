"""Generates the PyTorch nn.Sequential cases `actjit run` is tested on.

Run with the system Python that has torch:  /usr/bin/python3 gen_cases.py
It writes into this directory whatever the working directory:

  <case>/model.txt           print(model)
  <case>/weights.safetensors model.state_dict(), F32 (an empty header if none)
  <case>/x.npy, <case>/y.npy input and model(x), float32 (the seed case has
                             x_b1/y_b1 and x_b5/y_b5)
  cases.txt                  one run per line: case x y atol rtol ulps [args]

The test (tests/test_cli.c) runs `actjit run` on each line of cases.txt and
accepts an element when it is within ulps ULPs of y, or within
atol + rtol * |y|; NaN must match NaN and infinities must match exactly.

Deterministic: fixed seeds, one thread, eval mode (Dropout is the identity).
"""
import collections
import os
import shutil
import sys

import numpy as np
import torch
from torch import nn

# One safetensors writer for both generators.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from gen_golden import save_safetensors  # noqa: E402

OUT = os.path.dirname(os.path.abspath(__file__))

# Tolerances (atol, rtol, ulps): chains with Linear or Softmax are compared
# the way float32 reductions in another order differ; elementwise
# transcendental ops within a few ULP, and results below the normal range
# (FLT_MIN) as equal: PyTorch's sigmoid(-89) is 0 (its exp(89) overflows)
# where the exact result, 2.2e-39, is a denormal; piecewise-linear ops
# exactly.
CHAIN = (1e-5, 1e-5, 0)
TRANSCENDENTAL = (1.1754944e-38, 0.0, 4)
EXACT = (0.0, 0.0, 0)

# Every special float32: signed zeros, infinities, NaN, denormals (the
# smallest and near the normal boundary), the normal extremes, and values
# where exp/tanh/sigmoid saturate or overflow.
SPECIAL = np.array([
    0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40,
    1.1754942e-38, -1.1754942e-38, 1.1754944e-38, -1.1754944e-38,
    3.4028235e38, -3.4028235e38, 1.0, -1.0, 0.5, -0.5, 1e-7, -1e-7,
    9.0, -9.0, 15.0, -15.0, 20.0, -20.0, 80.0, -80.0, 88.7, -88.7, 89.0,
    -89.0, 100.0, -100.0, 1e30, -1e30,
], dtype=np.float32)

cases = []  # lines of cases.txt


def case(name, model, inputs, tol, args=()):
    """Writes one case.  inputs: a float32 array, or {suffix: array}."""
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model.eval()
    with open(os.path.join(d, "model.txt"), "w") as f:
        print(model, file=f)
    save_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    if not isinstance(inputs, dict):
        inputs = {"": inputs}
    for suffix, x in inputs.items():
        x = np.ascontiguousarray(x, dtype="<f4")
        with torch.no_grad():
            # clone: inplace=True modules would otherwise overwrite x
            y = model(torch.from_numpy(x.copy())).numpy().astype("<f4")
        xn, yn = f"x{suffix}.npy", f"y{suffix}.npy"
        np.save(os.path.join(d, xn), x)
        np.save(os.path.join(d, yn), y)
        line = [name, xn, yn, repr(tol[0]), repr(tol[1]), str(tol[2])]
        cases.append(" ".join(line + list(args)))


def randn(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).numpy()


def special(*shape):
    """SPECIAL values tiled over `shape`, shuffled deterministically."""
    n = int(np.prod(shape))
    rng = np.random.default_rng(1234)
    v = np.resize(SPECIAL, n)
    return rng.permutation(v).reshape(shape).astype(np.float32)


def randomize_prelu(m):
    with torch.no_grad():
        m.weight.uniform_(-1.5, 1.5)
    return m


# Where PyTorch 1.13's own float arithmetic is off from the function it
# defines, actjit computes the function (README, Numerics) and the case
# allows PyTorch's error: ELU/CELU/SELU take exp(x) - 1 (elu(-1e-7) =
# -1.19e-7), GELU 'none' goes through oneDNN's erf approximation (absolute
# error ~1e-7 |x|) and 'tanh' through 1 + tanh (0 for x < -5), Tanhshrink
# through x - tanh(x) (0 for |x| < 1e-4), Mish and Softplus through a
# denormal e^x: an absolute 5e-7 on top of the ULPs (values of these ops are
# O(1) where they are not exact).
PYTORCH_FLOAT = (5e-7, 1e-6, 4)
MIXED = (2e-6, 1e-5, 0)  # chains with Linear layers and these ops


def activations():
    """Every torch.nn activation module of issue #4: alone on random and
    special inputs, and in chains after Linear layers, nested."""
    torch.manual_seed(8)
    exact = {
        "hardsigmoid": nn.Hardsigmoid(), "hardswish": nn.Hardswish(), "hardtanh": nn.Hardtanh(),
        "hardtanh_2": nn.Hardtanh(-2.0, 0.5), "relu6": nn.ReLU6(inplace=True), "softsign": nn.Softsign(),
        "threshold": nn.Threshold(0.1, -20.0), "hardshrink": nn.Hardshrink(), "hardshrink_03": nn.Hardshrink(0.3),
        "softshrink": nn.Softshrink(), "softshrink_1": nn.Softshrink(lambd=1.0), "rrelu": nn.RReLU(),
        "rrelu_01_03": nn.RReLU(0.1, 0.3),
    }
    approx = {
        "elu": nn.ELU(), "elu_2": nn.ELU(alpha=2.0, inplace=True), "celu": nn.CELU(), "celu_05": nn.CELU(0.5),
        "selu": nn.SELU(), "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "silu": nn.SiLU(),
        "mish": nn.Mish(), "softplus": nn.Softplus(), "softplus_2_5": nn.Softplus(beta=2, threshold=5),
        "tanhshrink": nn.Tanhshrink(), "logsigmoid": nn.LogSigmoid(),
    }
    for name, m in exact.items():
        case("act_" + name, nn.Sequential(m), np.concatenate([special(5, 8), randn(3, 8, scale=4)]), EXACT)
    for name, m in approx.items():
        case("act_" + name, nn.Sequential(m), np.concatenate([special(5, 8), randn(3, 8, scale=4)]), PYTORCH_FLOAT)

    # Softmin / LogSoftmax over every dim, the legacy implicit dim, specials.
    rows = np.array([[np.inf, 1.0, 2.0, 3.0], [-np.inf, 1.0, 2.0, 3.0], [-np.inf] * 4, [np.nan, 1.0, 2.0, 3.0],
                     [1e-40, -1e-40, 1e-45, 0.0], [3.4028235e38, -3.4028235e38, 0.0, 1.0], [88.7, -88.7, 89.0, -89.0],
                     [100.0, -100.0, 50.0, 0.0]], dtype=np.float32)
    case("special_softmin", nn.Sequential(nn.Softmin(dim=1)), rows, CHAIN)
    case("special_log_softmax", nn.Sequential(nn.LogSoftmax(dim=1)), rows, CHAIN)
    case("special_log_softmax_dim0", nn.Sequential(nn.LogSoftmax(dim=0)), rows.T.copy(), CHAIN)
    case("softmin_3d_implicit", nn.Sequential(nn.Softmin()), randn(3, 4, 5, scale=3), CHAIN)
    case("log_softmax_3d_dim2", nn.Sequential(nn.LogSoftmax(dim=2)), randn(3, 4, 5, scale=3), CHAIN)
    case("softmax2d_3d", nn.Sequential(nn.Softmax2d()), randn(3, 4, 5, scale=3), CHAIN)
    case("softmax2d_4d", nn.Sequential(nn.Softmax2d()), randn(2, 3, 4, 5, scale=3), CHAIN)

    # GLU halves a dim: the last by default, others, after a Linear.
    case("glu", nn.Sequential(nn.GLU()), np.concatenate([special(2, 8), randn(2, 8, scale=3)]), PYTORCH_FLOAT)
    case("glu_dim1_3d", nn.Sequential(nn.GLU(dim=1)), randn(3, 6, 5, scale=3), PYTORCH_FLOAT)
    case("glu_linear", nn.Sequential(nn.Linear(6, 8), nn.GLU(), nn.Linear(4, 3), nn.LogSoftmax(dim=-1)),
         randn(4, 6), MIXED)

    # Chains after Linear layers (fused as epilogues and softmax prologues),
    # nested, with large and special inputs.
    chain_a = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8), nn.SiLU(),
                            nn.Sequential(nn.Linear(8, 8), nn.Mish(), nn.Sequential(nn.Softplus(), nn.Tanhshrink())),
                            nn.Linear(8, 6), nn.LogSigmoid(), nn.Linear(6, 4), nn.LogSoftmax(dim=1))
    chain_b = nn.Sequential(nn.Linear(8, 8), nn.ELU(alpha=0.5), nn.Linear(8, 8), nn.CELU(alpha=2.0), nn.Linear(8, 8),
                            nn.SELU(), nn.Linear(8, 8), nn.GELU(approximate="tanh"), nn.Linear(8, 6),
                            nn.Softmin(dim=-1))
    chain_c = nn.Sequential(nn.Linear(8, 8), nn.Hardswish(), nn.Linear(8, 8), nn.Hardsigmoid(), nn.Linear(8, 8),
                            nn.Hardtanh(-2.0, 2.0), nn.ReLU6(), nn.Linear(8, 8), nn.Softsign(), nn.Linear(8, 8),
                            nn.Threshold(0.1, -1.0), nn.Hardshrink(0.3), nn.Softshrink(0.2), nn.RReLU(0.1, 0.3),
                            nn.Linear(8, 8), nn.GLU(), nn.Linear(4, 4), nn.Softmax(dim=1))
    for name, m in (("chain_a", chain_a), ("chain_b", chain_b), ("chain_c", chain_c)):
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(3)
        case(name, m, np.concatenate([randn(4, 8, scale=2), special(4, 8)]), MIXED)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for entry in os.listdir(OUT):
        if os.path.isdir(os.path.join(OUT, entry)) and entry != "__pycache__":
            shutil.rmtree(os.path.join(OUT, entry))

    # The seed model (the same as tests/golden) at batch 1 and 5; batch 5 is
    # also run unfused.
    torch.manual_seed(0)
    seed = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(128, 10), nn.Softmax(dim=1))
    case("seed", seed, {"_b1": randn(1, 784, scale=2), "_b5": randn(5, 784, scale=2)}, CHAIN)
    cases.append(f"seed x_b5.npy y_b5.npy {CHAIN[0]!r} {CHAIN[1]!r} {CHAIN[2]} --no-fuse --threads 1")

    # Each activation after a Linear.
    torch.manual_seed(1)
    case("relu", nn.Sequential(nn.Linear(8, 6), nn.ReLU()), randn(4, 8), CHAIN)
    case("sigmoid", nn.Sequential(nn.Linear(8, 6), nn.Sigmoid()), randn(4, 8, scale=3), CHAIN)
    case("tanh", nn.Sequential(nn.Linear(8, 6), nn.Tanh()), randn(4, 8, scale=3), CHAIN)
    case("leaky_relu", nn.Sequential(nn.Linear(8, 6), nn.LeakyReLU(0.1)), randn(4, 8), CHAIN)
    case("prelu_1", nn.Sequential(nn.Linear(8, 6), randomize_prelu(nn.PReLU())), randn(4, 8), CHAIN)
    case("prelu_c", nn.Sequential(nn.Linear(8, 6), randomize_prelu(nn.PReLU(num_parameters=6))),
         randn(4, 8), CHAIN)

    # Elementwise on their own (exact or a few ULP), 2-D and 3-D.
    torch.manual_seed(2)
    case("relu_inplace_3d", nn.Sequential(nn.ReLU(inplace=True)), randn(3, 4, 5), EXACT)
    case("sigmoid_eltwise", nn.Sequential(nn.Sigmoid()), randn(4, 16, scale=4), TRANSCENDENTAL)
    case("tanh_eltwise", nn.Sequential(nn.Tanh()), randn(4, 16, scale=4), TRANSCENDENTAL)
    case("leaky_relu_variants",
         nn.Sequential(nn.LeakyReLU(negative_slope=1e-05), nn.LeakyReLU(negative_slope=0.01, inplace=True),
                       nn.LeakyReLU()),
         randn(3, 7, scale=5), EXACT)
    case("prelu_3d_c", nn.Sequential(randomize_prelu(nn.PReLU(num_parameters=4))), randn(3, 4, 5), EXACT)
    case("prelu_3d_1", nn.Sequential(randomize_prelu(nn.PReLU())), randn(3, 4, 5), EXACT)

    # Softmax over every dim, 2-D to 4-D, and the legacy implicit dim.
    torch.manual_seed(3)
    case("softmax_dim0", nn.Sequential(nn.Linear(8, 6), nn.Softmax(dim=0)), randn(5, 8), CHAIN)
    case("softmax_dim1", nn.Sequential(nn.Linear(8, 6), nn.Softmax(dim=1)), randn(5, 8), CHAIN)
    case("softmax_dim_neg1", nn.Sequential(nn.Softmax(dim=-1)), randn(4, 6, scale=3), CHAIN)
    for dim in (0, 1, 2, -1):
        name = f"softmax_3d_dim{dim}".replace("-", "neg")
        case(name, nn.Sequential(nn.Softmax(dim=dim)), randn(3, 4, 5, scale=3), CHAIN)
    case("softmax_4d_dim2", nn.Sequential(nn.Softmax(dim=2)), randn(2, 3, 4, 5, scale=3), CHAIN)
    case("softmax_implicit_2d", nn.Sequential(nn.Softmax()), randn(3, 5, scale=3), CHAIN)
    case("softmax_implicit_3d", nn.Sequential(nn.Softmax()), randn(3, 4, 5, scale=3), CHAIN)

    # Flatten on 3-D and 4-D inputs.
    torch.manual_seed(4)
    case("flatten_3d", nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), randn(3, 3, 4), CHAIN)
    case("flatten_batch", nn.Sequential(nn.Flatten(0, 1), nn.Softmax(dim=-1)), randn(3, 4, 5), CHAIN)
    case("flatten_4d", nn.Sequential(nn.Flatten(start_dim=2), nn.Tanh()), randn(2, 3, 4, 5), TRANSCENDENTAL)

    # Containers, naming, bias=False, no-op modules.
    torch.manual_seed(5)
    case("nested",
         nn.Sequential(nn.Linear(6, 5),
                       nn.Sequential(nn.ReLU(), nn.Sequential(nn.Linear(5, 4), nn.Tanh())),
                       nn.Sequential(), nn.Linear(4, 3)),
         randn(3, 6), CHAIN)
    case("named", nn.Sequential(collections.OrderedDict(
        [("fc1", nn.Linear(6, 5)), ("act", nn.ReLU()), ("fc2", nn.Linear(5, 3))])), randn(3, 6), CHAIN)
    case("empty", nn.Sequential(), randn(2, 3), EXACT)
    case("no_bias", nn.Sequential(nn.Linear(8, 6, bias=False), nn.ReLU(inplace=True),
                                  nn.Linear(6, 4, bias=False)), randn(4, 8), CHAIN)
    case("identity_dropout", nn.Sequential(nn.Identity(), nn.Dropout(p=0.5, inplace=True), nn.Dropout(),
                                           nn.Linear(5, 3), nn.Identity()), randn(2, 5), CHAIN)

    # Large logits: softmax and the saturating activations at +-80 and beyond.
    torch.manual_seed(6)
    big = np.concatenate([np.full((1, 8), 80.0), np.full((1, 8), -80.0),
                          np.where(np.arange(8) % 2, 80.0, -80.0)[None, :],
                          randn(3, 8, scale=40)]).astype(np.float32)
    case("large_softmax", nn.Sequential(nn.Softmax(dim=1)), big, CHAIN)
    lin = nn.Linear(8, 6)
    with torch.no_grad():
        lin.weight.mul_(60)
    case("large_linear_softmax", nn.Sequential(lin, nn.Softmax(dim=-1)), randn(4, 8), CHAIN)
    case("large_sigmoid", nn.Sequential(nn.Sigmoid()), big, TRANSCENDENTAL)
    case("large_tanh", nn.Sequential(nn.Tanh()), big, TRANSCENDENTAL)

    # +-0, +-Inf, NaN, denormals and extremes through every op.
    torch.manual_seed(7)
    case("special_relu", nn.Sequential(nn.ReLU()), special(5, 8), EXACT)
    case("special_sigmoid", nn.Sequential(nn.Sigmoid()), special(5, 8), TRANSCENDENTAL)
    case("special_tanh", nn.Sequential(nn.Tanh()), special(5, 8), TRANSCENDENTAL)
    case("special_leaky_relu", nn.Sequential(nn.LeakyReLU(0.1)), special(5, 8), EXACT)
    case("special_prelu", nn.Sequential(randomize_prelu(nn.PReLU(num_parameters=4))), special(2, 4, 5), EXACT)
    case("special_identity_dropout", nn.Sequential(nn.Identity(), nn.Dropout(0.3)), special(5, 8), EXACT)
    case("special_flatten", nn.Sequential(nn.Flatten()), special(2, 4, 5), EXACT)
    rows = np.array([
        [np.inf, 1.0, 2.0, 3.0],        # one +inf
        [-np.inf, 1.0, 2.0, 3.0],       # one -inf
        [-np.inf, -np.inf, -np.inf, -np.inf],
        [np.inf, np.inf, 0.0, 0.0],
        [np.nan, 1.0, 2.0, 3.0],
        [1e-40, -1e-40, 1e-45, 0.0],    # denormals
        [0.0, -0.0, 0.0, -0.0],
        [3.4028235e38, -3.4028235e38, 0.0, 1.0],
        [88.7, -88.7, 89.0, -89.0],
    ], dtype=np.float32)
    case("special_softmax", nn.Sequential(nn.Softmax(dim=1)), rows, CHAIN)
    case("special_softmax_dim0", nn.Sequential(nn.Softmax(dim=0)), rows.T.copy(), CHAIN)
    lin = nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 0.5, 1.0], [-1.0, 2.0, 0.5, 1.0], [0.0, 1.0, 1.0, 1.0]]))
    lin_rows = np.array([
        [np.inf, 1.0, 2.0, 3.0],
        [-np.inf, 1.0, 2.0, 3.0],
        [np.nan, 1.0, 2.0, 3.0],
        [1e-40, -1e-40, 1e-45, 0.0],
        [0.0, -0.0, 0.0, -0.0],
        [1.0, 2.0, 3.0, 4.0],
    ], dtype=np.float32)
    case("special_linear", nn.Sequential(lin), lin_rows, CHAIN)

    activations()

    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# Generated by gen_cases.py: case x y atol rtol ulps [extra actjit run args]\n")
        for line in cases:
            f.write(line + "\n")
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(OUT) for n in ns
                if not n.endswith(".py"))
    print(f"{len(cases)} runs, {total} bytes")


if __name__ == "__main__":
    main()
