#!/usr/bin/env python3
"""Fits vmath.c's erfc_r0: erfc(a) e^(a^2) on [0, 0.8] as a degree-9
polynomial in a - c, float coefficients, for relative error.

  /usr/bin/python3 src/codegen/vmath_fit.py      (needs numpy and mpmath)

c is the multiple of 1/1024 near the middle, in [0.375, 0.425), where the
function is nearest a float, so that the constant term, which no other
term corrects at a = c, rounds least.  The fit: least squares on Chebyshev nodes, reweighted toward
minimax (Lawson), then the coefficients rounded to float one at a time from
the constant up, the rest refitted after each.  Prints the centre, the
errors (of the polynomial, and of its float Horner evaluation with FMA, in
ULP of the result) and the coefficients as C."""
import re
import struct

import mpmath as mp
import numpy as np

mp.mp.dps = 40
LO, HI, DEG, NODES = 0.0, 0.8, 9, 4000


def f(a):
    a = mp.mpf(a)
    return mp.erfc(a) * mp.exp(a * a)


def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0]


def centre():
    def miss(k):
        v = f(mp.mpf(k) / 1024)
        r = f32(float(v))
        return abs(float((v - r) / 2.0 ** (mp.floor(mp.log(abs(r), 2)) - 23)))
    return min(range(384, 435), key=miss) / 1024


def fit(c):
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


def horner_ulps(co, c):
    worst = 0.0
    for x in np.linspace(LO, HI, 20001):
        t = np.float32(np.float32(x) - np.float32(c))
        p = np.float32(co[-1])
        for k in range(DEG - 1, -1, -1):
            p = np.float32(np.float64(p) * np.float64(t) + np.float64(co[k]))
        ref = float(f(float(np.float32(x))))
        worst = max(worst, abs(float(p) - ref) / float(np.spacing(np.float32(ref))))
    return worst


c = centre()
co, rel = fit(c)
print('centre %.8f; polynomial %.3f ULP, float Horner %.3f ULP' % (c, rel * 2**24, horner_ulps(co, c)))
def c_float(v):
    m = re.fullmatch(r'(-?0x1\.[0-9a-f]*?)0*p([-+]\d+)', float.hex(v))
    return '%sp%sf' % (m.group(1), m.group(2))


print('static const float erfc_r0[] = {' + ', '.join(c_float(v) for v in co) + '};')
