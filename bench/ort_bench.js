// ONNX Runtime beside actjit-bench: the benchmark starts this script once per
// model and, in its interleaved loop, asks it for timings, so that ONNX
// Runtime is measured in the same run as the other engines.
//
//   node bench/ort_bench.js EXPORT.onnx DIR THREADS
//
// EXPORT.onnx is a model made by bench/onnx_export.py: its weights are
// external data in DIR/weights.bin, written by the benchmark (the weights it
// binds to actjit's kernels); without DIR/weights.bin it is the user's ONNX
// model (`actjit bench MODEL.onnx`), run where it is, with its own weights.  The session: intra-op threads = THREADS, all
// graph optimizations.  One request a line on stdin, one reply a line on
// stdout ("ok ..." or "error MESSAGE"); the first reply says the version:
//   input D0 D1 ...    reads DIR/in.bin (f32, shape D0 x D1 ...), runs the
//                      model once, writes DIR/out.bin
//   time model N       N runs back to back: "ok SECONDS" a run
//   time identity N    the same on a one-node Identity model on a [1, 1]
//                      tensor (bench/onnx/identity.onnx): the cost of a call
//   profile N          N runs of a profiling session (enableProfiling): the
//                      median of ORT's own "model_run" times, "ok SECONDS"
//                      (node copies every output into JavaScript; that copy
//                      is in `time model`, not here)
//   quit
// Install the package beside this script (not globally):
//   npm install --prefix bench --no-save --ignore-scripts onnxruntime-node@1.31.1
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const reply = (line) => process.stdout.write(line.replace(/\s+/g, ' ').trim() + '\n');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  reply('error no onnxruntime-node (npm install --prefix bench --no-save --ignore-scripts onnxruntime-node@1.31.1)');
  process.exit(0);
}

const [exportPath, dir, threadsArg] = process.argv.slice(2);
let modelPath = exportPath;
const threads = Number(threadsArg);
const options = (extra) => ({
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
  ...extra,
});

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

async function timeRuns(session, feeds, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await session.run(feeds);
  return Number(process.hrtime.bigint() - t0) * 1e-9 / n;
}

// ORT's model_run durations (microseconds) from a profile; the profile's
// first run is a warm-up and left out.
async function profileRuns(feeds, n) {
  const prefix = path.join(dir, 'profile');
  const session = await ort.InferenceSession.create(modelPath,
    options({ enableProfiling: true, profileFilePrefix: prefix }));
  for (let i = 0; i <= n; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const file = fs.readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'));
  if (!file) throw new Error('ONNX Runtime wrote no profile');
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.unlinkSync(path.join(dir, file));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur);
  if (runs.length < 2) throw new Error(`the profile has ${runs.length} model_run events`);
  return median(runs.slice(1)) * 1e-6;
}

async function main() {
  // An export names its weights' file relative to itself: a copy sits in DIR.
  if (fs.existsSync(path.join(dir, 'weights.bin'))) {
    modelPath = path.join(dir, 'model.onnx');
    fs.copyFileSync(exportPath, modelPath);
  }
  const session = await ort.InferenceSession.create(modelPath, options({}));
  const identity = await ort.InferenceSession.create(path.join(__dirname, 'onnx', 'identity.onnx'), options({}));
  const one = { [identity.inputNames[0]]: new ort.Tensor('float32', new Float32Array([1]), [1, 1]) };
  let feeds = null;
  reply(`ok ONNX Runtime ${ort.env.versions.node}`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, ...args] = line.trim().split(/\s+/);
    try {
      if (cmd === 'quit') break;
      if (cmd === 'input') {
        const dims = args.map(Number);
        const bytes = fs.readFileSync(path.join(dir, 'in.bin'));
        const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
        feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, dims) };
        const y = (await session.run(feeds))[session.outputNames[0]].data;
        fs.writeFileSync(path.join(dir, 'out.bin'), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
        reply(`ok ${y.length}`);
      } else if (cmd === 'time' && feeds) {
        const n = Number(args[1]);
        reply(`ok ${args[0] === 'identity' ? await timeRuns(identity, one, n) : await timeRuns(session, feeds, n)}`);
      } else if (cmd === 'profile' && feeds) {
        reply(`ok ${await profileRuns(feeds, Number(args[0]))}`);
      } else {
        reply(`error unknown request '${line}'`);
      }
    } catch (e) {
      reply(`error ${e.message}`);
    }
  }
  await session.release();
  await identity.release();
}

main().catch((e) => reply(`error ${e.message}`));
