#!/usr/bin/python3
"""Exports PyTorch models with torch.onnx.export (torch 1.13, Debian's
python3-torch) into tests/onnx/cases/, with goldens that tests/test_onnx.c
checks without Python.  Run: /usr/bin/python3 tests/onnx/gen_cases.py

Each case is NAME.onnx (batch dim dynamic: dynamic_axes, but static_batch's), and for each batch
B of the case NAME.bB.npy, torch's output on the input every element i of
which is x(i) below (the test computes the same input in C, so that no
input is stored).  cases.txt lists one case a line:
  NAME IN_DIMS(comma, N first) BATCHES(comma) OPS(comma: ops the compiled
  kernels' names must show after canonicalize) KERNELS(the fused kernel
  count, or -)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
OPSETS = (11, 13, 17)
# What the kernels show where an opset writes an op in primitives that
# canonicalize leaves (none: nn.Hardswish at opsets 11 and 13, x·HardSigmoid(x),
# and nn.Softsign, x / (|x| + 1), become hardswish and softsign).
OPS_AT = {}
# Cases exported without constant folding, as they would be with the weights
# given as inputs: the ops torch writes on the weights stay in the graph.
UNFOLDED = {"prelu_channels"}
# Exports actjit refuses, written without goldens for tests/test_onnx.c's
# refusals: before opset 12 torch writes x <= t as Not(Greater(x, t)), true
# for NaN, so the Where gives v where threshold keeps NaN.
REFUSED = {("mlp_threshold", 11)}


def x_of(shape):
    """The input: ((i * 7919) % 2003) / 1001.5 - 1, in [-1, 1] (mirrored in C)."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    return torch.from_numpy((((i * 7919) % 2003) / 1001.5 - 1.0).astype(np.float32).reshape(shape))


class Tutorial(nn.Module):
    """The custom module of the PyTorch tutorial: its print-out shows only
    the Linear and Dropout children."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.dropout = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return F.softmax(self.fc2(x), dim=1)


class Residual(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        return x + self.fc2(F.relu(self.fc1(x)))


class SwiGLU(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.w1 = nn.Linear(d, h, bias=False)
        self.w3 = nn.Linear(d, h, bias=False)
        self.w2 = nn.Linear(h, d, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Softmax(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, dim=self.dim)


class TransposeLinear(nn.Module):
    """A Linear over the middle dim: x.transpose(1, 2) first (Transpose)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        return torch.tanh(self.fc(x.transpose(1, 2)))


