/**
 * Backends: the WebGPU device (float32) and the float64 CPU reference. Every op runs on both.
 * @module
 */
import { NO_ADAPTER_MESSAGE, requestGpuDevice } from "./device.ts";
import { Dispatcher } from "./dispatch.ts";
import { platform } from "./platform/mod.ts";

/** The float64 CPU reference backend: exact, slow, always available. */
export interface CpuBackend {
  /** Discriminant. */
  readonly kind: "cpu";
}

/** The WebGPU backend: float32 storage, WGSL kernels. */
export interface GpuBackend {
  /** Discriminant. */
  readonly kind: "webgpu";
  /**
   * Records and submits kernels (for op code; {@linkcode sync} is the public way to wait).
   * @internal
   */
  readonly dispatcher: Dispatcher;
  /** Adapter description. */
  readonly adapter: string;
  /** True on software adapters. */
  readonly isFallbackAdapter: boolean;
  /** Required alignment of storage binding offsets, in bytes. */
  readonly storageAlign: number;
}

/** Either backend. */
export type Backend = CpuBackend | GpuBackend;

/** The single CPU backend instance. */
export const CPU: CpuBackend = Object.freeze({ kind: "cpu" as const });

let gpu: GpuBackend | null = null;
let gpuPromise: Promise<GpuBackend | null> | null = null;
let current: Backend = CPU;

/**
 * Creates (once) the WebGPU backend. Returns `null` when no adapter exists.
 * @param options `debug` wraps kernels in error scopes (also `ENGINE_DEBUG=1`).
 * @returns The backend, or `null`.
 * @example Use the GPU when present
 * ```ts ignore
 * const gpu = await tryWebGpu();
 * if (gpu) setBackend(gpu);
 * ```
 */
export function tryWebGpu(options: { debug?: boolean } = {}): Promise<GpuBackend | null> {
  gpuPromise ??= (async () => {
    const info = await requestGpuDevice();
    if (info === null) return null;
    const envDebug = platform().env("ENGINE_DEBUG") === "1";
    gpu = {
      kind: "webgpu",
      dispatcher: new Dispatcher(info.device, options.debug ?? envDebug),
      adapter: info.description,
      isFallbackAdapter: info.isFallbackAdapter,
      storageAlign: Math.max(info.device.limits.minStorageBufferOffsetAlignment, 4),
    };
    return gpu;
  })();
  return gpuPromise;
}

/** Creates the WebGPU backend and makes it the default; throws a clear error without an adapter. */
export async function initWebGpu(): Promise<GpuBackend> {
  const b = await tryWebGpu();
  if (b === null) throw new Error(NO_ADAPTER_MESSAGE);
  current = b;
  return b;
}

/** The backend new tensors are created on when none is given. */
export function getBackend(): Backend {
  return current;
}

/**
 * Sets the default backend.
 * @param backend A backend, or `"cpu"`.
 */
export function setBackend(backend: Backend | "cpu"): void {
  current = backend === "cpu" ? CPU : backend;
}

/**
 * Waits until every kernel recorded so far on `backend` has finished (a no-op on the CPU, where
 * ops run eagerly). Use it before reading a wall clock around GPU work.
 */
export async function sync(backend: Backend): Promise<void> {
  if (backend.kind === "webgpu") await backend.dispatcher.sync();
}
