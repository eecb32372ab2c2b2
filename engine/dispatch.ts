/**
 * The GPU command recorder: a pipeline cache keyed by kernel family and configuration, a uniform
 * ring, dispatches recorded into one open compute pass, batched submits, and batched readbacks.
 * @module
 */
import { GpuDeviceError } from "./device_error.ts";
import { BufferPool } from "./pool.ts";
import { checkLaunch, type GpuBinding, type KernelLaunch, UNIFORM_SLOT } from "./launch.ts";

/** Submit after this many recorded dispatches so the adapter starts while more are recorded. */
const DISPATCHES_PER_SUBMIT = 64;

interface PendingRead {
  binding: GpuBinding;
  resolve: (bytes: ArrayBuffer) => void;
  reject: (error: unknown) => void;
}

/** Counters that benchmarks and tests read. */
export interface DispatchStats {
  /** Kernel launches recorded. */
  dispatches: number;
  /** Queue submits. */
  submits: number;
  /** Readback round trips (`mapAsync` calls). */
  readbacks: number;
  /** Compiled pipelines in the cache. */
  pipelines: number;
}

/** Records kernel launches on one device and submits them in batches. */
export class Dispatcher {
  /** The device. */
  readonly device: GPUDevice;
  /** The buffer pool whose deferred releases follow this dispatcher's submits. */
  readonly pool: BufferPool;
  /** When true, pipelines are compiled inside error scopes and each launch is submitted alone. */
  readonly debug: boolean;
  #pipelines = new Map<string, { pipeline: GPUComputePipeline; group: GPUBindGroupLayout }>();
  #layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  #wgslByKey = new Map<string, string>();
  #ring: GPUBuffer;
  #ringStage: Uint8Array<ArrayBuffer>;
  #slots = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #reads: PendingRead[] = [];
  #readScheduled = false;
  #stats: DispatchStats = { dispatches: 0, submits: 0, readbacks: 0, pipelines: 0 };
  #profile: Profiler | null = null;
  #deviceError: string | null = null;

