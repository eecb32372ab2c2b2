/**
 * Memory counters for leak tests and benchmarks.
 * @module
 */
import type { Backend } from "./backend.ts";
import { platform } from "./platform/mod.ts";
import { liveTensorCount } from "./tensor.ts";

/** Live memory of a backend. */
export interface MemoryStats {
  /** Tensors not yet disposed (all backends). */
  liveTensors: number;
  /** GPU bytes held by live tensors (0 on the CPU backend). */
  liveBytes: number;
  /** GPU buffers held by live tensors. */
  liveBuffers: number;
  /** GPU bytes parked in the pool. */
  pooledBytes: number;
  /** Highest live GPU bytes since the last {@linkcode resetPeakMemory}. */
  peakLiveBytes: number;
}

/**
 * Current counters.
 * @returns Live tensors, live and pooled GPU bytes.
 */
export function memoryStats(backend: Backend): MemoryStats {
  const pool = backend.kind === "webgpu" ? backend.dispatcher.pool.stats() : null;
  return {
    liveTensors: liveTensorCount(),
    liveBytes: pool?.liveBytes ?? 0,
    liveBuffers: pool?.liveBuffers ?? 0,
    pooledBytes: pool?.pooledBytes ?? 0,
    peakLiveBytes: pool?.peakLiveBytes ?? 0,
  };
}

/** Restarts peak tracking: live GPU bytes, and (on Linux) the process's peak resident set size. */
export function resetPeakMemory(backend: Backend): void {
  if (backend.kind === "webgpu") backend.dispatcher.pool.resetPeak();
  platform().resetPeakRss();
}

/**
 * Peak resident set size since the last {@linkcode resetPeakMemory} (Linux VmHWM), else the
 * current RSS.
 */
export function peakRssBytes(): number {
  return platform().peakRssBytes();
}
