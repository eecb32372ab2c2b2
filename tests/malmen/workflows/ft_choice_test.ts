import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { chooseFtLayers } from "../../../malmen/workflows/ft_choice.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { scoreEdit } from "../../../malmen/eval/edit_and_score.ts";
import { FtEditor } from "../../../malmen/editors/ft.ts";
import { selectionScore } from "../../../malmen/eval/metrics.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

Deno.test("`chooseFtLayers()` keeps the layer set with the best harmonic mean on val, each set tried once", async () => {
  const lm = frozenLm(V);
  const val = randomRequests(6, V, 21);
  const config = { ...defaultEditorConfig(2), ftEpochs: 2, ftMinSteps: 4 };
  const logs: string[] = [];
  const choice = await chooseFtLayers(lm, config, [[0, 1], [1], [0, 1]], val, (m) => logs.push(m));
  deepStrictEqual(choice.grid.map((c) => c.layers), [[0, 1], [1]]);
  deepStrictEqual(logs.length, 2);
  // Each candidate's score is what editing val with it gives (FT is deterministic).
  for (const c of choice.grid) {
    const { after } = await scoreEdit(
      lm,
      new FtEditor({ ...config, layers: c.layers }),
      val,
      false,
    );
    deepStrictEqual(c.val, after);
    deepStrictEqual(c.selection, selectionScore(after));
  }
  const best = choice.grid.reduce((a, b) => (b.selection > a.selection ? b : a));
  deepStrictEqual(choice.editor.config.layers, best.layers);
  ok(choice.grid.some((c) => c.selection !== choice.grid[0].selection), "the sets must differ");
  // One set: nothing to choose, nothing edited.
  const only = await chooseFtLayers(lm, config, [[1]], [], () => logs.push("x"));
  deepStrictEqual([only.grid, only.editor.config.layers, logs.length], [[], [1], 2]);
  await rejects(() => chooseFtLayers(lm, config, [[0], [1]], []), /needs validation facts/);
  await rejects(() => chooseFtLayers(lm, config, [], val), /at least one set/);
  lm.dispose();
});
