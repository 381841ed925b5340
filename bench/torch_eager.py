#!/usr/bin/env python3
"""PyTorch eager mode on a pipeline of ir/: another engine beside actjit-bench.

  python3 bench/torch_eager.py MODEL [--shape DIMS | --batch B[,B...]]
                               [--reps R] [--threads N] [--json] [--actjit PATH]

MODEL is any file `actjit check` reads; its canonical IR (every op under its
own name, every attribute written out) is run op by op with
torch.nn.functional and torch (graphs too: add, mul, ... on their values,
weights and numbers; weights random, dropout in eval mode, inference mode),
and the script prints, per input shape, the
median time of R samples (each sample ~2 ms of back-to-back calls, as
actjit-bench takes them) and GB/s counting the input and output bytes, so the
rows line up with `build/actjit-bench MODEL` on the same shapes. --json prints
one object per line with the keys model, engine, shape, threads, blas, us.

Every thread pool the process loads (PyTorch's, OpenMP's, the BLAS's) is
pinned to --threads: the variables are set before torch is imported, since
OpenBLAS sizes its pool when it is loaded.  OpenMP's threads sleep between
parallel regions (OMP_WAIT_POLICY=PASSIVE unless set): spinning, they hold
the cores OpenBLAS's own threads need, and the seed model at batch 1024 on
2 threads took 28-34 ms instead of 1.7-2.4.  The header (or the "blas" key)
names the BLAS library torch got: Debian's libblas.so.3 is whichever the
alternatives system points at, the reference BLAS or OpenBLAS, and PyTorch's
linear is about 40x apart between the two.
Needs PyTorch (Debian 12: apt-get install python3-torch, 1.13).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

# The thread-count variables of the libraries torch may load.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

# The ops that need more than F.<name>(x, **attributes), called with their
# operands in order (values, weights and numbers) and their attributes; the
# canonical IR names every other op as torch.nn.functional does, with its
# arguments.
def _tensor(v):
    return v if isinstance(v, torch.Tensor) else torch.tensor(v)


SPECIAL = {
    "linear": lambda o, a: F.linear(*o),
    "prelu": lambda o, a: F.prelu(*o),
    "dropout": lambda o, a: F.dropout(o[0], a["p"], training=False),
    "rrelu": lambda o, a: F.rrelu(o[0], a["lower"], a["upper"], training=False),
    "identity": lambda o, a: o[0],
    "exp": lambda o, a: torch.exp(o[0]),
    "sigmoid": lambda o, a: torch.sigmoid(o[0]),
    "tanh": lambda o, a: torch.tanh(o[0]),
    "gelu": lambda o, a: F.gelu(o[0], approximate="tanh" if a["approximate"] else "none"),
    "flatten": lambda o, a: torch.flatten(o[0], int(a["start_dim"]), int(a["end_dim"])),
    "add": lambda o, a: torch.add(*o),
    "sub": lambda o, a: torch.sub(_tensor(o[0]), o[1]),
    "mul": lambda o, a: torch.mul(*o),
    "div": lambda o, a: torch.div(_tensor(o[0]), o[1]),
    "maximum": lambda o, a: torch.maximum(_tensor(o[0]), _tensor(o[1])),
    "minimum": lambda o, a: torch.minimum(_tensor(o[0]), _tensor(o[1])),
    "pow": lambda o, a: torch.pow(*o),
    "neg": lambda o, a: torch.neg(o[0]),
    "abs": lambda o, a: torch.abs(o[0]),
    "sqrt": lambda o, a: torch.sqrt(o[0]),
    "reciprocal": lambda o, a: torch.reciprocal(o[0]),
    "erf": lambda o, a: torch.erf(o[0]),
    "log": lambda o, a: torch.log(o[0]),
    "clip": lambda o, a: torch.clamp(o[0], a.get("min"), a.get("max")),
    "matmul": lambda o, a: torch.matmul(*o),
    "transpose": lambda o, a: torch.transpose(o[0], int(a["dim0"]), int(a["dim1"])),
}
INT_ATTRS = {"dim"}

STMT = re.compile(r"%(?P<res>[\w.]+)\s*=\s*(?P<op>\w+)\s+(?P<args>[^{:]*)(\{(?P<attrs>[^}]*)\})?")
DECL = re.compile(r"(?P<kind>input|param)\s+[%@](?P<name>[\w.]+)\s*:\s*f32\[(?P<dims>[^\]]*)\]")


def canonical_ir(actjit, model):
    """MODEL as `actjit check` prints it."""
    r = subprocess.run([actjit, "check", model], capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr.strip() or f"{actjit} check {model} failed")
    return r.stdout


def parse(text, path):
    """(input dims with 'N', {param: dims}, [(result, op, operands, attrs)], output)."""
    inp, params, ops, out = None, {}, [], None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = DECL.match(line)
        if m:
            dims = [d.strip() for d in m["dims"].split(",")]
            if m["kind"] == "input":
                inp = dims
            else:
                params[m["name"]] = [int(d) for d in dims]
            continue
        if line.startswith("output"):
            out = line.split("%", 1)[1].strip()
            continue
        m = STMT.match(line)
        if not m:
            sys.exit(f"{path}: cannot read: {line}")
        args = [a.strip() for a in m["args"].split(",") if a.strip()]
        attrs = {}
        for kv in (m["attrs"] or "").split(","):
            if "=" in kv:
                k, v = (s.strip() for s in kv.split("=", 1))
                if k != "inplace":
                    attrs[k] = int(float(v)) if k in INT_ATTRS else float(v)
        ops.append((m["res"], m["op"], args, attrs))
    if inp is None or out is None:
        sys.exit(f"{path}: no input or no output")
    return inp, params, ops, out


def operands(args, env, weights):
    """An op's operands in order: values (%), weights (@) and numbers."""
    return [env[a[1:]] if a[0] == "%" else weights[a[1:]] if a[0] == "@" else float(a) for a in args]


