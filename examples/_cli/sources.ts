/**
 * The flags that name where data and models come from, shared by every program: `--data`
 * (`world`, `counterfact`, `zsre`, a file or a folder of splits) and `--lm` (a run directory or
 * `hf:DIR`), parsed into the types the workflows take, with usage errors that name the flag.
 * @module
 */
import { type DataSpec, parseDataSpec } from "../../malmen/data/data_source.ts";
import { type LmSource, parseLmSource } from "../../malmen/lm/source.ts";
import { UsageError } from "./options.ts";

/**
 * Parses `--data`.
 * @param value The flag's value.
 * @param world Whether the embedded world is accepted here.
 */
export function dataFlag(value: string, world = true): DataSpec {
  let spec: DataSpec;
  try {
    spec = parseDataSpec(value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (spec.kind === "world" && !world) {
    throw new UsageError("--data world is not accepted here: name a data set, file or folder");
  }
  return spec;
}

/**
 * Parses `--lm`.
 * @param value The flag's value.
 */
export function lmFlag(value: string): LmSource {
  try {
    return parseLmSource(value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