class BatchedMatmul(nn.Module):
    """x @ W with W a batch of matrices (MatMul by a 3-D initializer)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(2, 4, 5))

    def forward(self, x):
        return torch.relu(torch.matmul(x, self.w))


class Threshold(nn.Module):
    """F.threshold as ATen defines it, x <= t ? v : x: LessOrEqual and Where."""

    def __init__(self, t, v):
        super().__init__()
        self.t, self.v = t, v

    def forward(self, x):
        return torch.where(x <= self.t, torch.tensor(self.v), x)


def mlp(act, d=16, h=24, o=8):
    return nn.Sequential(nn.Linear(d, h), act, nn.Linear(h, o))


# name, module, input dims (N first), batches, ops the kernels show, fused kernel count
ACTIVATIONS = [
    ("relu", nn.ReLU(), "relu"),
    ("sigmoid", nn.Sigmoid(), "sigmoid"),
    ("tanh", nn.Tanh(), "tanh"),
    ("leaky_relu", nn.LeakyReLU(0.2), "leaky_relu"),
    ("elu", nn.ELU(0.5), "elu"),
    ("celu", nn.CELU(1.5), "celu"),
    ("selu", nn.SELU(), "selu"),
    ("hardsigmoid", nn.Hardsigmoid(), "hardsigmoid"),
    ("hardswish", nn.Hardswish(), "hardswish"),
    ("softplus", nn.Softplus(), "softplus"),
    ("softsign", nn.Softsign(), "softsign"),
    ("hardtanh", nn.Hardtanh(-0.5, 0.5), "clip"),
    ("relu6", nn.ReLU6(), "relu6"),
    ("gelu", nn.GELU(), "gelu"),
    ("gelu_tanh", nn.GELU(approximate="tanh"), "gelu"),
    ("silu", nn.SiLU(), "silu"),
    ("mish", nn.Mish(), "mish"),
    ("tanhshrink", nn.Tanhshrink(), "tanhshrink"),
    ("logsigmoid", nn.LogSigmoid(), "logsigmoid"),
    ("prelu", nn.PReLU(), "prelu"),
    ("prelu24", nn.PReLU(24), "prelu"),
]


def cases():
    torch.manual_seed(0)
    yield "tutorial", Tutorial(), (784,), (1, 7, 1000), "linear,relu,softmax", 2
    for name, act, op in ACTIVATIONS:
        yield "mlp_" + name, mlp(act), (16,), (1, 7), "linear," + op, "-"
    yield "softmin", nn.Sequential(nn.Linear(16, 8), nn.Softmin(dim=1)), (16,), (1, 7), "softmin", "-"
    yield "log_softmax", nn.Sequential(nn.Linear(16, 8), nn.LogSoftmax(dim=1)), (16,), (1, 7), "log_softmax", "-"
    yield "glu", nn.Sequential(nn.Linear(16, 24), nn.GLU(dim=1)), (16,), (1, 7), "glu", "-"
    yield "softmax_dim0", Softmax(0), (8,), (1, 7), "softmax", "-"
    yield "softmax_dim1", Softmax(1), (8,), (1, 7), "softmax", "-"
    yield "softmax_dim_last", Softmax(-1), (8,), (1, 7), "softmax", "-"
    yield "softmax_3d_dim1", Softmax(1), (5, 6), (1, 7), "softmax", "-"
    yield "linear_3d", nn.Sequential(nn.Linear(6, 4), nn.Tanh()), (5, 6), (1, 7), "linear,tanh", "-"
    yield "residual", Residual(16), (16,), (1, 7), "linear,relu,add", "-"
    yield "swiglu", SwiGLU(16, 32), (16,), (1, 7), "linear,silu,mul", "-"
    # exported without dynamic_axes: a batch of 2 in the file, read as the batch by ACTJIT_ONNX_BATCH
    yield "static_batch", mlp(nn.ReLU()), (16,), (2, 7), "linear,relu", "-"
    yield "transpose_linear", TransposeLinear(), (5, 6), (1, 7), "transpose,linear,tanh", 2
    yield "matmul_batched", BatchedMatmul(), (2, 3, 4), (1, 7), "matmul,relu", 2
    # a per-channel slope on [N, C, L], exported unfolded: Unsqueeze of the weight to [C, 1]
    yield "prelu_channels", nn.Sequential(nn.PReLU(6)), (6, 5), (1, 7), "prelu", "-"
    # softshrink, which torch writes as Where(x > l, x - l, 0) + Where(x < -l, x + l, 0)
    yield "mlp_softshrink", mlp(nn.Softshrink(0.5)), (16,), (1, 7), "linear,softshrink", "-"
    # threshold as ATen defines it (torch cannot export F.threshold at a threshold other than 0)
    yield "mlp_threshold", mlp(Threshold(0.25, -2.0)), (16,), (1, 7), "linear,threshold", "-"


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for name, model, dims, batches, ops, kernels in cases():
        model.eval()
        for opset in OPSETS:
            case = "%s_op%d" % (name, opset)
            path = os.path.join(OUT, case + ".onnx")
            try:
                dynamic = {} if name == "static_batch" else {"x": {0: "N"}, "y": {0: "N"}}
                torch.onnx.export(model, x_of((2,) + dims), path, opset_version=opset, input_names=["x"],
                                  output_names=["y"], dynamic_axes=dynamic, do_constant_folding=name not in UNFOLDED)
            except Exception as e:  # torch does not write this op at this opset
                print("%s: not exported: %s" % (case, str(e).splitlines()[0]), file=sys.stderr)
                continue
            if (name, opset) in REFUSED:
                continue
            with torch.no_grad():
                for b in batches:
                    y = model(x_of((b,) + dims)).numpy().astype(np.float32)
                    np.save(os.path.join(OUT, "%s.b%d.npy" % (case, b)), y)
            lines.append("%s N,%s %s %s %s" % (case, ",".join(map(str, dims)), ",".join(map(str, batches)),
                                               OPS_AT.get((name, opset), ops), kernels))
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("# written by gen_cases.py: NAME IN_DIMS BATCHES OPS FUSED_KERNELS\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
