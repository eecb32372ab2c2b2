import { checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { compareBackends } from "./_compare.ts";
import { qkvCausalAttention } from "../../../engine/ops/attention_qkv.ts";
import { slice } from "../../../engine/ops/view.ts";

// The fused path (WebGPU) reads q, k, v through strides of [B, T, 3d], writes merged heads and
// writes the gradient into the thirds of one [B, T, 3d] tensor; the reference composes views,
// copies and causalAttention (split heads, attend, merge), so every WebGPU comparison below
// checks the fused layouts against that composition.
checkOp({
  name: "`qkvCausalAttention()` with hd 4 (vec4 rows) and T not a multiple of the lanes",
  inputs: [[2, 11, 24]],
  fn: ([qkv]) => qkvCausalAttention(qkv, 2),
});
checkOp({
  name: "`qkvCausalAttention()` with odd head size 5",
  inputs: [[3, 7, 45]],
  fn: ([qkv]) => qkvCausalAttention(qkv, 3),
});
checkOp({
  name: "`qkvCausalAttention()` of a column-sliced projection (strided, offset 1)",
  inputs: [[2, 5, 26]],
  fn: ([x]) => qkvCausalAttention(slice(x, [0, 0, 1], [2, 5, 25]), 2),
});
checkOp({
  name: "`qkvCausalAttention()` of one position",
  inputs: [[2, 1, 12]],
  fn: ([qkv]) => qkvCausalAttention(qkv, 1),
});

gpuTest(
  "`qkvCausalAttention()` matches split, attend and merge at the training shape",
  async () => {
    // [B=4, T=64, 3d=384], 4 heads of 32: the shape of the train_step benchmark, batch cut.
    await compareBackends(
      [{ shape: [4, 64, 384], range: [-2, 2] }],
      ([qkv]) => qkvCausalAttention(qkv, 4),
      { atol: 1e-5, rtol: 1e-3 },
      { atol: 1e-4, rtol: 1e-3 },
    );
  },
);
