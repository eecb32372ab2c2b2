import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { mul } from "../../../engine/ops/elementwise.ts";
import { linear } from "../../../engine/ops/linear.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { slice, transpose } from "../../../engine/ops/view.ts";
import { tidy } from "../../../engine/scope.ts";

checkOp({
  name: "`linear()` adds the bias in the product of odd shapes",
  inputs: [[3, 5, 7], [7, 9], [9]],
  fn: ([x, w, b]) => linear(x, w, b),
});
checkOp({
  name: "`linear()` adds the bias as vec4 when sizes are multiples of 4",
  inputs: [[2, 4, 8], [8, 12], [12]],
  fn: ([x, w, b]) => linear(x, w, b),
});
checkOp({
  name: "`linear()` reads sliced inputs, a transposed weight and an unaligned bias view",
  inputs: [[7, 9], [11, 6], [13]],
  fn: ([x, w, b]) =>
    linear(slice(x, [1, 2], [6, 8]), transpose(slice(w, [2, 0], [11, 6])), slice(b, [3], [12])),
});
checkOp({
  name: "`linear()` applies to a vector",
  inputs: [[7], [7, 5], [5]],
  fn: ([x, w, b]) => linear(x, w, b),
});
checkOp({
  name: "`linear()` without a bias is a matmul",
  inputs: [[4, 7], [7, 5]],
  fn: ([x, w]) => linear(x, w, null),
});

// GPU vs float64 forward and gradients at sizes where the weight gradient (xᵀ·g) goes through
// the transpose + NN policy of matmul().
gpuTest("`linear()` gradients match the reference when the weight gradient is large", async (g) => {
  const [rows, inF, outF] = [131, 120, 103];
  const next = rng(5);
  const vals = (n: number): number[] => Array.from({ length: n }, () => next() * 2 - 1);
  const xv = vals(rows * inF);
  const wv = vals(inF * outF);
  const bv = vals(outF);
  const gv = vals(rows * outF);
  const runOn = async (backend: Backend): Promise<Float32Array[] | Float64Array[]> => {
    const x = tensor(xv, [rows, inF], { backend, requiresGrad: true });
    const w = tensor(wv, [inF, outF], { backend, requiresGrad: true });
    const b = tensor(bv, [outF], { backend, requiresGrad: true });
    const y = tidy(() => {
      const y = linear(x, w, b);
      sum(mul(y, tensor(gv, [rows, outF], { backend }))).backward();
      return y;
    });
    const r = [await y.toArray(), await x.grad!.toArray(), await w.grad!.toArray()];
    r.push(await b.grad!.toArray());
    for (const t of [x, w, b]) {
      t.grad!.dispose();
      t.dispose();
    }
    y.dispose();
    return r as Float32Array[];
  };
  const ref = await runOn(CPU);
  const got = await runOn(g);
  const names = ["forward", "x gradient", "weight gradient", "bias gradient"];
  ref.forEach((r, i) =>
    assertClose(got[i], r, { atol: 1e-4 * Math.sqrt(rows), rtol: 1e-3 }, names[i])
  );
});

Deno.test("`linear()` names the shapes when the weight does not fit", () => {
  const x = tensor(new Array(6).fill(1), [2, 3], { backend: CPU });
  const w = tensor(new Array(8).fill(1), [4, 2], { backend: CPU });
  const b = tensor([0, 0], [2], { backend: CPU });
  throws(() => linear(x, w, b), {
    name: "RangeError",
    message: 'Cannot apply linear to "[2,3]" with weight "[4,2]" and bias "[2]"',
  });
  const w2 = tensor(new Array(6).fill(1), [3, 2], { backend: CPU });
  const b3 = tensor([0, 0, 0], [3], { backend: CPU });
  throws(() => linear(x, w2, b3), { name: "RangeError" });
  assertEquals(linear(x, w2, b).shape, [2, 2]);
});
