import assert from "node:assert/strict";
import { join } from "node:path";
import type { SafeTensor } from "../../../engine/io/safetensors/decode.ts";
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  writeSafetensorsSync,
} from "../../../engine/io/safetensors/file.ts";
import { assertRejectsWith, buildFileFrom, f32Bytes, listDir } from "./_helpers.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_file_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function sampleTensors(): Record<string, SafeTensor> {
  return {
    "wte.weight": {
      dtype: "F32",
      shape: [4, 3],
      data: Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1),
    },
    "h.0.ln.bias": { dtype: "F16", shape: [3], data: new Float32Array([0.5, -1, 2]) },
    "tokens": { dtype: "I32", shape: [2], data: new Int32Array([50256, -1]) },
  };
}

Deno.test("`writeSafetensors()` and `readSafetensors()` round-trip tensors and metadata", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "ckpt", "model.safetensors");
    const tensors = sampleTensors();
    await writeSafetensors(path, tensors, { step: "10", format: "pt" });
    assert.deepEqual(listDir(join(dir, "ckpt")), ["model.safetensors"]);
    const read = await readSafetensors(path);
    assert.deepEqual(read.metadata, { format: "pt", step: "10" });
    for (const [name, tensor] of Object.entries(tensors)) {
      assert.deepEqual(read.tensors.get(name), tensor, name);
    }
    // Tensors come back in file order: 4-byte dtypes by name, then F16.
    assert.deepEqual([...read.tensors.keys()], ["tokens", "wte.weight", "h.0.ln.bias"]);
  });
});

Deno.test("`readSafetensors()` reads only the selected tensors when given a filter", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    await writeSafetensors(path, sampleTensors());
    const read = await readSafetensors(path, { filter: (name) => name.startsWith("wte") });
    assert.deepEqual([...read.tensors.keys()], ["wte.weight"]);
    assert.deepEqual(read.tensors.get("wte.weight"), sampleTensors()["wte.weight"]);
  });
});

Deno.test("`readSafetensorsHeader()` validates and returns the header without the data", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    await writeSafetensors(path, sampleTensors(), { note: "x" });
    const header = await readSafetensorsHeader(path);
    assert.deepEqual(header.metadata, { note: "x" });
    assert.deepEqual(header.tensors.get("wte.weight"), {
      dtype: "F32",
      shape: [4, 3],
      dataOffsets: [8, 56],
    });
    assert.equal(header.dataStart % 8, 0);
    assert.equal(header.dataStart + 62, (await Deno.stat(path)).size);
  });
});

Deno.test("`readSafetensors()` names the file path in errors for a truncated file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "cut.safetensors");
    await writeSafetensors(path, sampleTensors());
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 4));
    await assertRejectsWith(
      () => readSafetensors(path),
      RangeError,
      `${path}: tensor "h.0.ln.bias": data_offsets [56,62] run past the 58-byte data buffer`,
    );
    await assertRejectsWith(() => readSafetensorsHeader(path), RangeError, path, "run past");
    await assertRejectsWith(
      () => readSafetensors(path, { filter: () => true }),
      RangeError,
      path,
      "run past",
    );
    await Deno.writeFile(path, bytes.subarray(0, 3));
    await assertRejectsWith(
      () => readSafetensorsHeader(path),
      RangeError,
      `${path}: file is 3 bytes`,
    );
  });
});

Deno.test("`readSafetensors()` names the file path for a corrupt header", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "bad.safetensors");
    const header = { w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } };
    await Deno.writeFile(path, buildFileFrom(header, f32Bytes(1, 2)));
    await assertRejectsWith(
      () => readSafetensors(path),
      RangeError,
      `${path}: tensor "w": data_offsets span 8 bytes but shape [3] of F32 needs 12`,
    );
  });
});

Deno.test("`writeSafetensors()` leaves the old file intact when validation fails", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    await writeSafetensors(path, sampleTensors());
    const before = await Deno.readFile(path);
    await assertRejectsWith(
      () =>
        writeSafetensors(path, {
          ok: { dtype: "F32", shape: [1], data: new Float32Array(1) },
          bad: { dtype: "F32", shape: [3], data: new Float32Array(2) },
        }),
      RangeError,
      `${path}: tensor "bad": data has 2 elements but shape [3] needs 3`,
    );
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual(listDir(dir), ["model.safetensors"]);
  });
});

Deno.test("`writeSafetensorsSync()` writes the same bytes as `writeSafetensors()`", async () => {
  await withTempDir(async (dir) => {
    await writeSafetensors(join(dir, "a.safetensors"), sampleTensors(), { k: "v" });
    writeSafetensorsSync(join(dir, "b.safetensors"), sampleTensors(), { k: "v" });
    assert.deepEqual(
      await Deno.readFile(join(dir, "a.safetensors")),
      await Deno.readFile(join(dir, "b.safetensors")),
    );
    assert.deepEqual(listDir(dir), ["a.safetensors", "b.safetensors"]);
  });
});
