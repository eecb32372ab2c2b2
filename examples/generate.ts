// `deno task generate`: greedy or top-k continuation of a prompt with a trained model.
import { parseArgs } from "node:util";
import { generate } from "../engine/models/gpt/generate.ts";
import { loadLm } from "../malmen/lm/source.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { GPT } from "../engine/models/gpt/model.ts";
import { applyShifts, readJournalEntry } from "../malmen/editors/journal.ts";
import { Journal } from "../malmen/editors/journal_log.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  lmFlag,
  num,
  optionalNum,
  pickBackend,
  RANGES,
  requireLmRun,
  runCli,
  UsageError,
} from "./_cli/mod.ts";

const HELP = `Usage: deno task generate --prompt TEXT [options]

Options:
  --prompt TEXT    the prompt (required)
  --lm DIR|hf:DIR  trained LM run, or a Hugging Face GPT-2 directory (default runs/lm; the
                   demo's is runs/demo/lm)
  --journal PATH   apply edits first: a journal folder (deno task edit --out; its applied
                   entries) or one entry file (.safetensors)
  --tokens N       tokens to generate (default 8)
  --top-k K        sample from the K likeliest tokens (default: greedy)
  --seed N         sampling seed
  --force          apply a journal made for another LM
  --allow-non-finite  load an LM whose weights hold NaN or Inf (to inspect a diverged run)
${COMMON_HELP}`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      prompt: { type: "string" },
      lm: { type: "string", default: "runs/lm" },
      journal: { type: "string" },
      tokens: { type: "string" },
      "top-k": { type: "string" },
      seed: { type: "string" },
      force: { type: "boolean", default: false },
      "allow-non-finite": { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  if (v.prompt === undefined) throw new UsageError("--prompt TEXT is required (see --help)");
  const maxNewTokens = int("tokens", v.tokens, 8, 1, 1 << 16);
  const topK = optionalNum("top-k", v["top-k"], RANGES.count);
  const seed = num("seed", v.seed, 0, RANGES.seed);
  const lm = lmFlag(v.lm!);
  await requireLmRun("lm", lm);
  if (v.journal !== undefined) {
    await Deno.stat(v.journal).catch((e: Error) => {
      throw new UsageError(`--journal: "${v.journal}" cannot be read (${e.message})`);
    });
  }
  const backend = await pickBackend(v.backend);
  const { model, tokenizer } = await loadLm(lm, backend, {
    allowNonFinite: v["allow-non-finite"],
  });
  if (v.journal) applyShifts(model, await journalShifts(v.journal, model, v.force!));
  const ids = await generate(model, tokenizer.encode(v.prompt), { maxNewTokens, topK, seed });
  console.log(v.prompt + tokenizer.decode(ids));
  model.dispose();
});

// A journal folder gives the sum of its applied entries; a file is one entry.
async function journalShifts(
  path: string,
  model: GPT,
  force: boolean,
): Promise<Map<number, Tensor>> {
  if ((await Deno.stat(path)).isDirectory) {
    return await (await Journal.open(path)).activeShifts(model, { force });
  }
  return (await readJournalEntry(path, model, { force })).shifts;
}
