// ONNX Runtime's column of `actjit bench MODEL.onnx`: the median per-call
// time of MODEL in ONNX Runtime (onnxruntime-node, CPU, intra-op threads =
// THREADS, every graph optimization on) on a random input of shape DIMS,
// and, measured interleaved in the same run, of a one-node Identity model on
// a [1, 1] tensor: the cost of a call itself (Node.js, N-API, the session),
// which the model's time includes.  Prints one JSON line:
//   {"ort_us": …, "ort_overhead_us": …, "ort_version": "…"}  or  {"error": "…"}
//
//   npm install --prefix bench --no-save --no-package-lock --ignore-scripts onnxruntime-node@1.20.1
//   node bench/ort_run.js MODEL.onnx THREADS REPS 1024,784
//
// (--ignore-scripts: the package's install script only fetches GPU libraries
// from GitHub; the CPU build ships in the package.)
'use strict';

function fail(msg) {
  console.log(JSON.stringify({error: msg}));
  process.exit(0);
}

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  fail('onnxruntime-node is not installed (npm install --prefix bench --no-save --no-package-lock ' +
       '--ignore-scripts onnxruntime-node@1.20.1)');
}

// The Identity model, encoded here: a ModelProto of IR version 8, opset 13,
// y = Identity(x), x and y float [1, 1].
function varint(n) {
  const b = [];
  do {
    b.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n);
  return b;
}
const field = (num, bytes) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
const int = (num, v) => [...varint(num << 3), ...varint(v)];
const str = (num, s) => field(num, [...Buffer.from(s)]);
function tensorInfo(name) {
  const dim = field(1, int(1, 1));
  const type = field(1, [...int(1, 1), ...field(2, [...dim, ...dim])]);
  return [...str(1, name), ...field(2, type)];
}
const identityModel = Uint8Array.from([
  ...int(1, 8),
  ...field(7, [...field(1, [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Identity')]), ...str(2, 'identity'),
               ...field(11, tensorInfo('x')), ...field(12, tensorInfo('y'))]),
  ...field(8, [...str(1, ''), ...int(2, 13)]),
]);

const now = () => Number(process.hrtime.bigint()) * 1e-9;

// A sampler: calls per sample for ~2 ms, after warming up (Node.js's JIT,
// ONNX Runtime's first runs) for 20 calls or 50 ms.
async function sampler(session, feeds) {
  let t0 = now(), calls = 0;
  while (calls < 20 || now() - t0 < 0.05) await session.run(feeds), calls++;
  t0 = now();
  for (let i = 0; i < 10; i++) await session.run(feeds);
  const one = (now() - t0) / 10;
  const iters = one >= 2e-3 ? 1 : Math.ceil(2e-3 / Math.max(one, 1e-8));
  return async () => {
    t0 = now();
    for (let i = 0; i < iters; i++) await session.run(feeds);
    return (now() - t0) / iters;
  };
}

function median(v) {
  v.sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

function feedsOf(session, dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 4 - 2;
  return {[session.inputNames[0]]: new ort.Tensor('float32', x, dims)};
}

(async () => {
  const [model, threads, reps, dims] = process.argv.slice(2);
  if (!dims) fail('usage: node ort_run.js MODEL THREADS REPS DIMS');
  const opts = {intraOpNumThreads: +threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
                executionMode: 'sequential'};
  let m, id;
  try {
    m = await ort.InferenceSession.create(model, opts);
    id = await ort.InferenceSession.create(identityModel, opts);
  } catch (e) {
    fail('ONNX Runtime: ' + String(e.message || e).split('\n')[0]);
  }
  const shape = dims.split(',').map(Number);
  const sm = await sampler(m, feedsOf(m, shape)), si = await sampler(id, feedsOf(id, [1, 1]));
  const tm = [], ti = [];
  for (let r = 0; r < +reps; r++) {
    // interleaved, alternating which goes first
    if (r % 2) tm.push(await sm()), ti.push(await si());
    else ti.push(await si()), tm.push(await sm());
  }
  console.log(JSON.stringify({ort_us: median(tm) * 1e6, ort_overhead_us: median(ti) * 1e6,
                              ort_version: ort.env.versions ? ort.env.versions.common : ''}));
})().catch((e) => fail(String(e.message || e).split('\n')[0]));
