#!/usr/bin/env python3
"""Fits vmath.c's erfc_r0, erfc_rd and erfc_re: erfc(a) e^(a^2) on [0,
0.8], [4, 7] and [7, 10.5] as degree-9 polynomials in a - c, float
coefficients, for relative error (gelu's pieces beside erfc_ra and
erfc_rb, which erf and erfc share).

  /usr/bin/python3 src/codegen/vmath_fit.py      (needs numpy and mpmath)

c is the multiple of a grid step near the interval's middle where the
function is nearest a float, so that the constant term, which no other
term corrects at a = c, rounds least.  The fit: least squares on Chebyshev
nodes, reweighted toward minimax (Lawson), then the coefficients rounded to
float one at a time from the constant up, the rest refitted after each.
Prints each polynomial's centre, errors (its own, and its float Horner
evaluation's with FMA, in ULP of the result) and coefficients as C."""
import re
import struct

import mpmath as mp
import numpy as np

mp.mp.dps = 40
DEG, NODES = 9, 4000
# name, interval, centre grid step, centres searched (as a fraction of the interval, from its middle)
PIECES = [('erfc_r0', 0.0, 0.8, 1 / 1024, 1 / 32), ('erfc_rd', 4.0, 7.0, 1 / 256, 0.15),
          ('erfc_re', 7.0, 10.5, 1 / 256, 0.15)]


def f(a):
    a = mp.mpf(a)
    return mp.erfc(a) * mp.exp(a * a)


def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0]


def centre(lo, hi, step, spread):
    def miss(k):
        v = f(mp.mpf(k) * step)
        r = f32(float(v))
        return abs(float((v - r) / 2.0 ** (mp.floor(mp.log(abs(r), 2)) - 23)))
    mid, half = (lo + hi) / 2, spread * (hi - lo)
    return min(range(round((mid - half) / step), round((mid + half) / step)), key=miss) * step


def fit(LO, HI, c):
    x = np.array([LO + (HI - LO) * (1 - np.cos(np.pi * (i + 0.5) / NODES)) / 2 for i in range(NODES)])
    y = np.array([float(f(v)) for v in x])
    t = x - c

    def lsq(fixed, w):
        rest = y - sum(fixed[k] * t**k for k in range(len(fixed)))
        a = np.stack([t**k for k in range(len(fixed), DEG + 1)], axis=1) / y[:, None]
        sol, *_ = np.linalg.lstsq(a * np.sqrt(w)[:, None], rest / y * np.sqrt(w), rcond=None)
        return list(fixed) + list(sol)

    w = np.ones(NODES)
    for _ in range(30):
        co = lsq([], w)
        w = w * np.abs(sum(co[k] * t**k for k in range(DEG + 1)) - y) / y
        w /= w.sum()
    fixed = []
    for k in range(DEG + 1):
        fixed.append(f32(lsq(fixed, w)[k]))
    err = np.abs(sum(fixed[k] * t**k for k in range(DEG + 1)) - y) / y
    return fixed, err.max()


def horner_ulps(LO, HI, co, c):
    worst = 0.0
    for x in np.linspace(LO, HI, 20001):
        t = np.float32(np.float32(x) - np.float32(c))
        p = np.float32(co[-1])
        for k in range(DEG - 1, -1, -1):
            p = np.float32(np.float64(p) * np.float64(t) + np.float64(co[k]))
        ref = float(f(float(np.float32(x))))
        worst = max(worst, abs(float(p) - ref) / float(np.spacing(np.float32(ref))))
    return worst


def c_float(v):
    m = re.fullmatch(r'(-?0x1\.[0-9a-f]*?)0*p([-+]\d+)', float.hex(v))
    return '%sp%sf' % (m.group(1), m.group(2))


for name, lo, hi, step, spread in PIECES:
    c = centre(lo, hi, step, spread)
    co, rel = fit(lo, hi, c)
    print('%s on [%g, %g] in a - %.10g: polynomial %.3f ULP, float Horner %.3f ULP'
          % (name, lo, hi, c, rel * 2**24, horner_ulps(lo, hi, co, c)))
    print('static const float %s[] = {%s};' % (name, ', '.join(c_float(v) for v in co)))
