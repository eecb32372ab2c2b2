// The launch checks every dispatch passes, on plain objects (no device needed): the binding
// rules browsers enforce and Deno's wgpu does not, and the device limits.
import { doesNotThrow, throws } from "node:assert/strict";
import { checkLaunch, type GpuBinding, type KernelLaunch } from "../../engine/launch.ts";

const buffer = (): GPUBuffer => ({}) as GPUBuffer;
const at = (b: GPUBuffer, offset: number, size: number): GpuBinding => ({
  buffer: b,
  offset,
  size,
});
const launch = (inputs: GpuBinding[], outputs: GpuBinding[]): KernelLaunch => ({
  key: "k",
  wgsl: () => "",
  uniforms: new Uint8Array(16),
  inputs,
  outputs,
  workgroups: [1],
});
const LIMIT = 1 << 20;

Deno.test("`checkLaunch()` refuses a storage bound read-only and writable, even on disjoint ranges", () => {
  const a = buffer();
  throws(
    () => checkLaunch(launch([at(buffer(), 0, 64), at(a, 0, 256)], [at(a, 256, 256)]), LIMIT),
    /Kernel "k" binds one storage as input 1 and output 0: browsers reject/,
  );
});

Deno.test("`checkLaunch()` refuses overlapping writable ranges and accepts disjoint ones", () => {
  const a = buffer();
  throws(
    () => checkLaunch(launch([], [at(a, 0, 400), at(a, 256, 16)]), LIMIT),
    /binds overlapping bytes of one storage as outputs 0 and 1/,
  );
  // Touching ranges do not overlap; one byte more does.
  doesNotThrow(() => checkLaunch(launch([], [at(a, 0, 256), at(a, 256, 256)]), LIMIT));
  throws(
    () => checkLaunch(launch([], [at(a, 256, 256), at(a, 0, 260)]), LIMIT),
    /outputs 0 and 1/,
  );
  // One storage read twice, and two storages written, are fine.
  const b = buffer();
  doesNotThrow(() => checkLaunch(launch([at(a, 0, 64), at(a, 0, 64)], [at(b, 0, 64)]), LIMIT));
});

Deno.test("`checkLaunch()` enforces workgroup, uniform and binding-size limits", () => {
  throws(
    () => checkLaunch({ ...launch([], []), workgroups: [1, 65536] }, LIMIT),
    /needs workgroups "\[1,65536,1\]": each must be at most 65535/,
  );
  throws(
    () => checkLaunch({ ...launch([], []), uniforms: new Uint8Array(257) }, LIMIT),
    /uniforms exceed 256 bytes/,
  );
  throws(
    () => checkLaunch(launch([at(buffer(), 0, LIMIT + 4)], []), LIMIT),
    /binds 1048580 bytes; this adapter allows at most 1048576 per binding/,
  );
});
