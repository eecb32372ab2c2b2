/**
 * The error a sync point throws when the WebGPU device reported one asynchronously (validation,
 * out of memory, internal): results computed after a failed command are garbage.
 * @module
 */

/** A WebGPU error the device reported asynchronously, thrown at the next sync point. */
export class GpuDeviceError extends Error {
  /**
   * Creates the error.
   * @param message The device's message.
   */
  constructor(message: string) {
    super(
      `WebGPU error in work submitted before this sync: ${message} (run with ENGINE_DEBUG=1 to ` +
        `name the kernel)`,
    );
    this.name = "GpuDeviceError";
  }
}
