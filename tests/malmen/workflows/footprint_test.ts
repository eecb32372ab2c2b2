// The space estimates follow the real parameter counts.
import { deepStrictEqual } from "node:assert/strict";
import { gptConfig, parameterCount } from "../../../engine/models/gpt/config.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import {
  editBytes,
  editorRunBytes,
  hyperNetworkParameterCount,
  lmRunBytes,
} from "../../../malmen/workflows/footprint.ts";
import { frozenLm } from "../_lm.ts";

Deno.test("`hyperNetworkParameterCount()` is the parameter count of the editor's network", () => {
  const lm = frozenLm(11);
  for (const over of [{ rank: 4 }, { rank: 1000, nBlocks: 3 }, { layers: [0, 1], rank: 7 }]) {
    const config = { ...defaultEditorConfig(2), ...over };
    const editor = new HyperEditor("malmen", lm, config);
    let count = 0;
    for (const t of editor.net.parameters().values()) count += t.size;
    deepStrictEqual(hyperNetworkParameterCount(lm.config, config), count, JSON.stringify(over));
    editor.dispose();
  }
  lm.dispose();
});

Deno.test("run and edit estimates cover their files", () => {
  const config = gptConfig("tiny", { vocabSize: 100, nCtx: 8, dModel: 16, nLayer: 2, nHead: 2 });
  const p = parameterCount(config);
  const slack = 4 << 20;
  deepStrictEqual(lmRunBytes(config), 36 * p + slack);
  const editor = { ...defaultEditorConfig(2), rank: 8 };
  deepStrictEqual(
    editorRunBytes(config, editor),
    44 * hyperNetworkParameterCount(config, editor) + slack,
  );
  // One [64, 16] shift, 10 requests' report, and the weights when asked for.
  deepStrictEqual(editBytes(config, 1, 10, false), 64 * 16 * 4 + 10240 + slack);
  deepStrictEqual(editBytes(config, 1, 10, true), 64 * 16 * 4 + 10240 + 4 * p + slack);
});
