// Fuzzing the safetensors header parser and decoder: seeded random mutations of valid files each
// end in tensors or a clear error naming the file, never a crash or a hang.
import { deepStrictEqual, ok } from "node:assert/strict";
import { fuzzInWorker } from "../../_fuzz.ts";

Deno.test("mutated safetensors files decode or fail with an error naming the file (3,000 seeded inputs)", async () => {
  const r = await fuzzInWorker({ target: "safetensors", seed: 20240614, iterations: 3000 }, 60);
  deepStrictEqual(r.failures.slice(0, 5), []);
  ok(r.parsed > 50 && r.refused > 1000, `${r.parsed} parsed, ${r.refused} refused`);
});
