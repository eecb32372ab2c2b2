import { assertClose, checkOp } from "../../_check.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { gpuTest } from "../../_gpu.ts";
import { compareBackends } from "./_compare.ts";
import { gelu } from "../../../engine/ops/elementwise.ts";
import { linear, linearGelu } from "../../../engine/ops/linear.ts";
import { setMatmulTiling } from "../../../engine/ops/matmul.ts";
import { slice } from "../../../engine/ops/view.ts";

// The bias and GELU run in the matmul epilogue (vec4 stores when N % 4 == 0, scalar otherwise),
// the pre-activation is kept for the backward; the reference is the float64 composition.
checkOp({
  name: "`linearGelu()` of odd shapes (scalar epilogue)",
  inputs: [[5, 7], [7, 9], [9]],
  fn: ([x, w, b]) => linearGelu(x, w, b),
});
checkOp({
  name: "`linearGelu()` of a rank-3 input with vec4 stores",
  inputs: [[2, 3, 12], [12, 8], [8]],
  fn: ([x, w, b]) => linearGelu(x, w, b),
});
checkOp({
  name: "`linearGelu()` of a sliced input and an unaligned bias view",
  inputs: [[6, 10], [8, 4], [5]],
  fn: ([x, w, b]) => linearGelu(slice(x, [1, 2], [5, 10]), w, slice(b, [1])),
});
gpuTest("`linearGelu()` equals `gelu(linear())` on WebGPU", async (g) => {
  const x = tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [4, 6], { backend: g });
  const w = tensor(Array.from({ length: 30 }, (_, i) => Math.cos(i)), [6, 5], { backend: g });
  const b = tensor([0.1, -0.2, 0.3, 0, 1], [5], { backend: g });
  const fused = await linearGelu(x, w, b).toArray();
  const composed = await gelu(linear(x, w, b)).toArray();
  assertClose(fused, composed, { atol: 1e-6, rtol: 1e-6 }, "fused vs composed");
});

gpuTest("`linearGelu()` saturates like `gelu()` for large pre-activations", async () => {
  // Inputs up to ±40 drive the tanh argument far past the clamp in both kernels.
  await compareBackends(
    [{ shape: [16, 32], range: [-40, 40] }, { shape: [32, 12], range: [-1, 1] }, {
      shape: [12],
      range: [-5, 5],
    }],
    ([x, w, b]) => linearGelu(x, w, b),
    { atol: 1e-3, rtol: 1e-4 },
    { atol: 1e-2, rtol: 1e-3 },
  );
});

gpuTest("`linearGelu()` with GPU-style tiling matches the reference", async () => {
  setMatmulTiling("hardware");
  try {
    await compareBackends(
      [{ shape: [70, 33], range: [-2, 2] }, { shape: [33, 44], range: [-1, 1] }, {
        shape: [44],
        range: [-1, 1],
      }],
      ([x, w, b]) => linearGelu(x, w, b),
      { atol: 1e-5, rtol: 1e-3 },
      { atol: 1e-4, rtol: 1e-3 },
    );
  } finally {
    setMatmulTiling("auto");
  }
});
