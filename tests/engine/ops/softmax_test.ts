import assert from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpu, gpuTest } from "../../_gpu.ts";
import { compareBackends, hardwareStyle } from "./_compare.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { tensor, zeros } from "../../../engine/ops/creation.ts";
import { logSoftmax, softmax } from "../../../engine/ops/softmax.ts";
import { reshape, slice, transpose } from "../../../engine/ops/view.ts";
import { rowIterations, rowPlan, SOFTWARE_LOOP_BUDGET } from "../../../kernels/rows.ts";

for (const [label, fn] of [["softmax", softmax], ["logSoftmax", logSoftmax]] as const) {
  checkOp({ name: `\`${label}()\` of odd rows [7, 13]`, inputs: [[7, 13]], fn: ([x]) => fn(x) });
  checkOp({
    name: `\`${label}()\` of a rank-3 tensor [3, 5, 17]`,
    inputs: [[3, 5, 17]],
    fn: ([x]) => fn(x),
  });
  checkOp({ name: `\`${label}()\` of rows of length 1`, inputs: [[6, 1]], fn: ([x]) => fn(x) });
  checkOp({
    name: `\`${label}()\` of a single row of length 3`,
    inputs: [[3]],
    fn: ([x]) => fn(x),
  });
  checkOp({
    name: `\`${label}()\` of a transposed view`,
    inputs: [[9, 6]],
    fn: ([x]) => fn(transpose(x)),
  });
  checkOp({
    name: `\`${label}()\` of a sliced view`,
    inputs: [[5, 11]],
    fn: ([x]) => fn(slice(x, [1, 2], [4, 9])),
  });
  // Long rows take the workgroup-per-row kernel, many short rows one invocation per row.
  // Offset 4 keeps vec4 access (the kernel divides offsets by 4); offset 3 forces scalar access.
  for (const start of [3, 4]) {
    checkOp({
      name: `\`${label}()\` of a contiguous view at offset ${start}`,
      inputs: [[start + 32]],
      fn: ([x]) => fn(reshape(slice(x, [start]), [4, 8])),
    });
  }
  checkOp({
    name: `\`${label}()\` of few long rows [2, 400]`,
    inputs: [[2, 400]],
    range: [-6, 6],
    fn: ([x]) => fn(x),
    // The weighted sum over 800 log-probabilities is large: a wider step beats cancellation.
    eps: 1e-4,
  });
  checkOp({
    name: `\`${label}()\` of many short rows [300, 5]`,
    inputs: [[300, 5]],
    fn: ([x]) => fn(x),
    eps: 1e-4,
  });
  checkOp({
    name: `\`${label}()\` of logits of ±80 stays finite`,
    inputs: [{ shape: [2, 4], values: [80, -80, 0, 79.5, -80, -79, -80, 80] }],
    fn: ([x]) => fn(x),
  });
}

gpuTest("`softmax()` matches the reference for GPT-2-sized rows (50257)", async () => {
  await compareBackends([{ shape: [2, 50257], range: [-8, 8] }], ([x]) => softmax(x), {
    atol: 1e-9,
    rtol: 1e-4,
  }, {
    atol: 1e-9,
    rtol: 1e-3,
  });
});

gpuTest("`logSoftmax()` matches the reference for GPT-2-sized rows (50257)", async () => {
  await compareBackends([{ shape: [2, 50257], range: [-8, 8] }], ([x]) => logSoftmax(x), {
    atol: 1e-4,
    rtol: 1e-5,
  }, {
    atol: 1e-3,
    rtol: 1e-3,
  });
});

gpuTest("`softmax()` matches the reference for many mid-length rows [600, 100]", async () => {
  await compareBackends([{ shape: [600, 100], range: [-4, 4] }], ([x]) => softmax(x), {
    atol: 1e-7,
    rtol: 1e-4,
  }, {
    atol: 1e-6,
    rtol: 1e-3,
  });
});