def call(op, o, attrs, special=None):
    """op on operands o: special's entry, SPECIAL's, or F.<op>(o[0], **attrs)."""
    fn = (special or {}).get(op) or SPECIAL.get(op)
    return fn(o, attrs) if fn else getattr(F, op)(o[0], **attrs)


def pipeline(params, ops, out):
    """A function of x running ops with random weights."""
    gen = torch.Generator().manual_seed(0)
    weights = {k: torch.rand(d, generator=gen) * 0.2 - 0.1 for k, d in params.items()}

    def run(x):
        env = {"x": x}
        for res, op, args, attrs in ops:
            env[res] = call(op, operands(args, env, weights), attrs)
        return env[out]

    return run


def loaded_blas():
    """The BLAS library mapped into this process: its kind and the file that
    libblas.so.3 (what torch links) resolved to."""
    with open("/proc/self/maps") as maps:
        files = {os.path.realpath(line.split()[-1]) for line in maps
                 if re.search(r"/lib(blas|openblas\w*|blis\w*|mkl\w*)\.so", line)}
    if not files:
        return "none found"
    kinds = {"OpenBLAS" if "openblas" in f else "BLIS" if "blis" in f else "MKL" if "mkl" in f
             else "reference BLAS" if "/blas/" in f else "BLAS" for f in files}
    shown = min(files, key=lambda f: (not os.path.basename(f).startswith("libblas"), f))
    return f"{' + '.join(sorted(kinds))} ({shown})"


def median_seconds(fn, x, reps):
    fn(x)  # warm up
    t0 = time.perf_counter()
    fn(x)
    one = time.perf_counter() - t0
    iters = 1 if one >= 2e-3 else int(2e-3 / max(one, 1e-8)) + 1
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn(x)
        samples.append((time.perf_counter() - t0) / iters)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--shape", help="input shape such as 4096x4096 (the leading dim is the batch)")
    ap.add_argument("--batch", default="1,16,256,1024,4096", help="batch sizes over the model's input")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--actjit", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "actjit"),
                    help="the actjit command (default: build/actjit of this checkout)")
    o = ap.parse_args()
    for var in THREAD_VARS:
        os.environ[var] = str(o.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    global torch, F
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(o.threads)
    torch.set_num_interop_threads(o.threads)
    blas = loaded_blas()
    inp, params, ops, out = parse(canonical_ir(o.actjit, o.model), o.model)
    run = pipeline(params, ops, out)
    if o.shape:
        shapes = [[int(d) for d in o.shape.split("x")]]
    else:
        shapes = [[b] + [int(d) for d in inp[1:]] for b in (int(b) for b in o.batch.split(","))]
    if not o.json:
        print(f"{'model':<30} {'shape':>14} {'torch us':>11} {'GB/s':>8}   (PyTorch {torch.__version__}, "
              f"{o.threads} thread{'s' if o.threads > 1 else ''}, BLAS: {blas})")
    for shape in shapes:
        x = torch.rand(shape) * 4 - 2
        with torch.inference_mode():
            y = run(x)
            t = median_seconds(run, x, o.reps)
        gbs = (x.numel() + y.numel()) * 4 / t / 1e9
        if o.json:
            print(json.dumps({"model": o.model, "engine": f"pytorch-{torch.__version__}-eager",
                              "shape": shape, "threads": o.threads, "blas": blas, "us": round(t * 1e6, 3)}))
        else:
            print(f"{o.model:<30} {'x'.join(map(str, shape)):>14} {t * 1e6:11.2f} {gbs:8.2f}")


if __name__ == "__main__":
    main()
