// The streamed path's pieces: edited layers addressed by index with clear errors, the capture of
// one mini-batch, and the re-chunking of rows across mini-batch boundaries.
import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { CPU } from "../../../engine/backend.ts";
import { tensor, zeros } from "../../../engine/ops/creation.ts";
import { liveTensorCount } from "../../../engine/tensor.ts";
import { noGrad } from "../../../engine/autograd.ts";
import {
  cacheEdits,
  captureBatch,
  captureStream,
  disposeCache,
  disposeRows,
} from "../../../malmen/algorithm/capture.ts";
import { clearShifts, getShift, setShift } from "../../../malmen/algorithm/shifts.ts";
import { RowChunker, rowChunks } from "../../../malmen/algorithm/stream.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

Deno.test("`setShift()` addresses blocks by index; `clearShifts()` restores every layer", async () => {
  const lm = frozenLm(V);
  const x = tensor([[1, 2, 3]], undefined, { backend: CPU, dtype: "int32" });
  const run = () => noGrad(() => lm.forward(x).toArray());
  const base = await run();
  const shift = tensor(Array.from({ length: 32 * 8 }, (_, i) => (i % 7) / 50), [32, 8], {
    backend: CPU,
  });
  setShift(lm, 0, shift);
  setShift(lm, 1, shift);
  deepStrictEqual([getShift(lm, 0), getShift(lm, 1)], [shift, shift]);
  ok((await run()).some((v, i) => v !== base[i]), "the shift must change the logits");
  clearShifts(lm);
  deepStrictEqual([getShift(lm, 0), getShift(lm, 1)], [null, null]);
  deepStrictEqual(await run(), base);
  throws(() => setShift(lm, 2, null), /Layer 2 does not exist: the model has 2/);
  throws(
    () => setShift(lm, 0, zeros([8, 32], { backend: CPU })),
    /Layer 0: Shift must be float "\[32,8\]", got float32 "\[8,32\]"/,
  );
  lm.dispose();
});

Deno.test("`captureBatch()` rejects bad layer lists before running the model", () => {
  const lm = frozenLm(V);
  const pairs = randomRequests(2, V, 1).map((r) => r.edit);
  throws(() => captureBatch(lm, pairs, [2]), /Cannot capture layer 2: the model has 2 layers/);
  throws(() => captureBatch(lm, pairs, [1, 1]), /Layer 1 is listed twice/);
  lm.dispose();
});

Deno.test("`captureStream()` yields the cache's rows and frees each batch as it moves on", async () => {
  const lm = frozenLm(V);
  const pairs = randomRequests(7, V, 2).map((r) => r.edit);
  const cache = cacheEdits(lm, pairs, [1, 0], 3);
  deepStrictEqual(cache.batches.length, 3);
  const live = liveTensorCount();
  let i = 0;
  for (const rows of captureStream(lm, pairs, [1, 0], 3)) {
    for (let l = 0; l < 2; l++) {
      const want = cache.batches[i][l];
      assertClose(await rows[l].keys.toArray(), await want.keys.toArray(), { atol: 0, rtol: 0 });
      assertClose(await rows[l].valueGrads.toArray(), await want.valueGrads.toArray(), {
        atol: 0,
        rtol: 0,
      });
    }
    i++;
  }
  deepStrictEqual([i, liveTensorCount()], [3, live]);
  disposeCache(cache);
  lm.dispose();
});

Deno.test("`RowChunker` cuts parts into fixed chunks across their boundaries, with offsets", async () => {
  const part = (from: number, n: number) => ({
    keys: tensor(Array.from({ length: n * 2 }, (_, i) => from * 2 + i), [n, 2], { backend: CPU }),
    valueGrads: tensor(Array.from({ length: n }, (_, i) => -(from + i)), [n, 1], {
      backend: CPU,
    }),
  });
  const parts = [part(0, 2), part(2, 5), part(7, 1), part(8, 3)];
  const live = liveTensorCount();
  const seen: [number, number[], number[]][] = [];
  for (const c of rowChunks(parts, 3)) {
    seen.push([
      c.start,
      Array.from(await c.keys.toArray()),
      Array.from(await c.valueGrads.toArray()),
    ]);
  }
  deepStrictEqual(seen.map((s) => s[0]), [0, 3, 6, 9]);
  deepStrictEqual(seen.flatMap((s) => s[1]), Array.from({ length: 22 }, (_, i) => i));
  deepStrictEqual(seen.flatMap((s) => s[2]), Array.from({ length: 11 }, (_, i) => -i));
  deepStrictEqual(seen.map((s) => s[2].length), [3, 3, 3, 2]);
  // Every chunk and view was released; the borrowed parts are the caller's.
  deepStrictEqual(liveTensorCount(), live);
  for (const p of parts) disposeRows([p]);
  throws(() => new RowChunker(0), /positive integer/);
});
