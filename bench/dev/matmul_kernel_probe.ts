/**
 * Standalone raw-WebGPU probe for the matmul kernel family (`kernels/matmul.ts`).
 *
 * 1. Correctness: every layout (NN/NT/TN/TT) and alignment class against a float64 CPU
 *    reference: random data (error ≤ 1e-4 relative to Σ|a·b|), small-integer data
 *    (exact), odd shapes, batch 2 with a broadcast (stride 0) A, batch 3 with a
 *    broadcast B, alpha and bias epilogues, the scalar fallback, the direct, one-k and
 *    workgroup-memory modes.
 * 2. Speed: GFLOP/s of the size policy (NN, NT, TN) and of every tile config tried, for
 *    square N = 256, 512, 1024, 2048, next to tfjs-webgpu measured in the same process.
 *
 * Timing submits R dispatches in one command buffer and awaits
 * `queue.onSubmittedWorkDone()`; R is chosen so that a timed submit takes ≥ ~0.3 s,
 * which amortises Deno's ≥ 11 ms completion poll. Nothing is subtracted. The best of
 * three submits is reported (other processes can only slow a run down), with the CPU
 * cores the process actually got.
 *
 * Run (the first run compiles ~30 pipelines; 32x32 tiles take seconds each, after which
 * Mesa's shader cache makes reruns fast):
 *   XDG_RUNTIME_DIR=/tmp/xdg deno run -A --config bench/peers/deno.json \
 *     bench/dev/matmul_kernel_probe.ts [flags]
 * (the config maps the tfjs peer's packages; with --no-tfjs the root config does too)
 * Flags: --sizes=256,512,1024,2048  --configs=all|policy|NAME,...  --no-tfjs
 *        --no-check  --no-bench  --min-ms=300
 *
 * @module
 */

import process from "node:process";
import { type MatmulConfig, matmulKey } from "../../kernels/matmul.ts";
import {
  CHECKED,
  configFor,
  download,
  encode,
  getDevice,
  makeProblem,
  parseVariant,
  prepare,
  type Problem,
  reference,
  release,
  SWEEP,
} from "./matmul_probe_harness.ts";

