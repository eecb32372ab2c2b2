/**
 * Size-bucketed GPU buffer pool with deferred release and live-bytes accounting.
 * @module
 */

/** Usage flags of every tensor buffer: kernels read and write it, uploads and readbacks copy. */
export const STORAGE_USAGE: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/** Memory counters of a {@linkcode BufferPool}. */
export interface PoolStats {
  /** Bytes held by live tensors (bucket sizes). */
  liveBytes: number;
  /** Buffers held by live tensors. */
  liveBuffers: number;
  /** Bytes parked in the pool, ready for reuse. */
  pooledBytes: number;
  /** Buffers parked in the pool. */
  pooledBuffers: number;
  /** Highest `liveBytes` since creation or the last {@linkcode BufferPool.resetPeak}. */
  peakLiveBytes: number;
}

/**
 * Rounds a byte size up to its bucket: 256-byte classes below 4 KiB, then quarter-power-of-two
 * steps, so reuse is high while waste stays under 25%.
 *
 * @param bytes Requested size in bytes.
 * @returns The bucket size in bytes (a multiple of 16).
 */
export function bucketSize(bytes: number): number {
  if (bytes <= 4096) return Math.max(256, Math.ceil(bytes / 256) * 256);
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/**
 * Hands out storage buffers by size bucket. Released buffers wait until the next submit before
 * reuse, so a `writeBuffer` into a recycled buffer can never race commands still being recorded.
 */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #pending: GPUBuffer[] = [];
  #live = 0;
  #liveBuffers = 0;
  #pooled = 0;
  #pooledBuffers = 0;
  #peak = 0;

  /** Creates a pool on a device. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /**
   * Takes a buffer of at least `bytes` bytes.
   * @returns A storage buffer whose size is the bucket size.
   */
  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (buffer !== undefined) {
      this.#pooled -= size;
      this.#pooledBuffers--;
    } else {
      buffer = this.#device.createBuffer({ size, usage: STORAGE_USAGE, label: `pool-${size}` });
    }
    this.#live += size;
    this.#liveBuffers++;
    if (this.#live > this.#peak) this.#peak = this.#live;
    return buffer;
  }

  /**
   * Returns a buffer; it becomes reusable after the next {@linkcode BufferPool.afterSubmit}.
   * @param buffer A buffer from {@linkcode BufferPool.acquire}.
   */
  release(buffer: GPUBuffer): void {
    this.#live -= buffer.size;
    this.#liveBuffers--;
    this.#pending.push(buffer);
  }

  /** Makes buffers released before the last submit reusable. */
  afterSubmit(): void {
    for (const buffer of this.#pending) {
      const list = this.#free.get(buffer.size);
      if (list) list.push(buffer);
      else this.#free.set(buffer.size, [buffer]);
      this.#pooled += buffer.size;
      this.#pooledBuffers++;
    }
    this.#pending.length = 0;
  }

  /** Restarts peak tracking from the current live bytes. */
  resetPeak(): void {
    this.#peak = this.#live;
  }

  /** Destroys every parked buffer (live buffers are untouched). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooled = 0;
    this.#pooledBuffers = 0;
  }

  /**
   * Current counters.
   * @returns Live and pooled bytes and buffer counts.
   */
  stats(): PoolStats {
    return {
      liveBytes: this.#live,
      liveBuffers: this.#liveBuffers,
      pooledBytes: this.#pooled + this.#pending.reduce((s, b) => s + b.size, 0),
      pooledBuffers: this.#pooledBuffers + this.#pending.length,
      peakLiveBytes: this.#peak,
    };
  }
}
