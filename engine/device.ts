/**
 * WebGPU adapter and device acquisition with the limits this engine needs.
 * @module
 */
import { platform } from "./platform/mod.ts";

/** What {@linkcode requestGpuDevice} found: the device and a description of its adapter. */
export interface GpuDeviceInfo {
  /** The device every kernel of this engine runs on. */
  device: GPUDevice;
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** True on software adapters such as Mesa llvmpipe. */
  isFallbackAdapter: boolean;
}

/** The message shown when no adapter exists; says how to get one. */
export const NO_ADAPTER_MESSAGE: string =
  "No WebGPU adapter is available: on Linux without a GPU install a software adapter " +
  "(`apt-get install -y mesa-vulkan-drivers`), or use the float64 CPU backend " +
  '(`setBackend("cpu")`)';

// Limits raised above the WebGPU defaults when the adapter allows it: big embeddings need large
// storage bindings, and the fused kernels use more workgroup memory and invocations.
const WANTED_LIMITS: readonly (keyof GPUSupportedLimits)[] = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxStorageBuffersPerShaderStage",
];

/**
 * Requests an adapter and a device with the adapter's highest limits for storage bindings and
 * workgroups. Returns `null` when `navigator.gpu` or an adapter is missing.
 *
 * @returns The device and adapter facts, or `null` without an adapter.
 * @example Acquire a device
 * ```ts ignore
 * const info = await requestGpuDevice();
 * if (info === null) console.log("no adapter");
 * ```
 */
export async function requestGpuDevice(): Promise<GpuDeviceInfo | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return null;
  platform().prepareWebGpu();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return {
    device,
    description: adapter.info.description || adapter.info.vendor || "unknown adapter",
    isFallbackAdapter: adapter.info.isFallbackAdapter ?? false,
  };
}