  /**
   * Creates a dispatcher.
   * @param debug Compile and submit inside error scopes and print failing WGSL.
   */
  constructor(device: GPUDevice, debug = false) {
    this.device = device;
    this.debug = debug;
    this.pool = new BufferPool(device);
    this.#ring = device.createBuffer({
      size: UNIFORM_SLOT * DISPATCHES_PER_SUBMIT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "uniform-ring",
    });
    this.#ringStage = new Uint8Array(UNIFORM_SLOT * DISPATCHES_PER_SUBMIT);
    // Kept (the first one) and thrown at the next sync point: results computed after a failed
    // command are garbage, so the computation must not go on.
    device.addEventListener("uncapturederror", (event) => {
      this.#deviceError ??= (event as GPUUncapturedErrorEvent).error.message;
    });
  }

  /**
   * Throws (once) the first error the device reported since the last sync point.
   * @throws {GpuDeviceError} When there was one.
   */
  throwDeviceError(): void {
    const message = this.#deviceError;
    if (message === null) return;
    this.#deviceError = null;
    throw new GpuDeviceError(message);
  }

  /**
   * Counters since creation.
   * @returns Dispatches, submits, readbacks and cached pipelines.
   */
  stats(): DispatchStats {
    return { ...this.#stats, pipelines: this.#pipelines.size };
  }

  /**
   * Records one kernel launch into the open compute pass.
   * @param launch The kernel, its bindings and its workgroup counts.
   */
  run(launch: KernelLaunch): void {
    const [x, y = 1, z = 1] = launch.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    checkLaunch(launch, this.device.limits.maxStorageBufferBindingSize);
    const pipeline = this.#pipeline(
      launch.key,
      launch.wgsl,
      launch.inputs.length,
      launch.outputs.length,
    );
    if (this.#slots === DISPATCHES_PER_SUBMIT) this.flush();
    const slot = this.#slots++;
    this.#ringStage.set(
      new Uint8Array(
        launch.uniforms.buffer,
        launch.uniforms.byteOffset,
        launch.uniforms.byteLength,
      ),
      slot * UNIFORM_SLOT,
    );
    const entries: GPUBindGroupEntry[] = [{
      binding: 0,
      resource: { buffer: this.#ring, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT },
    }];
    let binding = 1;
    for (const b of [...launch.inputs, ...launch.outputs]) {
      entries.push({
        binding: binding++,
        resource: { buffer: b.buffer, offset: b.offset, size: Math.max(4, b.size) },
      });
    }
    const group = this.device.createBindGroup({
      layout: pipeline.group,
      entries,
      label: launch.key,
    });
    if (this.debug) this.device.pushErrorScope("validation");
    const pass = this.#profile
      ? this.#profile.pass(
        this.#encoder ??= this.device.createCommandEncoder(),
        this.#closePass.bind(this),
        slot,
        launch.key,
      )
      : this.#openPass();
    pass.setPipeline(pipeline.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    if (this.#profile) pass.end();
    this.#stats.dispatches++;
    if (this.debug) {
      this.flush();
      this.device.popErrorScope().then((error) => {
        if (error) {
          console.error(
            `Kernel "${launch.key}" failed: ${error.message}\n${this.#wgslByKey.get(launch.key)}`,
          );
        }
      });
    }
  }

  /**
   * Starts per-kernel GPU timing (needs the adapter's `timestamp-query` feature): each launch
   * gets its own timed pass, so only use it to find where time goes, not to time throughput.
   * @returns False when the adapter cannot time kernels.
   */
  startProfile(): boolean {
    if (!this.device.features.has("timestamp-query")) return false;
    this.flush();
    this.#profile = new Profiler(this.device, DISPATCHES_PER_SUBMIT);
    return true;
  }

  /**
   * Stops timing and returns milliseconds and launch counts per kernel key, slowest first.
   * @returns Rows of the profile.
   */
  async stopProfile(): Promise<{ key: string; ms: number; count: number }[]> {
    const p = this.#profile;
    if (p === null) return [];
    this.flush();
    this.#profile = null;
    return await p.report();
  }

  /**
   * Records a buffer-to-buffer copy (outside any compute pass).
   * @param src Source range.
   * @param dst Destination range (same size as the source).
   */
  copy(src: GpuBinding, dst: GpuBinding): void {
    this.#closePass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size);
  }

  /** Submits everything recorded so far. Cheap when nothing is pending. */
  flush(): void {
    this.#closePass();
    if (this.#encoder === null) return;
    if (this.#slots > 0) {
      this.device.queue.writeBuffer(this.#ring, 0, this.#ringStage, 0, this.#slots * UNIFORM_SLOT);
    }
    const collect = this.#profile?.resolve(this.#encoder, this.#slots);
    this.device.queue.submit([this.#encoder.finish()]);
    collect?.();
    this.#encoder = null;
    this.#slots = 0;
    this.#stats.submits++;
    this.pool.afterSubmit();
  }

  /**
   * Waits until the adapter has finished all submitted work (flushes first).
   * @returns A promise that settles when the queue is idle.
   * @throws {GpuDeviceError} When the device reported an error since the last sync point.
   */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwDeviceError();
  }

  /**
   * Reads a storage range back. All reads requested in the same tick share one staging buffer,
   * one submit and one `mapAsync`.
   * @param binding The range to read.
   */
  read(binding: GpuBinding): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      this.#reads.push({ binding, resolve, reject });
      if (!this.#readScheduled) {
        this.#readScheduled = true;
        queueMicrotask(() => this.#flushReads());
      }
    });
  }

  async #flushReads(): Promise<void> {
    this.#readScheduled = false;
    const reads = this.#reads;
    this.#reads = [];
    if (reads.length === 0) return;
    let total = 0;
    const offsets: number[] = [];
    for (const r of reads) {
      offsets.push(total);
      total += Math.ceil(r.binding.size / 4) * 4;
    }
    const staging = this.device.createBuffer({
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback",
    });
    reads.forEach((r, i) => {
      if (r.binding.size > 0) {
        this.copy(r.binding, { buffer: staging, offset: offsets[i], size: r.binding.size });
      }
    });
    this.flush();
    this.#stats.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
      this.throwDeviceError();
      const all = staging.getMappedRange();
      reads.forEach((r, i) => r.resolve(all.slice(offsets[i], offsets[i] + r.binding.size)));
      staging.unmap();
    } catch (error) {
      for (const r of reads) r.reject(error);
    } finally {
      staging.destroy();
    }
  }

  #openPass(): GPUComputePassEncoder {
    if (this.#pass !== null) return this.#pass;
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass = this.#encoder.beginComputePass();
    return this.#pass;
  }

  #closePass(): void {
    if (this.#pass === null) return;
    this.#pass.end();
    this.#pass = null;
  }

  #pipeline(
    key: string,
    wgsl: () => string,
    nIn: number,
    nOut: number,
  ): { pipeline: GPUComputePipeline; group: GPUBindGroupLayout } {
    const cached = this.#pipelines.get(key);
    if (cached) return cached;
    const code = wgsl();
    this.#wgslByKey.set(key, code);
    const layout = this.#layout(nIn, nOut);
    if (this.debug) this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({
      layout: layout.pipeline,
      compute: { module, entryPoint: "main" },
      label: key,
    });
    if (this.debug) {
      this.device.popErrorScope().then((error) => {
        if (error) console.error(`Pipeline "${key}" failed: ${error.message}\n${code}`);
      });
    }
    const made = { pipeline, group: layout.group };
    this.#pipelines.set(key, made);
    return made;
  }

  // Explicit layouts (never "auto"): binding 0 uniform, then read-only inputs, then outputs.
  #layout(nIn: number, nOut: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = `${nIn}:${nOut}`;
    const cached = this.#layouts.get(key);
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = [{
      binding: 0,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "uniform" },
    }];
    for (let i = 0; i < nIn + nOut; i++) {
      entries.push({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: i < nIn ? "read-only-storage" : "storage" },
      });
    }
    const group = this.device.createBindGroupLayout({ entries, label: `layout-${key}` });
    const pipeline = this.device.createPipelineLayout({ bindGroupLayouts: [group] });
    const made = { group, pipeline };
    this.#layouts.set(key, made);
    return made;
  }
}

