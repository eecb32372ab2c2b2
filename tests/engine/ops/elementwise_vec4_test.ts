// The vec4 variants of the flat elementwise kernels and of gradient accumulation (contiguous
// operands whose size and offsets are multiples of 4), next to their scalar fallbacks.
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { add, addInto, gelu, mul, where } from "../../../engine/ops/elementwise.ts";
import { slice, transpose } from "../../../engine/ops/view.ts";

checkOp({ name: "`gelu()` of a vec4-sized tensor", inputs: [[6, 8]], fn: ([a]) => gelu(a) });
checkOp({
  name: "`add()` of vec4-sized tensors",
  inputs: [[4, 12], [4, 12]],
  fn: ([a, b]) => add(a, b),
});
checkOp({
  name: "`where()` of vec4-sized tensors",
  inputs: [
    { shape: [8], values: [1, 0, 0, 1, 1, 1, 0, 0], grad: false },
    [8],
    [8],
  ],
  fn: ([m, a, b]) => where(m, a, b),
});
checkOp({
  name: "`mul()` of row slices at offsets that are multiples of 4",
  inputs: [[4, 8], [5, 8]],
  fn: ([a, b]) => mul(slice(a, [1, 0], [3, 8]), slice(b, [3, 0], [5, 8])),
});
checkOp({
  name: "`mul()` of a slice at an offset that is not a multiple of 4",
  inputs: [[11], [8]],
  fn: ([a, b]) => mul(slice(a, [1], [9]), b),
});

async function accumulated(backend: Backend, transposed: boolean): Promise<ArrayLike<number>> {
  const v = Array.from({ length: 40 }, (_, i) => Math.sin(i));
  const dst = tensor(new Array(32).fill(0.5), [4, 8], { backend });
  const src = tensor(v, [5, 8], { backend });
  addInto(dst, slice(src, [1, 0], [5, 8]));
  const t = tensor(v.slice(0, 32), [8, 4], { backend });
  addInto(dst, transposed ? transpose(t) : slice(src, [0, 0], [4, 8]));
  return await dst.toArray();
}

gpuTest("`addInto()` accumulates contiguous vec4 sources and strided ones", async (gpu) => {
  for (const transposed of [false, true]) {
    const ref = await accumulated(CPU, transposed);
    assertClose(await accumulated(gpu, transposed), ref, { atol: 1e-6, rtol: 1e-6 }, "accumulate");
  }
});
