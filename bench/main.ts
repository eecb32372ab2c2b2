// `deno task bench [names...] [--json] [--quick]`: runs benchmarks, peers side by side.
import { parseArgs } from "node:util";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  pickBackend,
  Progress,
  runCli,
  stopOnSigint,
  UsageError,
} from "../examples/_cli/mod.ts";
import type { Bench, BenchRow } from "./types.ts";
import { matmulBench } from "./matmul.ts";
import { trainStepBench } from "./train_step.ts";
import { editQualityBench } from "./edit_quality.ts";
import { editMemoryBench } from "./edit_memory.ts";
import { gpt2SmallBench } from "./gpt2_small.ts";

const BENCHES: readonly Bench[] = [
  matmulBench,
  trainStepBench,
  editQualityBench,
  editMemoryBench,
  gpt2SmallBench,
];

function usage(): string {
  const lines = BENCHES.map((b) =>
    `  ${b.name.padEnd(14)} ${b.description}${b.onlyWhenNamed ? " (only when named)" : ""}`
  );
  return `Usage: deno task bench [NAME...] [--json] [--quick] [--runs DIR]

Runs the named benchmarks (by default all but those marked "only when named") and prints a table,
or one JSON object per line with --json. Peers run in the same process on the same adapter;
compare ratios, not absolute numbers.

Benchmarks:
${lines.join("\n")}

Options:
  --json        one JSON object per result line on stdout (progress goes to stderr)
  --quick       smaller sizes and fewer repetitions
  --no-peers    skip the peer implementations (tfjs-webgpu), e.g. where their packages are absent
                (\`deno run -A bench/main.ts --no-peers\` never resolves them: they are named only
                in bench/peers/deno.json, which \`deno task bench\` runs with)
  --runs DIR    the trained world runs edit_quality and edit_memory measure: DIR/lm, DIR/malmen,
                DIR/mend (default runs/demo, where \`deno task demo\` writes them); a missing run
                is an error, the benchmarks never train one
${COMMON_HELP}

Ctrl-C stops after the current measurement and prints the rows measured so far.`;
}

await runCli(async () => {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      "no-peers": { type: "boolean", default: false },
      runs: { type: "string", default: "runs/demo" },
      ...COMMON_OPTIONS,
    },
    allowPositionals: true,
  });
  if (values.help) return console.log(usage());
  const unknown = positionals.filter((p) => !BENCHES.some((b) => b.name === p));
  if (unknown.length > 0) {
    throw new UsageError(
      `Unknown benchmark "${unknown[0]}". Known: ${BENCHES.map((b) => b.name).join(", ")}`,
    );
  }
  const selected = positionals.length > 0
    ? BENCHES.filter((b) => positionals.includes(b.name))
    : BENCHES.filter((b) => !b.onlyWhenNamed);
  const backend = await pickBackend(values.backend);
  const stop = stopOnSigint("Stopping after the current measurement...");
  const bar = new Progress({ label: "bench", total: selected.length });
  const rows: BenchRow[] = [];
  for (const [i, bench] of selected.entries()) {
    if (stop.requested) break;
    bar.update(i, bench.name);
    await bench.run({
      quick: values.quick,
      peers: !values["no-peers"],
      backend,
      runs: values.runs!,
      stop,
      emit: (row) => {
        rows.push(row);
        if (values.json) console.log(JSON.stringify(row));
      },
      log: (message) => console.error(`[bench] ${message}`),
    });
  }
  bar.finish(stop.requested ? "stopped" : "done");
  if (!values.json) console.table(rows);
});
