// `--lm DIR|hf:DIR`: the flag's parsing, and a model written as an HF GPT-2 directory by
// `saveHfLm()` read back by `loadLm()` with the same tokenizer, the same logits, bit for bit, and
// the identity of the weights it holds.
import assert from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { loadGpt2Tokenizer } from "../../../engine/models/tokenizer/gpt2.ts";
import type { Tokenizer } from "../../../engine/models/tokenizer/tokenizer.ts";
import { identify, identityOf } from "../../../malmen/lm/identity.ts";
import { lmSourceLabel, loadLm, parseLmSource, saveHfLm } from "../../../malmen/lm/source.ts";
import { tinyWorld } from "../_lm.ts";

Deno.test("`parseLmSource()` tells a run directory from hf:DIR", () => {
  assert.deepEqual(parseLmSource("runs/demo/lm"), { kind: "run", dir: "runs/demo/lm" });
  assert.deepEqual(parseLmSource("hf:ckpt/gpt2"), { kind: "hf", dir: "ckpt/gpt2" });
  assert.equal(lmSourceLabel(parseLmSource("hf:ckpt/gpt2")), "hf:ckpt/gpt2");
  assert.throws(() => parseLmSource("hf:"), /--lm "hf:" names no directory after "hf:"/);
  assert.throws(() => parseLmSource(""), /--lm needs a run directory or hf:DIR/);
});

async function roundTrip(tokenizer: Tokenizer, tie: boolean, files: string[]): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const config = gptConfig({
      vocabSize: tokenizer.vocabSize,
      nCtx: 16,
      dModel: 8,
      nLayer: 2,
      nHead: 2,
      layerNormEps: 1e-5,
      tieWordEmbeddings: tie,
    });
    const model = new GPT(config, { backend: CPU, seed: 9 });
    await saveHfLm(`${dir}/m`, model, tokenizer, { edited_by: "test" });
    const names = [...Deno.readDirSync(`${dir}/m`)].map((e) => e.name).sort();
    assert.deepEqual(names, files);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/m/config.json`));
    assert.equal(json.tie_word_embeddings, tie);
    assert.equal(json.extra.edited_by, "test");
    const loaded = await loadLm({ kind: "hf", dir: `${dir}/m/` }, CPU);
    assert.deepEqual(loaded.tokenizer.toJSON(), tokenizer.toJSON());
    const text = "Paris is the capital of";
    assert.deepEqual(loaded.tokenizer.encode(text), tokenizer.encode(text));
    assert.deepEqual(loaded.model.config, model.config);
    const ids = tensor(tokenizer.encode(text), [1, tokenizer.encode(text).length], {
      backend: CPU,
      dtype: "int32",
    });
    // The CPU computes in float64 and the file holds float32: compare with the rounded model.
    const rounded = new GPT(config, { backend: CPU, initialize: false });
    const state = new Map(
      await Promise.all(
        [...model.parameters()].map(async ([n, p]) =>
          [n, { shape: p.shape, data: Float32Array.from(await p.toArray()) }] as const
        ),
      ),
    );
    rounded.loadStateDict(state);
    const want = await noGrad(() => rounded.logits(ids)).toArray();
    const got = await noGrad(() => loaded.model.logits(ids)).toArray();
    assert.deepEqual(Array.from(got), Array.from(want));
    // Its identity is the one of the weights it holds (float32), as a run's would be.
    assert.match(loaded.identity, /^sha256:[0-9a-f]{64}$/);
    assert.equal(identityOf(loaded.model), loaded.identity);
    assert.equal(loaded.identity, await identify(rounded, tokenizer));
    assert.equal(loaded.identity, await identify(model, tokenizer));
    assert.equal([...loaded.model.parameters().values()].every((p) => !p.requiresGrad), true);
    for (const m of [model, rounded, loaded.model]) m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("`saveHfLm()` and `loadLm()` round-trip a model with a compact tokenizer", async () => {
  const { tokenizer } = await tinyWorld();
  // A compact tokenizer has no HF form: it lives in config.json's extra.
  await roundTrip(tokenizer, true, ["config.json", "model.safetensors"]);
  await roundTrip(tokenizer, false, ["config.json", "model.safetensors"]);
});

Deno.test("`saveHfLm()` writes GPT-2's tokenizer as vocab.json and merges.txt", async () => {
  await roundTrip(await loadGpt2Tokenizer(), true, [
    "config.json",
    "merges.txt",
    "model.safetensors",
    "vocab.json",
  ]);
});
