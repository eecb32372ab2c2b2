// `deno task bench [names...] [--json] [--quick]`: runs benchmarks, peers side by side.
import { parseArgs } from "node:util";
import type { Bench, BenchRow } from "./types.ts";
import { matmulBench } from "./matmul.ts";
import { trainStepBench } from "./train_step.ts";
import { editQualityBench } from "./edit_quality.ts";
import { editMemoryBench } from "./edit_memory.ts";

const BENCHES: readonly Bench[] = [matmulBench, trainStepBench, editQualityBench, editMemoryBench];

function usage(): string {
  const lines = BENCHES.map((b) => `  ${b.name.padEnd(14)} ${b.description}`);
  return `Usage: deno task bench [NAME...] [--json] [--quick]

Runs the named benchmarks (all by default) and prints a table, or one JSON object per line with
--json. Peers run in the same process on the same adapter; compare ratios, not absolute numbers.

Benchmarks:
${lines.join("\n")}

Options:
  --json    one JSON object per result line on stdout (progress goes to stderr)
  --quick   smaller sizes and fewer repetitions
  --no-peers  skip the peer implementations (tfjs-webgpu), e.g. where their packages are absent
  --help    this text`;
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "no-peers": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: true,
});

if (values.help) {
  console.log(usage());
  Deno.exit(0);
}
const unknown = positionals.filter((p) => !BENCHES.some((b) => b.name === p));
if (unknown.length > 0) {
  console.error(
    `Unknown benchmark "${unknown[0]}". Known: ${BENCHES.map((b) => b.name).join(", ")}`,
  );
  Deno.exit(2);
}
const selected = positionals.length > 0
  ? BENCHES.filter((b) => positionals.includes(b.name))
  : BENCHES;
const rows: BenchRow[] = [];
for (const bench of selected) {
  await bench.run({
    quick: values.quick,
    peers: !values["no-peers"],
    emit: (row) => {
      rows.push(row);
      if (values.json) console.log(JSON.stringify(row));
    },
    log: (message) => console.error(`[bench] ${message}`),
  });
}
if (!values.json) console.table(rows);
Deno.exit(0);
