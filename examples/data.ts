// `deno task data`: data as files — the embedded world's facts written out as flattened
// CounterFact, and the public CounterFact / zsRE files fetched, verified, into the cache the
// other commands look in.
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../engine/io/atomic.ts";
import { fetchDataset, type FetchedFile } from "../malmen/data/fetch.ts";
import { DATA_ENV, defaultFetchDir } from "../malmen/data/places.ts";
import { DATASET_NAMES, type DatasetName } from "../malmen/data/pins.ts";
import { generateWorld } from "../malmen/data/world.ts";
import { DEFAULT_WORLD } from "../malmen/workflows/settings.ts";
import { int, oneOf, runCli, UsageError } from "./_cli/mod.ts";

const HELP =
  `Usage: deno task data world [--seed N] [--split train|val|edit|all] --out FILE [--force]
       deno task data fetch counterfact|zsre [--dir DIR] [--base-url URL]

world   writes the embedded world's edit records (the facts the demo's language model learned,
        with a counterfactual target each) as flattened CounterFact: a JSON array, or JSON
        Lines when FILE ends in .jsonl. An input for deno task edit --input, or for --data.
  --seed N          world seed (default ${DEFAULT_WORLD.seed}, the demo's world)
  --split S         train, val, edit (held-out subjects, default) or all
  --out FILE        where to write (required); an existing different file is kept unless
                    --force
fetch   downloads a public data set from its pinned repository commit over HTTPS, checks each
        file's size and SHA-256, writes it atomically and resumes an interrupted download.
  --dir DIR         data folder to fill (default the fetch cache, ${cacheForHelp()})
  --base-url URL    serve the pinned files from a mirror (default GitHub's raw host)

Where the other commands look for --data counterfact|zsre, in order: the folder in
${DATA_ENV}, ../shared/data-raw beside the checkout, then the fetch cache.
  --help            this text`;

function cacheForHelp(): string {
  try {
    return defaultFetchDir();
  } catch {
    return "$XDG_CACHE_HOME/malmen/data";
  }
}

await runCli(async () => {
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string" },
      split: { type: "string", default: "edit" },
      out: { type: "string" },
      force: { type: "boolean", default: false },
      dir: { type: "string" },
      "base-url": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  });
  if (v.help) return console.log(HELP);
  const [command, ...rest] = positionals;
  if (command === "world") {
    if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`);
    const split = oneOf("split", v.split!, ["train", "val", "edit", "all"] as const);
    const seed = int("seed", v.seed, DEFAULT_WORLD.seed ?? 1, 0);
    if (seed > 0xffffffff) throw new UsageError(`--seed must be below 2^32, got "${v.seed}"`);
    if (v.out === undefined) throw new UsageError("--out FILE is required (see --help)");
    return await writeWorld(seed, split, v.out, v.force!);
  }
  if (command === "fetch") {
    const name = rest[0] as DatasetName;
    if (!DATASET_NAMES.includes(name)) {
      throw new UsageError(
        name === undefined
          ? "Name a data set to fetch: counterfact or zsre"
          : `Unknown data set "${name}": use counterfact or zsre`,
      );
    }
    if (rest.length > 1) throw new UsageError(`Unexpected argument "${rest[1]}"`);
    const dir = v.dir ?? defaultFetchDir();
    const files = await fetchDataset(name, {
      dir,
      baseUrl: v["base-url"],
      log: (m) => console.error(m),
    });
    return report(name, dir, files);
  }
  throw new UsageError(
    command === undefined
      ? "Name a command: world or fetch (see --help)"
      : `Unknown command "${command}": use world or fetch`,
  );
});

async function writeWorld(seed: number, split: string, out: string, force: boolean) {
  const world = generateWorld({ ...DEFAULT_WORLD, seed });
  const records = split === "all"
    ? [...world.train, ...world.val, ...world.edit]
    : world[split as "train" | "val" | "edit"];
  const text = out.endsWith(".jsonl")
    ? records.map((r) => JSON.stringify(r)).join("\n") + "\n"
    : `[\n${records.map((r) => JSON.stringify(r)).join(",\n")}\n]\n`;
  let old: string | null = null;
  try {
    old = await Deno.readTextFile(out);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (old === text) {
    return console.log(`${out} already holds these ${records.length} records; left as it is.`);
  }
  if (old !== null && !force) {
    throw new UsageError(`${out} exists and differs: pass --force to replace it`);
  }
  await writeFileAtomic(out, text);
  console.log(
    `Wrote ${records.length} ${split === "all" ? "" : `${split} `}records of the world ` +
      `(seed ${seed}) to ${out}.`,
  );
}

function report(name: string, dir: string, files: FetchedFile[]) {
  const fetched = files.filter((f) => f.status === "downloaded").length;
  console.log(
    `${name}: ${files.length} file${files.length === 1 ? "" : "s"} verified in ${dir}` +
      (fetched > 0 ? ` (${fetched} downloaded)` : " (all already present)") + ".",
  );
}
