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
 *   XDG_RUNTIME_DIR=/tmp/xdg deno run -A bench/dev/matmul_kernel_probe.ts [flags]
 * Flags: --sizes=256,512,1024,2048  --configs=all|policy|NAME,...  --no-tfjs
 *        --no-check  --no-bench  --min-ms=300
 *
 * @module
 */

import process from "node:process";
import {
  type MatmulConfig,
  matmulConfigFor,
  matmulKey,
  matmulUniforms,
  matmulWgsl,
  matmulWorkgroups,
} from "../../kernels/matmul.ts";

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
// Minimal device + pipeline plumbing (a probe, not the engine).

async function getDevice(): Promise<GPUDevice> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("No WebGPU adapter");
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  });
  device.addEventListener("uncapturederror", (ev) => {
    console.error("WebGPU error:", (ev as GPUUncapturedErrorEvent).error.message);
  });
  const info = adapter.info;
  console.log(`adapter: ${info.description || info.vendor} (fallback=${info.isFallbackAdapter})`);
  return device;
}

const pipelineCache = new Map<string, GPUComputePipeline>();

async function pipelineFor(device: GPUDevice, c: MatmulConfig): Promise<GPUComputePipeline> {
  const key = matmulKey(c);
  const hit = pipelineCache.get(key);
  if (hit) return hit;
  const code = matmulWgsl(c);
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: key, code });
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } },
  ];
  if (c.bias) {
    entries.push({
      binding: 3,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "read-only-storage" },
    });
  }
  entries.push({
    binding: c.bias ? 4 : 3,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "storage" },
  });
  const bgl = device.createBindGroupLayout({ label: key, entries });
  const p = await device.createComputePipelineAsync({
    label: key,
    layout: device.createPipelineLayout({ bindGroupLayouts: [bgl] }),
    compute: { module, entryPoint: "main" },
  });
  const err = await device.popErrorScope();
  if (err) {
    console.error(code);
    throw new Error(`Pipeline ${key} failed: ${err.message}`);
  }
  pipelineCache.set(key, p);
  return p;
}