/** Command-line options of the probe. */
interface Options {
  sizes: number[];
  configs: string;
  tfjs: boolean;
  check: boolean;
  bench: boolean;
  minMs: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    sizes: [256, 512, 1024, 2048],
    configs: "all",
    tfjs: true,
    check: true,
    bench: true,
    minMs: 300,
  };
  for (const a of args) {
    const [k, v] = a.split("=");
    if (k === "--sizes") o.sizes = v.split(",").map(Number);
    else if (k === "--configs") o.configs = v;
    else if (k === "--no-tfjs") o.tfjs = false;
    else if (k === "--no-check") o.check = false;
    else if (k === "--no-bench") o.bench = false;
    else if (k === "--min-ms") o.minMs = Number(v);
    else throw new TypeError(`Unknown flag "${a}"`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------
// Correctness.

async function checkOne(
  device: GPUDevice,
  c: MatmulConfig,
  p: Problem,
  exact: boolean,
): Promise<number> {
  const job = await prepare(device, c, p);
  device.queue.submit([encode(device, job, 1)]);
  const got = await download(device, job.out, p.batch * p.m * p.n);
  release(job);
  const { c: want, mag } = reference(p);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = exact
      ? Math.abs(got[i] - want[i])
      : Math.abs(got[i] - want[i]) / Math.max(mag[i], 1e-30);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  const ok = exact ? worst === 0 : worst <= 1e-4;
  if (!ok) {
    throw new Error(
      `${matmulKey(c)} m=${p.m} n=${p.n} k=${p.k} batch=${p.batch}: ` +
        `error ${worst} at ${at} (got ${got[at]}, want ${want[at]})`,
    );
  }
  return worst;
}

/** Odd, tiny, aligned and unaligned shapes [m, n, k]. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 3, 129],
  [129, 17, 3],
  [33, 65, 17],
  [64, 64, 64],
  [72, 136, 40],
  [4, 4, 1],
  [1, 96, 33],
  [100, 8, 12],
];

/** Shapes for big-tile variants and the policy's 32x32 path (each pipeline compiles slowly). */
const BIG_SHAPES: [number, number, number][] = [
  [132, 136, 36],
  [129, 130, 37],
];

async function runChecks(device: GPUDevice): Promise<void> {
  let count = 0;
  let worst = 0;
  const t0 = performance.now();
  const plan: [string, [number, number, number][]][] = [["policy", [...SHAPES, ...BIG_SHAPES]]];
  for (const name of CHECKED) {
    const v = parseVariant(name);
    plan.push([name, v.tm * v.tn >= 256 ? BIG_SHAPES : SHAPES]);
  }
  for (const [name, shapes] of plan) {
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const seed = count * 7919 + 1;
          // Random data, batch 2 with A broadcast (stride 0): relative error <= 1e-4.
          const rnd = makeProblem(m, n, k, 2, transA, transB, {
            ints: false,
            broadcastA: true,
            broadcastB: false,
            seed,
            bias: false,
          });
          worst = Math.max(worst, await checkOne(device, configFor(name, rnd), rnd, false));
          // Small integers, batch 3 with B broadcast, alpha and bias: exact.
          const ints = makeProblem(m, n, k, 3, transA, transB, {
            ints: true,
            broadcastA: false,
            broadcastB: true,
            seed: seed + 1,
            bias: true,
            alpha: 2,
          });
          await checkOne(device, configFor(name, ints, true), ints, true);
          // Scalar fallback (every vec flag off) on the integer problem.
          const scalar = { ...configFor(name, ints, true), vecA: false, vecB: false, vecC: false };
          await checkOne(device, scalar, ints, true);
          count += 3;
        }
      }
    }
    console.log(`  checked ${name}`);
  }
  console.log(
    `check: ${count} problems passed, NN/NT/TN/TT (worst relative error on random data ` +
      `${worst.toExponential(2)}, integer data exact; ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
  );
}

// ---------------------------------------------------------------------------------------
// Speed.

/** Wall-clock GFLOP/s (best of three timed submits) and the process's CPU cores used. */
async function gflops(
  device: GPUDevice,
  c: MatmulConfig,
  p: Problem,
  minMs: number,
): Promise<{ gflops: number; cores: number }> {
  const job = await prepare(device, c, p);
  const flop = 2 * p.m * p.n * p.k * p.batch;
  // Warm-up: compiles the pipeline (lavapipe compiles at first dispatch); then estimate.
  device.queue.submit([encode(device, job, 1)]);
  await device.queue.onSubmittedWorkDone();
  let t0 = performance.now();
  device.queue.submit([encode(device, job, 1)]);
  await device.queue.onSubmittedWorkDone();
  const est = Math.max(performance.now() - t0 - 11, 0.05);
  const reps = Math.max(2, Math.min(1000, Math.ceil(minMs / est)));
  let best = 0;
  let cores = 0;
  for (let i = 0; i < 3; i++) {
    const cpu0 = cpuSeconds();
    t0 = performance.now();
    device.queue.submit([encode(device, job, reps)]);
    await device.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    const g = (flop * reps) / (ms * 1e6);
    if (g > best) {
      best = g;
      cores = (cpuSeconds() - cpu0) / (ms / 1000);
    }
  }
  release(job);
  return { gflops: best, cores };
}

/** User + system CPU seconds of this process (lavapipe's worker threads included). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One row of the result table: a label and, per size, [GFLOP/s, cores used]. */
interface Row {
  label: string;
  cells: [number, number][];
}

function printTable(
  title: string,
  sizes: number[],
  rows: Row[],
  cell: (c: [number, number]) => string,
): void {
  const header = ["config", ...sizes.map((s) => `N=${s}`)];
  const table = [header, ...rows.map((r) => [r.label, ...r.cells.map(cell)])];
  const w = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const fmt = (r: string[]): string => "| " + r.map((x, i) => x.padEnd(w[i])).join(" | ") + " |";
  console.log(`\n${title}`);
  console.log(fmt(header));
  console.log("| " + w.map((x) => "-".repeat(x)).join(" | ") + " |");
  for (const r of table.slice(1)) console.log(fmt(r));
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  const device = await getDevice();
  if (o.check) await runChecks(device);
  if (!o.bench) {
    device.destroy();
    return;
  }
  const names = o.configs === "all" ? SWEEP : o.configs === "policy" ? [] : o.configs.split(",");
  type Run = { label: string; name: string; ta: boolean; tb: boolean };
  const runs: Run[] = [
    { label: "policy NN", name: "policy", ta: false, tb: false },
    { label: "tfjs-webgpu 4.22.0", name: "tfjs", ta: false, tb: false },
    { label: "policy NT", name: "policy", ta: false, tb: true },
    { label: "policy TN", name: "policy", ta: true, tb: false },
    ...names.map((name) => ({ label: name, name, ta: false, tb: false })),
  ].filter((r) => o.tfjs || r.name !== "tfjs");
  const rows: Row[] = runs.map((r) => ({ label: r.label, cells: [] }));
  const tfjs = o.tfjs ? await import("../peers/tfjs.ts") : undefined;
  // Sizes outermost, so every config of one size (tfjs included) is timed close together
  // under the same background load.
  for (const n of o.sizes) {
    for (const [i, r] of runs.entries()) {
      let res: [number, number];
      let what: string;
      if (r.name === "tfjs") {
        const reps = Math.max(2, Math.round(2 ** 29 / n ** 3));
        const st = await tfjs!.tfjsMatmulStats(n, reps);
        res = [st.gflops, st.cores];
        what = `${reps} matmuls per timing`;
      } else {
        const p = makeProblem(n, n, n, 1, r.ta, r.tb, {
          ints: false,
          broadcastA: false,
          broadcastB: false,
          seed: n,
          bias: false,
        });
        const c = configFor(r.name, p);
        const g = await gflops(device, c, p, o.minMs);
        res = [g.gflops, g.cores];
        what = matmulKey(c);
      }
      rows[i].cells.push(res);
      console.log(
        `  ${r.label} N=${n}: ${res[0].toFixed(2)} GFLOP/s on ${res[1].toFixed(2)} cores (${what})`,
      );
    }
  }
  device.destroy();
  printTable(
    "GFLOP/s (wall clock), square fp32 matmul, NN unless noted; best of 3 timed submits",
    o.sizes,
    rows,
    (c) => c[0].toFixed(2),
  );
  printTable(
    `GFLOP/s per CPU core the process got (wall GFLOP/s / cores used; ` +
      `${navigator.hardwareConcurrency} cores, shared with other processes)`,
    o.sizes,
    rows,
    (c) => (c[1] > 0 ? c[0] / c[1] : 0).toFixed(2),
  );
}

if (import.meta.main) await main();
