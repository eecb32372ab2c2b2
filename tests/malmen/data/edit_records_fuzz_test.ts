// Fuzzing the edit-file parser: seeded random mutations of valid CounterFact, JSONL and zsRE
// files each end in records or a clear error naming the file, never a crash or a hang.
import { deepStrictEqual, ok } from "node:assert/strict";
import { fuzzInWorker } from "../../_fuzz.ts";

Deno.test("mutated edit files parse or fail with an error naming the file (3,000 seeded inputs)", async () => {
  const r = await fuzzInWorker({ target: "edit-records", seed: 20240613, iterations: 3000 }, 60);
  deepStrictEqual(r.failures.slice(0, 5), []);
  // Both outcomes are reached, so the mutations exercise the parser, not only its first check.
  ok(r.parsed > 100 && r.refused > 1000, `${r.parsed} parsed, ${r.refused} refused`);
});
