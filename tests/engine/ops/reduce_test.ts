import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { max, mean, sum } from "../../../engine/ops/reduce.ts";
import { transpose } from "../../../engine/ops/view.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { CPU } from "../../../engine/backend.ts";

checkOp({
  name: "`sum()` over all elements of odd shapes",
  inputs: [[7, 13]],
  fn: ([a]) => sum(a),
});
checkOp({ name: "`sum()` over the last axis", inputs: [[5, 3, 11]], fn: ([a]) => sum(a, -1) });
checkOp({
  name: "`sum()` over the first axis keeping dims",
  inputs: [[5, 3, 11]],
  fn: ([a]) => sum(a, 0, { keepDims: true }),
});
checkOp({
  name: "`sum()` over two axes of a transposed view",
  inputs: [[4, 6, 5]],
  fn: ([a]) => sum(transpose(a, 0, 2), [0, 2]),
});
checkOp({ name: "`mean()` over the middle axis", inputs: [[4, 9, 3]], fn: ([a]) => mean(a, 1) });
checkOp({ name: "`max()` over the last axis", inputs: [[6, 17]], fn: ([a]) => max(a, -1) });
checkOp({ name: "`max()` over all elements", inputs: [[5, 5]], fn: ([a]) => max(a) });
checkOp({
  name: "`sum()` of few long rows uses the tree variant",
  inputs: [[3, 1500]],
  fn: ([a]) => sum(a, 1),
  noGrad: true,
  fwd: { atol: 1e-3, rtol: 1e-4 },
});

gpuTest("`sum()` is exact past llvmpipe's 65,535-iteration loop cap", async (gpu) => {
  // 70,000-long rows (one-invocation-per-row would stop early) and a 600,000-long row that needs
  // several chunks and a second pass.
  for (const [rows, len] of [[2, 70000], [1, 600000], [5000, 3]]) {
    const v = Array.from({ length: rows * len }, (_, i) => (i % 7) - 3);
    const ref = await sum(tensor(v, [rows, len], { backend: CPU }), 1).toArray();
    const got = await sum(tensor(v, [rows, len], { backend: gpu }), 1).toArray();
    assertClose(got, ref, { atol: 0, rtol: 0 }, `[${rows},${len}]`);
    const mRef = await max(tensor(v, [rows, len], { backend: CPU }), 1).toArray();
    const m = await max(tensor(v, [rows, len], { backend: gpu }), 1).toArray();
    assertClose(m, mRef, { atol: 0, rtol: 0 }, `max [${rows},${len}]`);
  }
});

checkOp({
  name: "`sum()` over leading axes reads columns in place",
  inputs: [[3, 5, 7]],
  fn: ([a]) => sum(a, [0, 1]),
});
checkOp({
  name: "`mean()` over the first axis of a matrix",
  inputs: [[9, 6]],
  fn: ([a]) => mean(a, 0),
});
checkOp({
  name: "`max()` over the first axis of a matrix",
  inputs: [[9, 6]],
  fn: ([a]) => max(a, 0),
});