function round16(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

function upload(device: GPUDevice, data: Float32Array<ArrayBuffer>, label: string): GPUBuffer {
  const buf = device.createBuffer({
    label,
    size: round16(data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  if (data.byteLength > 0) device.queue.writeBuffer(buf, 0, data);
  return buf;
}

async function download(device: GPUDevice, buf: GPUBuffer, n: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: round16(n * 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, staging, 0, round16(n * 4));
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, n * 4));
  staging.unmap();
  staging.destroy();
  return out;
}

/** One prepared dispatch: pipeline, bind group and grid. */
interface Job {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: [number, number, number];
  out: GPUBuffer;
  buffers: GPUBuffer[];
}

/** Shape and data of one matmul problem. */
interface Problem {
  m: number;
  n: number;
  k: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  a: Float32Array<ArrayBuffer>;
  b: Float32Array<ArrayBuffer>;
  strideA: number;
  strideB: number;
  bias?: Float32Array<ArrayBuffer>;
  alpha?: number;
}

async function prepare(device: GPUDevice, c: MatmulConfig, p: Problem): Promise<Job> {
  const pipeline = await pipelineFor(device, c);
  const strideC = p.m * p.n;
  const uni = device.createBuffer({
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(
    uni,
    0,
    matmulUniforms(p.m, p.n, p.k, p.batch, p.strideA, p.strideB, strideC, p.alpha ?? 1),
  );
  const bufA = upload(device, p.a, "A");
  const bufB = upload(device, p.b, "B");
  const out = device.createBuffer({
    label: "C",
    size: round16(strideC * p.batch * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const buffers = [uni, bufA, bufB, out];
  const entries: GPUBindGroupEntry[] = [
    { binding: 0, resource: { buffer: uni } },
    { binding: 1, resource: { buffer: bufA } },
    { binding: 2, resource: { buffer: bufB } },
  ];
  if (c.bias) {
    const bb = upload(device, p.bias ?? new Float32Array(p.n), "bias");
    buffers.push(bb);
    entries.push({ binding: 3, resource: { buffer: bb } });
  }
  entries.push({ binding: c.bias ? 4 : 3, resource: { buffer: out } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  return { pipeline, bindGroup, grid: matmulWorkgroups(c, p.m, p.n, p.batch), out, buffers };
}

function encode(device: GPUDevice, job: Job, reps: number): GPUCommandBuffer {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(job.pipeline);
  pass.setBindGroup(0, job.bindGroup);
  for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(...job.grid);
  pass.end();
  return enc.finish();
}

function release(job: Job): void {
  for (const b of job.buffers) b.destroy();
}

// ---------------------------------------------------------------------------------------
// CPU reference and data.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fill(n: number, r: () => number, ints: boolean): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ints ? Math.floor(r() * 7) - 3 : r() * 4 - 2;
  return a;
}

/** float64 reference: returns C and, per element, Σ|a·b| for a relative error scale. */
function reference(p: Problem): { c: Float64Array; mag: Float64Array } {
  const { m, n, k, batch } = p;
  const c = new Float64Array(batch * m * n);
  const mag = new Float64Array(batch * m * n);
  const alpha = p.alpha ?? 1;
  for (let b = 0; b < batch; b++) {
    const ao = b * p.strideA;
    const bo = b * p.strideB;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let g = 0;
        for (let t = 0; t < k; t++) {
          const av = p.transA ? p.a[ao + t * m + i] : p.a[ao + i * k + t];
          const bv = p.transB ? p.b[bo + j * k + t] : p.b[bo + t * n + j];
          s += av * bv;
          g += Math.abs(av * bv);
        }
        const o = b * m * n + i * n + j;
        c[o] = alpha * s + (p.bias ? p.bias[j] : 0);
        mag[o] = Math.abs(alpha) * g + (p.bias ? Math.abs(p.bias[j]) : 0);
      }
    }
  }
  return { c, mag };
}

function makeProblem(
  m: number,
  n: number,
  k: number,
  batch: number,
  transA: boolean,
  transB: boolean,
  opts: {
    ints: boolean;
    broadcastA: boolean;
    broadcastB: boolean;
    seed: number;
    bias: boolean;
    alpha?: number;
  },
): Problem {
  const r = rng(opts.seed);
  const strideA = opts.broadcastA ? 0 : m * k;
  const strideB = opts.broadcastB ? 0 : k * n;
  return {
    m,
    n,
    k,
    batch,
    transA,
    transB,
    a: fill(opts.broadcastA ? m * k : strideA * batch, r, opts.ints),
    b: fill(opts.broadcastB ? k * n : strideB * batch, r, opts.ints),
    strideA,
    strideB,
    bias: opts.bias ? fill(n, r, opts.ints) : undefined,
    alpha: opts.alpha,
  };
}

// ---------------------------------------------------------------------------------------
// Candidate configs.

type Variant = Pick<MatmulConfig, "tm" | "tn" | "wgM" | "wgN" | "tk" | "ku">;

/**
 * Every tile shape tried while tuning (see the module doc of kernels/matmul.ts for the
 * reasoning), benchmarked by default; `policy` rows use matmulConfigFor.
 */
const SWEEP = [
  "r4x4_w8x8_d",
  "r8x8_w8x8_d",
  "r16x16_w4x4_d",
  "r24x24_w4x4_d",
  "r32x16_w4x4_d",
  "r32x32_w4x4_d",
  "r32x32_w4x4_d1",
  "r8x8_w8x8_s16",
  "r16x16_w8x8_s16",
  "r32x32_w4x4_s16",
];

/** Variants checked besides the policy (which itself covers r32x32_w4x4_d on BIG_SHAPES). */
const CHECKED = [
  "r8x8_w4x4_d1",
  "r8x8_w8x8_s16",
  "r4x4_w8x2_s8",
  "r3x4_w4x8_s8",
];

/**
 * Parses `r<tm>x<tn>_w<wgM>x<wgN>_<mode>`; mode `d` = direct (4 k per step), `d1` =
 * direct with one k per step, `s<tk>` = workgroup-memory tiles of depth tk.
 */
function parseVariant(name: string): Variant {
  const m = /^r(\d+)x(\d+)_w(\d+)x(\d+)_(d1|d|s(\d+))$/.exec(name);
  if (!m) throw new TypeError(`Cannot parse variant "${name}"`);
  return {
    tm: +m[1],
    tn: +m[2],
    wgM: +m[3],
    wgN: +m[4],
    tk: m[5].startsWith("s") ? +m[6] : 0,
    ku: m[5] === "d1" ? 1 : 4,
  };
}

/** A config for a problem: the policy's, or a named variant with the policy's flags. */
function configFor(name: string, p: Problem, epi = false): MatmulConfig {
  const base = matmulConfigFor(p.m, p.n, p.k, p.transA, p.transB);
  const v = name === "policy" ? {} : parseVariant(name);
  const c: MatmulConfig = { ...base, ...v };
  c.vecA = base.vecA && (!p.transA || c.tm % 4 === 0) && p.strideA % 4 === 0;
  c.vecB = base.vecB && p.strideB % 4 === 0;
  c.alpha = epi && p.alpha !== undefined;
  c.bias = epi && p.bias !== undefined;
  return c;
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