// Timestamp queries around each launch of a profiled run, resolved at every submit.
class Profiler {
  #device: GPUDevice;
  #set: GPUQuerySet;
  #resolveBuf: GPUBuffer;
  #keys: string[] = [];
  #pending: Promise<void>[] = [];
  #totals = new Map<string, { ns: number; count: number }>();

  constructor(device: GPUDevice, slots: number) {
    this.#device = device;
    this.#set = device.createQuerySet({ type: "timestamp", count: 2 * slots });
    this.#resolveBuf = device.createBuffer({
      size: 16 * slots,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  pass(
    encoder: GPUCommandEncoder,
    close: () => void,
    slot: number,
    key: string,
  ): GPUComputePassEncoder {
    close();
    this.#keys[slot] = key;
    return encoder.beginComputePass({
      timestampWrites: {
        querySet: this.#set,
        beginningOfPassWriteIndex: 2 * slot,
        endOfPassWriteIndex: 2 * slot + 1,
      },
    });
  }

  resolve(encoder: GPUCommandEncoder, slots: number): (() => void) | undefined {
    if (slots === 0) return undefined;
    const keys = this.#keys.slice(0, slots);
    const staging = this.#device.createBuffer({
      size: 16 * slots,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#set, 0, 2 * slots, this.#resolveBuf, 0);
    encoder.copyBufferToBuffer(this.#resolveBuf, 0, staging, 0, 16 * slots);
    return () => {
      this.#pending.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          keys.forEach((key, i) => {
            const ns = Number(t[2 * i + 1] - t[2 * i]);
            const e = this.#totals.get(key) ?? { ns: 0, count: 0 };
            e.ns += ns;
            e.count++;
            this.#totals.set(key, e);
          });
          staging.unmap();
          staging.destroy();
        }),
      );
    };
  }

  async report(): Promise<{ key: string; ms: number; count: number }[]> {
    await Promise.all(this.#pending);
    this.#set.destroy();
    this.#resolveBuf.destroy();
    return [...this.#totals].map(([key, e]) => ({ key, ms: e.ns / 1e6, count: e.count }))
      .sort((a, b) => b.ms - a.ms);
  }
}
