// `deno task generate`: greedy or top-k continuation of a prompt with a trained model.
import { parseArgs } from "node:util";
import { generate } from "../engine/models/gpt/generate.ts";
import { loadLm } from "../malmen/lm/source.ts";
import { applyShifts, readJournalEntry } from "../malmen/editors/journal.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  lmFlag,
  num,
  pickBackend,
  runCli,
  UsageError,
} from "./_cli/mod.ts";

const HELP = `Usage: deno task generate --prompt TEXT [options]

Options:
  --prompt TEXT    the prompt (required)
  --lm DIR|hf:DIR  trained LM run, or a Hugging Face GPT-2 directory (default runs/lm; the
                   demo's is runs/demo/lm)
  --journal FILE   apply an edit journal entry first (see deno task edit)
  --tokens N       tokens to generate (default 8)
  --top-k K        sample from the K likeliest tokens (default: greedy)
  --seed N         sampling seed
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
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  if (v.prompt === undefined) throw new UsageError("--prompt TEXT is required (see --help)");
  const maxNewTokens = int("tokens", v.tokens, 8);
  const topK = v["top-k"] === undefined ? undefined : int("top-k", v["top-k"], 1);
  const seed = num("seed", v.seed, 0);
  const lm = lmFlag(v.lm!);
  const backend = await pickBackend(v.backend);
  const { model, tokenizer } = await loadLm(lm, backend);
  if (v.journal) applyShifts(model, (await readJournalEntry(v.journal, model)).shifts);
  const ids = await generate(model, tokenizer.encode(v.prompt), { maxNewTokens, topK, seed });
  console.log(v.prompt + tokenizer.decode(ids));
  model.dispose();
});