for (const backend of [CPU, gpu] as (Backend | null)[]) {
  if (backend === null) continue;
  Deno.test({
    name: `\`softmax()\` and \`logSoftmax()\` give known values on ${backend.kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      // Row [0, ln 2, ln 5] has softmax [1/8, 2/8, 5/8]; a shifted copy must give the same.
      const x = tensor([0, Math.log(2), Math.log(5), 100, 100 + Math.log(2), 100 + Math.log(5)], [
        2,
        3,
      ], { backend });
      const p = softmax(x);
      const lp = logSoftmax(x);
      const expect = [1 / 8, 2 / 8, 5 / 8, 1 / 8, 2 / 8, 5 / 8];
      assertClose(await p.toArray(), expect, { atol: 1e-6, rtol: 1e-5 }, "softmax");
      assertClose(
        await lp.toArray(),
        expect.map(Math.log),
        { atol: 1e-5, rtol: 1e-5 },
        "logSoftmax",
      );
      for (const t of [x, p, lp]) t.dispose();
    },
  });

  Deno.test({
    name: `\`softmax()\` of an empty batch returns an empty tensor on ${backend.kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const x = zeros([0, 4], { backend });
      const p = softmax(x);
      assert.deepEqual(p.shape, [0, 4]);
      assert.equal((await p.toArray()).length, 0);
      x.dispose();
      p.dispose();
    },
  });
}

Deno.test("`softmax()` and `logSoftmax()` reject a scalar and an int tensor", () => {
  const s = tensor(1, [], { backend: CPU });
  const i = tensor([1, 2], [2], { backend: CPU, dtype: "int32" });
  for (const fn of [softmax, logSoftmax]) {
    assert.throws(() => fn(s), {
      name: "RangeError",
      message: /needs at least one dimension, got a scalar/,
    });
    assert.throws(() => fn(i), {
      name: "TypeError",
      message: /needs a float tensor, got int32 of shape "\[2\]"/,
    });
  }
  s.dispose();
  i.dispose();
});

gpuTest(
  "`softmax()` of a row too long for one llvmpipe invocation (100003) sums to 1",
  async () => {
    await compareBackends([{ shape: [1, 100003], range: [-3, 3] }], ([x]) => softmax(x), {
      atol: 1e-10,
      rtol: 1e-4,
    }, {
      atol: 1e-10,
      rtol: 1e-2,
    });
  },
);

// Hardware-adapter plans (a workgroup per long row, vec4 or scalar), run on the test device.
for (const [label, fn] of [["softmax", softmax], ["logSoftmax", logSoftmax]] as const) {
  for (const shape of [[7, 13], [3, 300], [2, 301], [2, 3000], [200, 100]]) {
    gpuTest(`\`${label}()\` with hardware plans matches the reference for [${shape}]`, async () => {
      await compareBackends(
        [{ shape, range: [-4, 4] }],
        ([x]) => fn(x),
        { atol: 1e-6, rtol: 1e-4 },
        { atol: 1e-6, rtol: 1e-3 },
        hardwareStyle(),
      );
    });
  }
}

Deno.test("`rowPlan()` keeps llvmpipe invocations under the loop cap and splits long rows on hardware", () => {
  const software = (rows: number, len: number, vec4 = false) =>
    rowPlan(rows, len, { software: true, vec4, passes: 3 });
  assert.equal(software(1024, 1000).tree, false);
  assert.equal(software(64, 50257).tree, false);
  assert.equal(software(1, 100003).tree, true);
  assert.equal(software(1, 100000, true).vec, true);
  assert.equal(software(1, 100000, true).tree, false);
  assert.equal(software(1, 100002, true).vec, false);
  for (const len of [1, 1000, 50257, 100003, 1e6, 1e7]) {
    assert.ok(rowIterations(software(8, len), len, 3) <= SOFTWARE_LOOP_BUDGET, `len ${len}`);
  }
  assert.throws(() => software(1, 1e8), { name: "RangeError", message: /exceed the loop limit/ });
  const hardware = (rows: number, len: number) =>
    rowPlan(rows, len, { software: false, vec4: false, passes: 3 });
  assert.deepEqual(hardware(1024, 1000), { tree: true, wg: 64, vec: false });
  assert.deepEqual(hardware(64, 50257), { tree: true, wg: 256, vec: false });
  assert.equal(hardware(8192, 16).tree, false);
});
