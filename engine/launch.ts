/**
 * What one kernel launch is (its bindings, uniforms and workgroup counts) and the checks every
 * launch passes before it is recorded. Among them are binding rules that browsers enforce and
 * Deno's wgpu does not: one launch never binds a storage both read-only and writable (Chromium
 * rejects that even for disjoint ranges) and never binds overlapping bytes writable twice. Deno
 * would run such a kernel; checking here makes every test on Deno hold the browsers' rules.
 * @module
 */

/** A storage range bound to a kernel. */
export interface GpuBinding {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Byte offset, a multiple of the device's storage offset alignment. */
  offset: number;
  /** Bytes visible to the kernel, a multiple of 4. */
  size: number;
}

/** One kernel launch. Binding 0 is the uniform block; inputs, then outputs, follow. */
export interface KernelLaunch {
  /** Pipeline cache key: kernel family + configuration, never raw sizes. */
  key: string;
  /** WGSL source, generated only on a cache miss. */
  wgsl: () => string;
  /** Uniform block bytes (at most {@linkcode UNIFORM_SLOT} bytes). */
  uniforms: ArrayBufferView;
  /** Read-only storage bindings. */
  inputs: readonly GpuBinding[];
  /** Read-write storage bindings. */
  outputs: readonly GpuBinding[];
  /** Workgroup counts; each at most 65,535. */
  workgroups: readonly number[];
}

/** Bytes reserved per dispatch in the uniform ring. */
export const UNIFORM_SLOT = 256;

/**
 * Throws a `RangeError` naming the kernel when a launch breaks a device limit or a binding rule.
 * @param launch The launch.
 * @param maxBinding The device's largest storage binding, in bytes.
 */
export function checkLaunch(launch: KernelLaunch, maxBinding: number): void {
  const key = launch.key;
  const [x, y = 1, z = 1] = launch.workgroups;
  if (x > 65535 || y > 65535 || z > 65535) {
    throw new RangeError(
      `Kernel "${key}" needs workgroups "[${x},${y},${z}]": each must be at most 65535`,
    );
  }
  if (launch.uniforms.byteLength > UNIFORM_SLOT) {
    throw new RangeError(`Kernel "${key}" uniforms exceed ${UNIFORM_SLOT} bytes`);
  }
  const { inputs, outputs } = launch;
  for (const b of [...inputs, ...outputs]) {
    // wgpu only logs an oversized binding and the kernel silently computes garbage: refuse.
    if (b.size > maxBinding) {
      throw new RangeError(
        `Kernel "${key}" binds ${b.size} bytes; this adapter allows at most ${maxBinding} per binding`,
      );
    }
  }
  outputs.forEach((o, i) => {
    const k = inputs.findIndex((b) => b.buffer === o.buffer);
    if (k >= 0) {
      throw new RangeError(
        `Kernel "${key}" binds one storage as input ${k} and output ${i}: browsers reject a ` +
          `storage bound read-only and writable in one launch`,
      );
    }
    for (let j = 0; j < i; j++) {
      const p = outputs[j];
      if (p.buffer === o.buffer && p.offset < o.offset + o.size && o.offset < p.offset + p.size) {
        throw new RangeError(
          `Kernel "${key}" binds overlapping bytes of one storage as outputs ${j} and ${i}: ` +
            `browsers reject overlapping writable bindings`,
        );
      }
    }
  });
}
