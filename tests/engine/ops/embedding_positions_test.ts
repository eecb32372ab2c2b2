import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { compareBackends } from "./_compare.ts";
import { embedding, embeddingWithPositions } from "../../../engine/ops/gather.ts";
import { add } from "../../../engine/ops/elementwise.ts";
import { slice } from "../../../engine/ops/view.ts";
import { tensor } from "../../../engine/ops/creation.ts";

// Token rows plus position rows in one gather; the wpe gradient is a batch sum into its first T
// rows, the wte gradient a scatter-add over repeated ids.
checkOp({
  name: "`embeddingWithPositions()` with repeated ids, T < positions, odd width (scalar rows)",
  inputs: [[6, 5], [9, 5], {
    shape: [3, 4],
    values: [0, 2, 2, 5, 1, 1, 1, 0, 5, 4, 3, 2],
    int: true,
  }],
  fn: ([wte, wpe, ids]) => embeddingWithPositions(wte, wpe, ids),
});
checkOp({
  name: "`embeddingWithPositions()` with vec4 rows and T equal to the positions",
  inputs: [[7, 8], [3, 8], { shape: [2, 3], values: [6, 0, 6, 3, 3, 1], int: true }],
  fn: ([wte, wpe, ids]) => embeddingWithPositions(wte, wpe, ids),
});

gpuTest("`embeddingWithPositions()` matches the reference at the training shape", async () => {
  const ids = Array.from({ length: 16 * 64 }, (_, i) => (i * 37) % 256);
  await compareBackends(
    [{ shape: [256, 128], range: [-1, 1] }, { shape: [64, 128], range: [-1, 1] }, {
      shape: [16, 64],
      ints: ids,
    }],
    ([wte, wpe, ids]) => embeddingWithPositions(wte, wpe, ids),
    { atol: 1e-6, rtol: 1e-6 },
    { atol: 1e-5, rtol: 1e-5 },
  );
});

gpuTest(
  "`embeddingWithPositions()` equals `embedding()` plus the first T position rows",
  async (g) => {
    const wte = tensor(Array.from({ length: 40 }, (_, i) => Math.sin(i)), [10, 4], { backend: g });
    const wpe = tensor(Array.from({ length: 24 }, (_, i) => Math.cos(i)), [6, 4], { backend: g });
    const ids = tensor([9, 0, 3, 3, 7, 1, 2, 8], [2, 4], { backend: g, dtype: "int32" });
    const fused = await embeddingWithPositions(wte, wpe, ids).toArray();
    const composed = await add(embedding(wte, ids), slice(wpe, [0, 0], [4, 4])).toArray();
    assertClose(fused, composed, { atol: 0, rtol: 0 }, "fused vs composed");
  },
);
