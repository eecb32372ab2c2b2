import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { assertClose, checkOp } from "../../../_check.ts";
import { CPU } from "../../../../engine/backend.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { materialize } from "../../../../engine/ops/copy.ts";
import { mul } from "../../../../engine/ops/elementwise.ts";
import { sum } from "../../../../engine/ops/reduce.ts";
import { slice } from "../../../../engine/ops/view.ts";
import { causalAttention } from "../../../../engine/ops/attention.ts";
import { headsView, mergeHeads, qkvAttention } from "../../../../engine/models/gpt/heads.ts";
import { seeded } from "./_fixtures.ts";

// [B=2, T=5, 3d=18]: d = 6 in 3 heads of 2; and [3, 7, 45]: d = 15 in 3 heads of 5.
checkOp({
  name: "`qkvAttention()` attends over the heads of a fused projection",
  inputs: [[2, 5, 18]],
  fn: ([qkv]) => qkvAttention(qkv, 3),
});
checkOp({
  name: "`mergeHeads()` of `qkvAttention()` with odd head sizes",
  inputs: [[3, 7, 45]],
  fn: ([qkv]) => mergeHeads(qkvAttention(qkv, 3)),
});
checkOp({
  name: "`qkvAttention()` of a strided projection",
  inputs: [[2, 5, 20]],
  fn: ([x]) => qkvAttention(slice(x, [0, 0, 1], [2, 5, 19]), 2),
});

Deno.test("`qkvAttention()` equals `causalAttention()` of separate q, k and v", async () => {
  const shape = [2, 4, 24];
  const values = seeded(shape, 3);
  const w = tensor(seeded([2, 2, 4, 4], 4), [2, 2, 4, 4], { backend: CPU });
  const fused = tensor(values, shape, { backend: CPU, requiresGrad: true });
  const a = qkvAttention(fused, 2);
  sum(mul(a, w)).backward();
  // Reference: copies of the three thirds as separate leaves.
  const src = tensor(values, shape, { backend: CPU });
  const part = (i: number) => {
    const t = materialize(headsView(src, i as 0 | 1 | 2, 2));
    t.requiresGrad = true;
    return t;
  };
  const [q, k, v] = [part(0), part(1), part(2)];
  const b = causalAttention(q, k, v);
  sum(mul(b, w)).backward();
  assertEquals(await a.toArray(), await b.toArray());
  const g = await fused.grad!.toArray();
  const [qg, kg, vg] = await Promise.all([q, k, v].map((t) => t.grad!.toArray()));
  // Element (b, t, part·8 + h·4 + j) of the fused gradient is (b, h, t, j) of that part's.
  for (let i = 0; i < g.length; i++) {
    const bi = Math.floor(i / 96);
    const ti = Math.floor(i / 24) % 4;
    const c = i % 24;
    const [pg, h, j] = [[qg, kg, vg][Math.floor(c / 8)], Math.floor((c % 8) / 4), c % 4];
    assertClose(
      [g[i]],
      [pg[((bi * 2 + h) * 4 + ti) * 4 + j]],
      { atol: 1e-15, rtol: 0 },
      `grad ${i}`,
    );
  }
});

Deno.test("`headsView()` picks query, key and value columns per head without copying", async () => {
  // One row: q = 0..3, k = 4..7, v = 8..11, two heads of two.
  const qkv = tensor(Array.from({ length: 12 }, (_, i) => i), [1, 1, 12], { backend: CPU });
  const k = headsView(qkv, 1, 2);
  assertEquals(k.shape, [1, 2, 1, 2]);
  assertEquals(k.storage, qkv.storage);
  assertEquals(Array.from(await k.toArray()), [4, 5, 6, 7]);
  assertEquals(Array.from(await mergeHeads(headsView(qkv, 2, 2)).toArray()), [8, 9, 10, 11]);
  assertThrows(
    () => headsView(qkv, 0, 5),
    /Cannot split "\[1,1,12\]" into query, key and value of 5/,
  );
});
