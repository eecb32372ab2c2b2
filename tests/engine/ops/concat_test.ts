import assert from "node:assert/strict";
import { checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { tensor, zeros } from "../../../engine/ops/creation.ts";
import { transpose } from "../../../engine/ops/view.ts";
import { concat, stack } from "../../../engine/ops/gather.ts";

checkOp({
  name: "`concat()` joins odd shapes along axis 0",
  inputs: [[2, 3, 5], [5, 3, 5], [1, 3, 5]],
  fn: ([a, b, c]) => concat([a, b, c], 0),
});
checkOp({
  name: "`concat()` joins odd shapes along axis 1",
  inputs: [[2, 3, 5], [2, 7, 5]],
  fn: ([a, b]) => concat([a, b], 1),
});
checkOp({
  name: "`concat()` joins along the last axis with a negative index",
  inputs: [[3, 2, 5], [3, 2, 1], [3, 2, 3]],
  fn: ([a, b, c]) => concat([a, b, c], -1),
});
checkOp({
  name: "`concat()` adds the gradients of a repeated piece and reads a transposed view",
  inputs: [[3, 4], [4, 3]],
  fn: ([a, b]) => concat([a, transpose(b), a], 1),
});
checkOp({
  name: "`concat()` of one piece copies it",
  inputs: [[3, 7]],
  fn: ([a]) => concat([a], 1),
});
checkOp({
  name: "`concat()` skips an empty piece",
  inputs: [[3, 2], { shape: [3, 0], values: [] }, [3, 5]],
  fn: ([a, b, c]) => concat([a, b, c], 1),
});
checkOp({
  name: "`stack()` adds a new leading axis",
  inputs: [[3, 5], [3, 5], [3, 5]],
  fn: ([a, b, c]) => stack([a, b, c], 0),
});
checkOp({
  name: "`stack()` adds a new middle axis",
  inputs: [[3, 5], [3, 5]],
  fn: ([a, b]) => stack([a, b], 1),
});
checkOp({
  name: "`stack()` adds a new last axis with a negative index and a transposed view",
  inputs: [[3, 5], [5, 3]],
  fn: ([a, b]) => stack([a, transpose(b), a], -1),
});

for (const backend of ["cpu", "webgpu"] as const) {
  const register = backend === "cpu"
    ? (name: string, fn: (b: typeof CPU) => Promise<void>) => Deno.test(name, () => fn(CPU))
    : gpuTest;
  register(`\`concat()\` and \`stack()\` copy int32 tensors exactly on ${backend}`, async (b) => {
    const a = tensor([[1, 2], [3, 4]], undefined, { dtype: "int32", backend: b });
    const c = tensor([[-5], [2147483647]], undefined, { dtype: "int32", backend: b });
    const joined = concat([a, c], 1);
    assert.equal(joined.dtype, "int32");
    assert.deepEqual(joined.shape, [2, 3]);
    assert.deepEqual([...await joined.toArray()], [1, 2, -5, 3, 4, 2147483647]);
    const stacked = stack([a, a], 2);
    assert.deepEqual(stacked.shape, [2, 2, 2]);
    assert.deepEqual([...await stacked.toArray()], [1, 1, 2, 2, 3, 3, 4, 4]);
    for (const t of [a, c, joined, stacked]) t.dispose();
  });
}

Deno.test("`concat()` and `stack()` name the offending tensor and shapes in errors", () => {
  const a = zeros([2, 3], { backend: CPU });
  const b = zeros([2, 4], { backend: CPU });
  const r3 = zeros([2, 3, 1], { backend: CPU });
  const i = zeros([2, 3], { dtype: "int32", backend: CPU });
  assert.throws(() => concat([]), /concat\(\) needs at least one tensor/);
  assert.throws(() => stack([]), /stack\(\) needs at least one tensor/);
  assert.throws(
    () => concat([a, b], 0),
    /Cannot concat tensor 1 of shape "\[2,4\]" with tensor 0 of shape "\[2,3\]" along axis 0: dimension 1 differs/,
  );
  assert.throws(
    () => concat([a, a, r3], 1),
    /concat\(\) got tensor 2 of rank 3 \("\[2,3,1\]"\) but tensor 0 of rank 2 \("\[2,3\]"\)/,
  );
  assert.throws(
    () => concat([a, i], 0),
    /concat\(\) got tensor 1 of dtype int32 but tensor 0 of dtype float32/,
  );
  assert.throws(
    () => concat([a, b], 2),
    /concat\(\) axis 2 is out of range for a result of rank 2/,
  );
  assert.throws(() => concat([a, b], -3), /concat\(\) axis -3 is out of range/);
  assert.throws(
    () => stack([a, b]),
    /Cannot stack tensor 1 of shape "\[2,4\]" with tensor 0 of shape "\[2,3\]": dimension 1 differs/,
  );
  assert.throws(() => stack([a, a], 3), /stack\(\) axis 3 is out of range for a result of rank 3/);
  assert.doesNotThrow(() => stack([a, a], 2).dispose());
});

gpuTest("`concat()` names the backends of tensors on different ones", (gpu) => {
  const a = zeros([2, 3], { backend: CPU });
  const b = zeros([2, 3], { backend: gpu });
  assert.throws(() => concat([a, b]), /concat\(\) got tensor 1 on webgpu but tensor 0 on cpu/);
  b.dispose();
});
