// An LM's identity is a hash of its config, tokenizer and weights: the same for a trained model
// and its loaded run, different when any part differs; data hashes ignore key order.
import { deepStrictEqual, notStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import {
  canonicalJson,
  checkMadeFor,
  dataHash,
  identify,
  identityOf,
  lmIdentity,
  ProvenanceError,
  setIdentity,
  sha256,
  shortHash,
} from "../../../malmen/lm/identity.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { frozenLm, tinyLmConfig, tinyWorld } from "../_lm.ts";

const { corpus, tokenizer } = await tinyWorld();
const config = tinyLmConfig(tokenizer);
const weights = () => [["a", { shape: [2], data: new Float32Array([1, 2]) }]] as const;

Deno.test("`sha256()` and `dataHash()` hash bytes and canonical JSON", async () => {
  // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
  strictEqual(
    await sha256("abc"),
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  strictEqual(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  strictEqual(await dataHash({ x: 1, y: [2] }), await dataHash({ y: [2], x: 1 }));
  notStrictEqual(await dataHash({ x: 1 }), await dataHash({ x: 2 }));
  strictEqual(shortHash("sha256:0123456789abcdef0123"), "0123456789ab");
});

Deno.test("`lmIdentity()` changes with any weight, the config or the tokenizer, not with tensor order", async () => {
  const base = await lmIdentity(config, tokenizer, weights());
  ok(/^sha256:[0-9a-f]{64}$/.test(base), base);
  const two = [...weights(), ["b", { shape: [1], data: [3] }]] as const;
  strictEqual(
    await lmIdentity(config, tokenizer, two),
    await lmIdentity(config, tokenizer, [...two].reverse()),
  );
  notStrictEqual(
    await lmIdentity(config, tokenizer, [["a", { shape: [2], data: new Float32Array([1, 2.5]) }]]),
    base,
  );
  notStrictEqual(
    await lmIdentity(config, tokenizer, [["a", { shape: [1, 2], data: [1, 2] }]]),
    base,
  );
  notStrictEqual(await lmIdentity(gptConfig(config, { nCtx: 23 }), tokenizer, weights()), base);
  const other = { ...tokenizer, toJSON: () => ({ ...tokenizer.toJSON(), extra: 1 }) };
  notStrictEqual(await lmIdentity(config, other as typeof tokenizer, weights()), base);
  // float64 values hash as their float32 rounding, as they are stored.
  strictEqual(
    await lmIdentity(config, tokenizer, [["a", { shape: [2], data: [1 + 1e-12, 2] }]]),
    base,
  );
});

Deno.test("a trained LM's identity is its loaded run's, and is forgotten on request", async () => {
  const dir = await Deno.makeTempDir();
  const r = await trainLm(corpus, tokenizer, {
    config,
    backend: CPU,
    outDir: dir,
    batchSize: 16,
    warmup: 2,
    maxEpochs: 1,
  });
  strictEqual(identityOf(r.model), r.identity);
  const loaded = await loadLmRun(dir, CPU);
  strictEqual(loaded.identity, r.identity);
  strictEqual(identityOf(loaded.model), r.identity);
  strictEqual(await identify(loaded.model, tokenizer), r.identity);
  setIdentity(loaded.model, null);
  strictEqual(identityOf(loaded.model), null);
  r.model.dispose();
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`checkMadeFor()` names both LMs; force and unknown identities pass", () => {
  const lm = frozenLm(11);
  const a = `sha256:${"a".repeat(64)}`;
  const b = `sha256:${"b".repeat(64)}`;
  deepStrictEqual(checkMadeFor("The editor", a, lm), false, "unknown model identity");
  setIdentity(lm, b);
  deepStrictEqual(checkMadeFor("The editor", null, lm), false, "unknown recorded identity");
  deepStrictEqual(checkMadeFor("The editor", b, lm), false);
  throws(() => checkMadeFor(`The editor in "runs/malmen"`, a, lm), (e: Error) => {
    ok(e instanceof ProvenanceError);
    strictEqual(
      e.message,
      `The editor in "runs/malmen" was made for the LM aaaaaaaaaaaa, but the LM in use is ` +
        `bbbbbbbbbbbb: use it with the LM it was made for, or pass --force (force: true) to use ` +
        `it anyway`,
    );
    return true;
  });
  strictEqual(checkMadeFor("The editor", a, lm, { force: true }), true);
  lm.dispose();
});
