import { ok } from "node:assert/strict";
import { lmStepText, Progress } from "../../../examples/_cli/progress.ts";
import { linePlot } from "../../../examples/_cli/svg.ts";

function sink(
  tty: boolean,
): { stream: { writeSync(p: Uint8Array): number; isTerminal(): boolean }; text: () => string } {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  return {
    stream: { writeSync: (p) => (chunks.push(dec.decode(p)), p.length), isTerminal: () => tty },
    text: () => chunks.join(""),
  };
}

Deno.test("`Progress` prints plain lines every 10% when piped", () => {
  const s = sink(false);
  const p = new Progress({ label: "work", total: 100, stream: s.stream });
  for (let i = 1; i <= 100; i++) p.update(i, `item ${i}`);
  p.finish();
  const lines = s.text().trim().split("\n");
  ok(lines.length >= 10 && lines.length <= 12, `${lines.length} lines`);
  ok(!s.text().includes("\r"), "no carriage returns in plain mode");
  ok(lines.at(-1)!.includes("100% 100/100"), lines.at(-1));
});

Deno.test("`Progress` redraws one line on a terminal", () => {
  const s = sink(true);
  const p = new Progress({ label: "work", total: 4, stream: s.stream });
  for (let i = 1; i <= 4; i++) p.update(i);
  p.finish("done");
  ok(s.text().includes("\r\x1b[2K"));
  ok(s.text().endsWith("done\n"));
});

Deno.test("`linePlot()` draws one path per series with escaped labels", () => {
  const svg = linePlot(
    [{ name: "a<b", points: [[1, 2], [2, 1], [4, 3]] }, { name: "c", points: [[1, 1], [4, 0.5]] }],
    { title: "T & U", xLabel: "m", yLabel: "ES", logX: true },
  );
  ok(svg.startsWith("<svg"));
  ok(svg.includes("a&lt;b") && svg.includes("T &amp; U"));
  ok((svg.match(/<path /g) ?? []).length === 2);
});

Deno.test("`lmStepText()` shows no loss before one was read back, and no accuracy before one was measured", () => {
  const step = { step: 3, epoch: 0, loss: NaN, accuracy: NaN };
  ok(lmStepText(step) === "step 3", lmStepText(step));
  ok(lmStepText(step, true) === "step 3 epoch 1");
  ok(lmStepText({ ...step, loss: 2.34567 }) === "step 3 loss 2.346");
  ok(
    lmStepText({ ...step, loss: 1.5, accuracy: 0.5 }, true) ===
      "step 3 epoch 1 loss 1.500 acc 50.0%",
  );
});
