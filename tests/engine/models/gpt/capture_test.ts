import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { mul, tanh } from "../../../../engine/ops/elementwise.ts";
import { sum } from "../../../../engine/ops/reduce.ts";
import { captureKeys, CaptureTap, GradSink, tap } from "../../../../engine/models/gpt/capture.ts";
import { seeded } from "./_fixtures.ts";

const shape = [2, 3, 4];
const weights = seeded(shape, 7);

Deno.test("`tap()` passes the gradient through and keeps only the selected rows", async () => {
  const x = tensor(seeded(shape, 1), shape, { backend: CPU, requiresGrad: true });
  const w = tensor(weights, shape, { backend: CPU });
  const positions = tensor([4, 0, 5], [3], { backend: CPU, dtype: "int32" });
  const sink = new GradSink(positions);
  const y = tanh(x);
  sum(mul(tap(y, sink), w)).backward();
  // Reference without the tap: d/dy of sum(y·w) is w; through tanh, w·(1 − y²).
  const yv = await y.toArray();
  const expected = Array.from(weights, (wi, i) => wi * (1 - yv[i] ** 2));
  assertClose(await x.grad!.toArray(), expected, { atol: 1e-15, rtol: 0 }, "x.grad");
  const rows = [4, 0, 5].flatMap((r) => Array.from(weights.slice(r * 4, r * 4 + 4)));
  assertEquals(sink.grad!.shape, [3, 4]);
  assertClose(await sink.grad!.toArray(), rows, { atol: 0, rtol: 0 }, "sink rows");
});

Deno.test("`tap()` starts the graph when its input needs no gradient", async () => {
  const x = tensor(seeded(shape, 2), shape, { backend: CPU });
  const positions = tensor([1, 2], [2], { backend: CPU, dtype: "int32" });
  const sink = new GradSink(positions);
  const out = tap(x, sink);
  assert(out.requiresGrad);
  sum(mul(out, tensor(weights, shape, { backend: CPU }))).backward();
  assertClose(await sink.grad!.toArray(), weights.slice(4, 12), { atol: 0, rtol: 0 }, "rows");
  // Accumulates over a second backward, like a leaf gradient.
  sum(mul(tap(x, sink), 2)).backward();
  const twice = Array.from(weights.slice(4, 12), (v) => v + 2);
  assertClose(await sink.grad!.toArray(), twice, { atol: 1e-15, rtol: 0 }, "accumulated");
  sink.dispose();
  assertEquals(sink.grad, null);
});

Deno.test("`tap()` is a plain view under `noGrad()`", () => {
  const x = tensor(seeded(shape, 3), shape, { backend: CPU, requiresGrad: true });
  const out = noGrad(() =>
    tap(x, new GradSink(tensor([0], [1], { backend: CPU, dtype: "int32" })))
  );
  assertEquals([out.requiresGrad, out.node, out.storage === x.storage], [false, null, true]);
});

Deno.test("`captureKeys()` copies the selected rows out of the graph", async () => {
  const x = tensor(seeded(shape, 4), shape, { backend: CPU, requiresGrad: true });
  const keys = captureKeys(mul(x, 1), tensor([5, 1], [2], { backend: CPU, dtype: "int32" }));
  assertEquals([keys.shape, keys.requiresGrad], [[2, 4], false]);
  const xv = await x.toArray();
  assertEquals(Array.from(await keys.toArray()), [...xv.slice(20, 24), ...xv.slice(4, 8)]);
});

Deno.test("`CaptureTap` rejects a position tensor that is not int32 of rank 1", () => {
  const f = tensor([0], [1], { backend: CPU });
  assertThrows(() => new CaptureTap(f), /must be int32 of rank 1, got float32 "\[1\]"/);
  const m = tensor([0, 1], [1, 2], { backend: CPU, dtype: "int32" });
  assertThrows(() => new CaptureTap(m), /must be int32 of rank 1/);
});
