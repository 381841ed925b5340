#!/usr/bin/env python3
"""The ONNX export of a pipeline, for the benchmark's ONNX Runtime column.

  python3 bench/onnx_export.py MODEL [-o OUT.onnx] [--actjit PATH]
  python3 bench/onnx_export.py --identity [-o OUT.onnx]

MODEL (any file `actjit check` reads) is run with torch.nn.functional op by
op, as bench/torch_eager.py runs it, and exported by torch.onnx.export
(PyTorch 1.13, opset 17, the batch dim dynamic, dropout in eval mode).  Its
parameters become the export's initializers under their actjit names, with
their data external: every parameter's float32 bytes in declaration order in
one file, `weights.bin` beside the model.  actjit-bench writes that file from
the weights it binds to its own kernels (bench/ort_bench.js), so ONNX Runtime
runs the very weights actjit runs, whatever they are.  Default OUT:
bench/onnx/<MODEL's stem>.onnx, where actjit-bench looks for it.

--identity writes bench/onnx/identity.onnx: one Identity node on a [1, 1]
tensor, whose time per call is the benchmark's ort_overhead_us.
Needs PyTorch and onnx (Debian 12: apt-get install python3-torch python3-onnx).
"""
import argparse
import io
import os
import sys

import onnx
import torch
import torch.nn.functional as F

import torch_eager

# torch_eager imports torch in its main, after pinning the thread pools; its
# op table (SPECIAL) looks torch and F up in its own module.
torch_eager.torch, torch_eager.F = torch, F

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


# Ops PyTorch 1.13 cannot export as torch_eager runs them, in a form it can:
# threshold with a threshold other than 0, as ATen defines it (x <= t ? v : x,
# so NaN stays NaN, where x > t ? x : v would give v).
EXPORT_SPECIAL = {
    "threshold": lambda o, a: torch.where(o[0] <= a["threshold"], torch.tensor(a["value"]), o[0]),
}


class Pipeline(torch.nn.Module):
    """forward(x, *weights): the canonical IR's ops, as torch_eager runs them."""

    def __init__(self, names, ops, out):
        super().__init__()
        self.names, self.ops, self.out = names, ops, out

    def forward(self, x, *ws):
        weights = dict(zip(self.names, ws))
        env = {"x": x}
        for res, op, args, attrs in self.ops:
            env[res] = torch_eager.call(op, torch_eager.operands(args, env, weights), attrs, EXPORT_SPECIAL)
        return env[self.out]


def export(model, actjit):
    inp, params, ops, out = torch_eager.parse(torch_eager.canonical_ir(actjit, model), model)
    names = list(params)  # declaration order: the order of weights.bin
    x = torch.rand([2] + [int(d) for d in inp[1:]])
    ws = [torch.rand(params[n]) for n in names]
    buf = io.BytesIO()
    # The weights are inputs here, so that they keep their names; below they
    # become initializers (constants ONNX Runtime may pre-pack).
    torch.onnx.export(Pipeline(names, ops, out), (x, *ws), buf, input_names=["x"] + names, output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=OPSET)
    m = onnx.load_from_string(buf.getvalue())
    offset = 0
    for name in names:
        m.graph.input.remove(next(i for i in m.graph.input if i.name == name))
        t = m.graph.initializer.add()
        t.name, t.data_type, t.data_location = name, onnx.TensorProto.FLOAT, onnx.TensorProto.EXTERNAL
        t.dims.extend(params[name])
        length = 4 * int(torch.tensor(params[name]).prod())
        for key, value in (("location", "weights.bin"), ("offset", offset), ("length", length)):
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
        offset += length
    m.doc_string = f"{model} exported by bench/onnx_export.py; weights: weights.bin, {offset} bytes"
    return m


def identity():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--identity", action="store_true", help="the one-node Identity model instead")
    ap.add_argument("-o", "--output", help="default: bench/onnx/<model's stem>.onnx")
    ap.add_argument("--actjit", default=os.path.join(HERE, "..", "build", "actjit"),
                    help="the actjit command (default: build/actjit of this checkout)")
    o = ap.parse_args()
    if o.identity == bool(o.model):
        ap.error("give MODEL or --identity")
    stem = "identity" if o.identity else os.path.splitext(os.path.basename(o.model))[0]
    path = o.output or os.path.join(HERE, "onnx", stem + ".onnx")
    m = identity() if o.identity else export(o.model, o.actjit)
    if o.identity:  # the checker would look for an export's weights.bin, which only the benchmark writes
        onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    print(f"{path}: {m.doc_string or 'Identity on [1, 1]'}", file=sys.stderr)


if __name__ == "__main__":
    main()
