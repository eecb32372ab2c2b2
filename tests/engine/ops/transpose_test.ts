// The 4×4 tile transpose behind materialize() of transposed views, the vec4 strided copy, and
// matmul()'s TN policy (transpose A, then NN).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { materialize } from "../../../engine/ops/copy.ts";
import { matmul } from "../../../engine/ops/matmul.ts";
import { contiguous, permute, slice, transpose } from "../../../engine/ops/view.ts";

checkOp({
  name: "`contiguous()` transposes odd shapes with scalar tiles",
  inputs: [[13, 7]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes with vec4 reads and vec4 writes",
  inputs: [[12, 8]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes with vec4 writes only",
  inputs: [[12, 9]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes with vec4 reads only",
  inputs: [[9, 12]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes a batch of matrices",
  inputs: [[3, 12, 8]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes a batch of odd matrices",
  inputs: [[3, 5, 6]],
  fn: ([a]) => contiguous(transpose(a)),
});
checkOp({
  name: "`contiguous()` transposes a slice at an odd offset",
  inputs: [[11, 14]],
  fn: ([a]) => contiguous(transpose(slice(a, [1, 1], [10, 13]))),
});
checkOp({
  name: "`contiguous()` moves the batch axis inside",
  inputs: [[4, 6, 5]],
  fn: ([a]) => contiguous(permute(a, [1, 0, 2])),
});
checkOp({
  name: "`contiguous()` merges attention heads with vec4 moves",
  inputs: [[2, 3, 5, 8]],
  fn: ([a]) => contiguous(permute(a, [0, 2, 1, 3])),
});
checkOp({
  name: "`contiguous()` merges heads of odd width with scalar moves",
  inputs: [[2, 3, 5, 6]],
  fn: ([a]) => contiguous(permute(a, [0, 2, 1, 3])),
});

gpuTest("`materialize()` transposes int32 tensors exactly", async (gpu) => {
  const v = Array.from({ length: 35 }, (_, i) => i * 3 - 50);
  const want = await materialize(transpose(tensor(v, [5, 7], { backend: CPU, dtype: "int32" })))
    .toArray();
  const got = await materialize(transpose(tensor(v, [5, 7], { backend: gpu, dtype: "int32" })))
    .toArray();
  assertEquals(Array.from(got), Array.from(want));
});

gpuTest("`materialize()` of a large transposed view equals the reference exactly", async (gpu) => {
  const next = rng(3);
  const v = Array.from({ length: 257 * 130 }, () => next());
  const ref = await materialize(transpose(tensor(v, [257, 130], { backend: CPU }))).toArray();
  const got = await materialize(transpose(tensor(v, [257, 130], { backend: gpu }))).toArray();
  assertClose(got, ref, { atol: 1e-7, rtol: 0 }, "transpose");
});

// m·n·k above the policy threshold, odd sizes, 2-D, batched and with a shared left matrix.
const policyCases: { name: string; a: number[]; b: number[]; trans?: boolean; view?: boolean }[] = [
  { name: "2-D TN", a: [120, 101], b: [120, 103] },
  { name: "2-D TT", a: [120, 101], b: [103, 120], trans: true },
  { name: "batched TN", a: [3, 100, 104], b: [3, 100, 108] },
  { name: "TN of a shared left matrix", a: [100, 108], b: [2, 100, 103] },
  { name: "TN of a sliced view", a: [130, 101], b: [120, 103], view: true },
];
for (const c of policyCases) {
  gpuTest(
    `\`matmul()\` ${c.name} through the transpose policy matches the reference`,
    async (gpu) => {
      const next = rng(7);
      const av = Array.from({ length: c.a.reduce((p, x) => p * x, 1) }, () => next() - 0.5);
      const bv = Array.from({ length: c.b.reduce((p, x) => p * x, 1) }, () => next() - 0.5);
      const on = async (backend: typeof CPU | typeof gpu): Promise<ArrayLike<number>> => {
        const a = tensor(av, c.a, { backend });
        const b = tensor(bv, c.b, { backend });
        const y = c.view
          ? matmul(slice(a, [5, 0], [125, 101]), b, { transA: true })
          : matmul(a, b, { transA: true, transB: c.trans ?? false });
        return await y.toArray();
      };
      const ref = await on(CPU);
      assertClose(await on(gpu), ref, { atol: 1e-4, rtol: 1e-3 }, c.name);
    },
  );
}
