// A WebGPU error the device reports asynchronously becomes an exception at the next sync point
// (sync() or a readback) instead of a printed line while the computation goes on.
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { sync } from "../../engine/backend.ts";
import { GpuDeviceError } from "../../engine/device_error.ts";
import { tensor } from "../../engine/ops/creation.ts";
import { gpuTest } from "../_gpu.ts";

// MAP_READ may only be combined with COPY_DST: a validation error, reported asynchronously.
function invalidBuffer(device: GPUDevice): void {
  device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
}

gpuTest("a device validation error is thrown at the next `sync()`, once", async (gpu) => {
  await sync(gpu);
  invalidBuffer(gpu.dispatcher.device);
  await rejects(() => sync(gpu), (e: Error) => {
    ok(e instanceof GpuDeviceError, String(e));
    ok(e.message.startsWith("WebGPU error in work submitted before this sync: "), e.message);
    ok(e.message.includes("ENGINE_DEBUG=1"), e.message);
    return true;
  });
  // Reported once: the device itself is still usable.
  await sync(gpu);
  const t = tensor([1, 2, 3], undefined, { backend: gpu });
  deepStrictEqual(Array.from(await t.toArray()), [1, 2, 3]);
  t.dispose();
});

gpuTest("a device validation error rejects the next readback", async (gpu) => {
  await sync(gpu);
  const t = tensor([4, 5], undefined, { backend: gpu });
  invalidBuffer(gpu.dispatcher.device);
  await rejects(() => t.toArray(), GpuDeviceError);
  deepStrictEqual(Array.from(await t.toArray()), [4, 5]);
  t.dispose();
});
