import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  configFromHf,
  configToHf,
  GPT_PRESETS,
  gptConfig,
  parameterCount,
  parameterShapes,
} from "../../../../engine/models/gpt/config.ts";

Deno.test("`parameterCount()` gives GPT-2 small's 124,439,808 parameters for the gpt2 preset", () => {
  assertEquals(parameterCount(GPT_PRESETS.gpt2), 124_439_808);
});

Deno.test("`GPT_PRESETS.tiny` is small enough for a software adapter", () => {
  const c = GPT_PRESETS.tiny;
  assertEquals([c.dModel, c.nLayer, c.nHead], [128, 4, 4]);
  assertEquals(c.vocabSize % 64, 0);
  assertEquals(parameterCount(c) < 1_000_000, true);
});

Deno.test("`gptConfig()` applies overrides to a preset and validates them", () => {
  assertEquals(gptConfig("tiny", { vocabSize: 517 }).vocabSize, 517);
  assertThrows(() => gptConfig("tiny", { nHead: 3 }), /"nHead" \(3\) must divide "dModel" \(128\)/);
  assertThrows(() => gptConfig("tiny", { nLayer: 0 }), /"nLayer" must be a positive integer/);
  assertThrows(() => gptConfig("tiny", { layerNormEps: 0 }), /"layerNormEps" must be a positive/);
  assertThrows(() => gptConfig("huge" as "tiny"), /Unknown GPT preset "huge"/);
});

Deno.test("`configFromHf()` reads what `configToHf()` writes and GPT-2's own field names", () => {
  const c = gptConfig("tiny", { vocabSize: 300, layerNormEps: 1e-6 });
  assertEquals(configFromHf(configToHf(c)), c);
  const hf = {
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
    vocab_size: 50257,
    layer_norm_epsilon: 1e-5,
  };
  assertEquals(configFromHf(hf), GPT_PRESETS.gpt2);
  assertThrows(() => configFromHf({ ...hf, n_embd: "768" }, "x.json"), /x.json: field "n_embd"/);
  assertThrows(() => configFromHf([1]), /expected a JSON object/);
});

Deno.test("`parameterShapes()` lists HF GPT-2 names in [in, out] layout", () => {
  const s = parameterShapes(gptConfig("tiny", { nLayer: 2 }));
  assertEquals(s.get("h.1.attn.c_attn.weight"), [128, 384]);
  assertEquals(s.get("h.0.mlp.c_proj.weight"), [512, 128]);
  assertEquals(s.get("wpe.weight"), [64, 128]);
  assertEquals(s.has("lm_head.weight"), false);
  assertEquals(s.size, 2 + 2 * 12 + 2);
});

Deno.test("`dInner` defaults to 4·dModel, follows a new dModel, and can be set on its own", () => {
  assertEquals(gptConfig("tiny").dInner, 512);
  assertEquals(gptConfig("tiny", { dModel: 64 }).dInner, 256);
  assertEquals(gptConfig("tiny", { dInner: 2048 }).dInner, 2048);
  assertEquals(gptConfig("tiny", { dModel: 64, dInner: 96 }).dInner, 96);
  const s = parameterShapes(gptConfig("tiny", { nLayer: 1, dInner: 1000 }));
  assertEquals(s.get("h.0.mlp.c_fc.weight"), [128, 1000]);
  assertEquals(s.get("h.0.mlp.c_fc.bias"), [1000]);
  assertEquals(s.get("h.0.mlp.c_proj.weight"), [1000, 128]);
  assertThrows(() => gptConfig("tiny", { dInner: 0 }), /"dInner" must be a positive integer/);
  // Files written before the field existed still load.
  const { dInner: _, ...old } = gptConfig("tiny", { dModel: 32 });
  assertEquals(gptConfig(old).dInner, 128);
});

Deno.test("`configToHf()` writes n_inner only when it is not 4·n_embd, and it round-trips", () => {
  assertEquals(configToHf(gptConfig("tiny")).n_inner, null);
  const wide = gptConfig("tiny", { dInner: 2048 });
  assertEquals(configToHf(wide).n_inner, 2048);
  assertEquals(configFromHf(configToHf(wide)), wide);
  assertEquals(configFromHf({ ...configToHf(wide), n_inner: null }).dInner, 512);
  assertThrows(
    () => configFromHf({ ...configToHf(wide), n_inner: "2048" }, "c.json"),
    /c.json: field "n_inner"/,
  );
});
