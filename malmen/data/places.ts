/**
 * Where a data set named on the command line (`--data counterfact`) is looked for, in one order
 * everywhere: the folder named by `MALMEN_DATA`, then `../shared/data-raw/` beside the checkout,
 * then the fetch cache that `deno task data fetch` fills. (An explicit `--data FILE|DIR` comes
 * before all of them and is read as given.) Each folder uses the layout of {@link DATASETS}.
 * @module
 */

import { fileURLToPath } from "node:url";
import { isNotADirectory, isNotFound, platform } from "../../engine/platform/mod.ts";
import { defaultDataRawDir } from "./data_raw.ts";
import { type DatasetName, DATASETS } from "./pins.ts";

/** The environment variable naming a data folder searched first. */
export const DATA_ENV = "MALMEN_DATA";

/**
 * One folder of the lookup.
 * @example
 * ```ts
 * import { dataPlaces, type DataPlace } from "./places.ts";
 * const first: DataPlace = dataPlaces({ env: "/data", cache: "/c" })[0];
 * console.log(first.label, first.dir); // "MALMEN_DATA" "/data"
 * ```
 */
export interface DataPlace {
  /** What the place is, for messages: `MALMEN_DATA`, `../shared/data-raw`, `fetch cache`. */
  label: string;
  /** The folder, or null when not configured (an unset `MALMEN_DATA`). */
  dir: string | null;
}

/**
 * Overrides of the lookup (tests, or callers with their own configuration).
 * @example
 * ```ts
 * import type { LookupOptions } from "./places.ts";
 * const options: LookupOptions = { env: null, dataRaw: "/nowhere", cache: "/tmp/cache" };
 * console.log(options.cache);
 * ```
 */
export interface LookupOptions {
  /** The value of `MALMEN_DATA` (default: the environment's; null means unset). */
  env?: string | null;
  /** The shared data folder (default `../shared/data-raw/` beside the checkout). */
  dataRaw?: string;
  /** The fetch cache (default {@link defaultFetchDir}). */
  cache?: string;
}

/**
 * The fetch cache: `$XDG_CACHE_HOME/malmen/data`, else `~/.cache/malmen/data` (on Windows
 * `%LOCALAPPDATA%\malmen\data`).
 * @returns A folder path (it may not exist yet).
 * @throws {Error} When neither a cache nor a home folder is known from the environment.
 * @example
 * ```ts
 * import { defaultFetchDir } from "./places.ts";
 * console.log(defaultFetchDir());
 * ```
 */
export function defaultFetchDir(): string {
  const env = (name: string): string | undefined => platform().env(name) || undefined;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/malmen/data`;
  const home = env("HOME");
  if (home) return `${home}/.cache/malmen/data`;
  const local = env("LOCALAPPDATA");
  if (local) return `${local}\\malmen\\data`;
  throw new Error("No cache folder: set XDG_CACHE_HOME or HOME, or pass --dir");
}

/**
 * The folders of the lookup, in order.
 * @param options Overrides.
 * @returns MALMEN_DATA, ../shared/data-raw, the fetch cache.
 * @example
 * ```ts
 * import { dataPlaces } from "./places.ts";
 * console.log(dataPlaces({ env: null, cache: "/c" }).map((p) => p.label));
 * // ["MALMEN_DATA", "../shared/data-raw", "fetch cache"]
 * ```
 */
export function dataPlaces(options: LookupOptions = {}): DataPlace[] {
  const env = options.env === undefined ? platform().env(DATA_ENV) || null : options.env;
  return [
    { label: DATA_ENV, dir: env },
    {
      label: "../shared/data-raw",
      dir: options.dataRaw ?? fileURLToPath(defaultDataRawDir()).replace(/[\\/]$/, ""),
    },
    { label: "fetch cache", dir: options.cache ?? knownFetchDir() },
  ];
}

// The fetch cache, or null (shown as "not set") when the environment names no home folder.
function knownFetchDir(): string | null {
  try {
    return defaultFetchDir();
  } catch {
    return null;
  }
}

/**
 * A named data set was found nowhere; the message lists every place and what was missing.
 * @example
 * ```ts
 * import { MissingDataError } from "./places.ts";
 * const e = new MissingDataError("zsre", ["  MALMEN_DATA: not set"]);
 * console.log(e.message.split("\n")[0]); // zsre data not found. Looked in:
 * ```
 */
export class MissingDataError extends Error {
  /**
   * Builds the message: the places, then how to fetch or place the data.
   * @param name The data set.
   * @param looked One line per place: the place and why it did not do.
   */
  constructor(name: DatasetName, looked: readonly string[]) {
    super(
      `${name} data not found. Looked in:\n${looked.join("\n")}\n` +
        `Fetch it with \`deno task data fetch ${name}\`, set ${DATA_ENV} to a folder holding ` +
        `${DATASETS[name].map((f) => f.path).join(", ")}, or pass --data FILE|DIR.`,
    );
    this.name = "MissingDataError";
  }
}

/**
 * The first folder of the lookup that holds every file of a data set.
 * @param name The data set.
 * @param options Overrides of the lookup.
 * @returns The folder (file paths are `folder/<PinnedFile.path>`).
 * @throws {MissingDataError} When no folder holds them all, listing each place.
 * @example
 * ```ts ignore
 * import { locateDataset } from "./places.ts";
 * console.log(await locateDataset("counterfact")); // e.g. "/work/shared/data-raw"
 * ```
 */
export async function locateDataset(
  name: DatasetName,
  options: LookupOptions = {},
): Promise<string> {
  const looked: string[] = [];
  for (const place of dataPlaces(options)) {
    if (place.dir === null) {
      looked.push(`  ${place.label}: not set`);
      continue;
    }
    const missing: string[] = [];
    for (const file of DATASETS[name]) {
      if (!(await isFile(`${place.dir}/${file.path}`))) missing.push(file.path);
    }
    if (missing.length === 0) return place.dir;
    looked.push(`  ${place.label} (${place.dir}): ${missing.join(", ")} missing`);
  }
  throw new MissingDataError(name, looked);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await platform().stat(path)).isFile;
  } catch (e) {
    if (isNotFound(e) || isNotADirectory(e)) return false;
    throw e;
  }
}
