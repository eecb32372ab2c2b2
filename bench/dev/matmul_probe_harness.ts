/**
 * The raw-WebGPU plumbing of the matmul kernel probe (a probe, not the engine): device and
 * pipelines, buffers, one prepared dispatch, seeded problems with a float64 reference, and the
 * tile configs the probe tries.
 * @module
 */
import {
  type MatmulConfig,
  matmulConfigFor,
  matmulKey,
  matmulUniforms,
  matmulWgsl,
  matmulWorkgroups,
} from "../../kernels/matmul.ts";
// ---------------------------------------------------------------------------------------
// Minimal device + pipeline plumbing (a probe, not the engine).

export async function getDevice(): Promise<GPUDevice> {
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

function upload(
  device: GPUDevice,
  data: Float32Array<ArrayBuffer>,
  label: string,
): GPUBuffer {
  const buf = device.createBuffer({
    label,
    size: round16(data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  if (data.byteLength > 0) device.queue.writeBuffer(buf, 0, data);
  return buf;
}

export async function download(
  device: GPUDevice,
  buf: GPUBuffer,
  n: number,
): Promise<Float32Array> {
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
export interface Problem {
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

export async function prepare(device: GPUDevice, c: MatmulConfig, p: Problem): Promise<Job> {
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

export function encode(device: GPUDevice, job: Job, reps: number): GPUCommandBuffer {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(job.pipeline);
  pass.setBindGroup(0, job.bindGroup);
  for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(...job.grid);
  pass.end();
  return enc.finish();
}

export function release(job: Job): void {
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
export function reference(p: Problem): { c: Float64Array; mag: Float64Array } {
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

export function makeProblem(
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
export const SWEEP = [
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
export const CHECKED = [
  "r8x8_w4x4_d1",
  "r8x8_w8x8_s16",
  "r4x4_w8x2_s8",
  "r3x4_w4x8_s8",
];

/**
 * Parses `r<tm>x<tn>_w<wgM>x<wgN>_<mode>`; mode `d` = direct (4 k per step), `d1` =
 * direct with one k per step, `s<tk>` = workgroup-memory tiles of depth tk.
 */
export function parseVariant(name: string): Variant {
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
export function configFor(name: string, p: Problem, epi = false): MatmulConfig {
  const base = matmulConfigFor(p.m, p.n, p.k, p.transA, p.transB);
  const v = name === "policy" ? {} : parseVariant(name);
  const c: MatmulConfig = { ...base, ...v };
  c.vecA = base.vecA && (!p.transA || c.tm % 4 === 0) && p.strideA % 4 === 0;
  c.vecB = base.vecB && p.strideB % 4 === 0;
  c.alpha = epi && p.alpha !== undefined;
  c.bias = epi && p.bias !== undefined;
  return c;
}
