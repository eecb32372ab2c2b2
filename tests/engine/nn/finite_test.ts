// Non-finite values are found and named, never written into a checkpoint, and refused on load
// unless asked for.
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { writeSafetensors } from "../../../engine/io/safetensors.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { loadModule, saveModule, saveOptimizer } from "../../../engine/nn/checkpoint.ts";
import {
  assertFinite,
  countNonFinite,
  describeNonFinite,
  NonFiniteError,
} from "../../../engine/nn/finite.ts";
import { Linear } from "../../../engine/nn/linear.ts";

Deno.test("`countNonFinite()` counts NaN, ±Inf and non-numbers, and finds the first", () => {
  deepStrictEqual(countNonFinite([1, 2, -3e38]), { count: 0, first: -1, value: 0 });
  deepStrictEqual(countNonFinite(new Float32Array([0, Infinity, NaN, -Infinity])), {
    count: 3,
    first: 1,
    value: Infinity,
  });
  // JSON writes NaN as null.
  deepStrictEqual(countNonFinite([1, null as unknown as number]).count, 1);
  deepStrictEqual(
    describeNonFinite(`tensor "w"`, [1, NaN, 2, NaN]),
    `tensor "w" has 2 of 4 values non-finite (NaN at index 1)`,
  );
  deepStrictEqual(describeNonFinite("x", [0]), null);
});

Deno.test("`assertFinite()` names the first three offending arrays and counts the rest", () => {
  assertFinite([["a", [1]], ["b", [2]]], "ctx");
  const bad = ["a", "b", "c", "d", "e"].map((n) => [n, [NaN]] as const);
  throws(() => assertFinite(bad, "Refusing"), (e: Error) => {
    ok(e instanceof NonFiniteError);
    deepStrictEqual(
      e.message,
      "Refusing: a has 1 of 1 values non-finite (NaN at index 0); b has 1 of 1 values " +
        "non-finite (NaN at index 0); c has 1 of 1 values non-finite (NaN at index 0), and 2 more",
    );
    return true;
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("`saveModule()` and `saveOptimizer()` refuse non-finite values and write nothing", async () => {
  const dir = await Deno.makeTempDir();
  const layer = new Linear(3, 2, { backend: CPU, seed: 1 });
  const opt = new AdamW(layer);
  layer.weight.storage.array![4] = Infinity;
  await rejects(() => saveModule(layer, `${dir}/m.safetensors`), (e: Error) => {
    ok(e instanceof NonFiniteError);
    ok(
      e.message.startsWith(`Refusing to write "${dir}/m.safetensors": tensor "weight" has 1 of 6`),
    );
    return true;
  });
  ok(!(await exists(`${dir}/m.safetensors`)));
  // The moments turn NaN through a NaN gradient.
  for (const p of layer.parameters().values()) p.grad!.storage.array!.fill(NaN);
  opt.step();
  await rejects(() => saveOptimizer(opt, `${dir}/o.safetensors`), NonFiniteError);
  ok(!(await exists(`${dir}/o.safetensors`)));
  opt.dispose();
  layer.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`loadModule()` refuses a file with NaN, leaving the module as it was, unless allowed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  const weight = Float32Array.from([1, 2, NaN, 4, 5, 6]);
  await writeSafetensors(path, {
    weight: { dtype: "F32", shape: [3, 2], data: weight },
    bias: { dtype: "F32", shape: [2], data: new Float32Array([7, 8]) },
  });
  const layer = new Linear(3, 2, { backend: CPU, seed: 1 });
  const before = Array.from(await layer.weight.toArray());
  await rejects(() => loadModule(layer, path), (e: Error) => {
    ok(e instanceof NonFiniteError);
    ok(e.message.includes(`"${path}" holds non-finite values`), e.message);
    ok(e.message.includes('tensor "weight" has 1 of 6 values non-finite (NaN at index 2)'));
    ok(e.message.includes("allowNonFinite"), e.message);
    return true;
  });
  deepStrictEqual(Array.from(await layer.weight.toArray()), before);
  const { tensors } = await loadModule(layer, path, { allowNonFinite: true });
  ok(Number.isNaN((await layer.weight.toArray())[2]));
  deepStrictEqual(Array.from(tensors.get("bias")!.data), [7, 8]);
  layer.dispose();
  await Deno.remove(dir, { recursive: true });
});
