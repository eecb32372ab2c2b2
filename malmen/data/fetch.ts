/**
 * Downloads pinned data files (see `pins.ts`): each goes to `<file>.part` first, is checked
 * against its pinned size and SHA-256, then renamed into place, so a folder never holds a
 * half-written or unverified file. An interrupted download keeps its `.part` and the next run
 * resumes it with an HTTP range request; a file already in place is verified, never replaced.
 * @module
 */

import { isNotFound, platform } from "../../engine/platform/mod.ts";
import {
  type DatasetName,
  DATASETS,
  DEFAULT_BASE_URL,
  type PinnedFile,
  pinnedUrl,
} from "./pins.ts";

/**
 * Options of {@link fetchFiles}.
 * @example
 * ```ts
 * import type { FetchOptions } from "./fetch.ts";
 * const options: FetchOptions = { dir: "/tmp/data", baseUrl: "http://127.0.0.1:8000/" };
 * console.log(options.dir);
 * ```
 */
export interface FetchOptions {
  /** The data folder to fill (files go to `<dir>/<PinnedFile.path>`). */
  dir: string;
  /** Where pinned files are served (default GitHub's raw host; a mirror or a test server). */
  baseUrl?: string;
  /** Give up when no byte arrives for this long, in milliseconds (default 30,000). */
  idleTimeoutMs?: number;
  /** Progress messages. */
  log?: (message: string) => void;
}

/**
 * What happened to one file.
 * @example
 * ```ts
 * import type { FetchedFile } from "./fetch.ts";
 * const f: FetchedFile = { path: "/d/zsre/a.json", status: "present" };
 * console.log(f.status);
 * ```
 */
export interface FetchedFile {
  /** Where it is now. */
  path: string;
  /** `present`: it was there and verified; `downloaded`: fetched (resumed or not) and verified. */
  status: "present" | "downloaded";
}

/**
 * The network could not be reached at all; the message says how to place the files by hand.
 * @example
 * ```ts
 * import { OfflineError } from "./fetch.ts";
 * console.log(new OfflineError("no route").name); // "OfflineError"
 * ```
 */
export class OfflineError extends Error {
  /**
   * Wraps the message of a failed connection.
   * @param message What failed, and the manual steps.
   */
  constructor(message: string) {
    super(message);
    this.name = "OfflineError";
  }
}

// Attempts per file within one run when an attempt ended early but brought bytes.
const ATTEMPTS = 3;

/**
 * Fetches the files of a data set into a folder (see {@link fetchFiles}).
 * @param name The data set.
 * @param options Folder, server, timeout, progress.
 * @returns One entry per file.
 * @example
 * ```ts ignore
 * import { fetchDataset } from "./fetch.ts";
 * await fetchDataset("zsre", { dir: "data" });
 * ```
 */
export function fetchDataset(name: DatasetName, options: FetchOptions): Promise<FetchedFile[]> {
  return fetchFiles(DATASETS[name], options);
}

/**
 * Fetches pinned files into a folder: verified files already there are kept, partial ones are
 * resumed, and each new file is renamed into place only after its size and SHA-256 match.
 * @param files The pinned files.
 * @param options Folder, server, timeout, progress.
 * @returns One entry per file, in order.
 * @throws {OfflineError} When the server cannot be reached (with the manual steps);
 *   {Error} on an HTTP error status, a timeout (the partial file is kept for the next run), a
 *   hash or size mismatch (the download is removed) or a file in place that does not match.
 * @example
 * ```ts ignore
 * import { fetchFiles } from "./fetch.ts";
 * import { DATASETS } from "./pins.ts";
 * await fetchFiles(DATASETS.counterfact, { dir: "data", log: console.error });
 * ```
 */
export async function fetchFiles(
  files: readonly PinnedFile[],
  options: FetchOptions,
): Promise<FetchedFile[]> {
  const out: FetchedFile[] = [];
  for (const file of files) out.push(await fetchFile(file, files, options));
  return out;
}

/**
 * How to place files by hand: the address, destination, size and SHA-256 of each.
 * @param files The pinned files.
 * @param dir The data folder.
 * @param baseUrl The server (default GitHub's raw host).
 * @returns Lines of text.
 * @example
 * ```ts
 * import { manualSteps } from "./fetch.ts";
 * import { DATASETS } from "./pins.ts";
 * console.log(manualSteps(DATASETS.zsre, "data"));
 * ```
 */
export function manualSteps(
  files: readonly PinnedFile[],
  dir: string,
  baseUrl: string = DEFAULT_BASE_URL,
): string {
  const lines = files.map((f) =>
    `  ${pinnedUrl(f, baseUrl)}\n    -> ${dir}/${f.path} (${f.bytes} bytes, sha256 ${f.sha256})`
  );
  return `To place the files by hand, download each (e.g. with a browser on another machine) ` +
    `and copy it to:\n${lines.join("\n")}\nthen run the same command again to verify them.`;
}

async function fetchFile(
  file: PinnedFile,
  all: readonly PinnedFile[],
  options: FetchOptions,
): Promise<FetchedFile> {
  const dir = options.dir.replace(/\/+$/, "");
  const target = `${dir}/${file.path}`;
  const url = pinnedUrl(file, options.baseUrl);
  if ((await sizeOf(target)) !== null) {
    const problem = await mismatch(target, file);
    if (problem !== null) {
      throw new Error(
        `${target} is there but ${problem}; it is not replaced: remove it and fetch again`,
      );
    }
    options.log?.(`${target}: present, verified`);
    return { path: target, status: "present" };
  }
  await platform().mkdir(target.slice(0, target.lastIndexOf("/")));
  const part = `${target}.part`;
  let have = (await sizeOf(part)) ?? 0;
  if (have > file.bytes) {
    await platform().remove(part);
    have = 0;
  }
  for (let attempt = 1; have < file.bytes; attempt++) {
    const before = have;
    try {
      have = await download(url, part, have, file, options);
    } catch (e) {
      // fetch() rejects with a TypeError when no connection can be made at all.
      if (e instanceof TypeError) {
        throw new OfflineError(
          `Cannot reach ${url} (${reason(e)}).\n${manualSteps(all, dir, options.baseUrl)}`,
        );
      }
      throw e;
    }
    if (have < file.bytes && (have === before || attempt === ATTEMPTS)) {
      throw new DownloadError(
        `${url}: the download ended at ${have} of ${file.bytes} bytes; run again to resume ` +
          `(kept in ${part})`,
      );
    }
  }
  const problem = await mismatch(part, file);
  if (problem !== null) {
    await platform().remove(part);
    throw new Error(`${url}: the download ${problem}; it was removed, nothing was written`);
  }
  await platform().rename(part, target);
  options.log?.(`${target}: downloaded, verified`);
  return { path: target, status: "downloaded" };
}

// An error of the transfer itself (not of reaching the server).
class DownloadError extends Error {}

// One request: appends to `part` from byte `have` (or restarts when the server ignores the
// range) and returns the bytes held afterwards.
async function download(
  url: string,
  part: string,
  have: number,
  file: PinnedFile,
  options: FetchOptions,
): Promise<number> {
  const timeout = options.idleTimeoutMs ?? 30_000;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), timeout);
  const idle = (): never => {
    throw new DownloadError(
      `${url}: no data for ${timeout / 1000} s; run again to resume` +
        (have > 0 ? ` (${have} of ${file.bytes} bytes kept in ${part})` : ""),
    );
  };
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: have > 0 ? { Range: `bytes=${have}-` } : {},
        signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) idle();
      throw e;
    }
    const resumed = response.status === 206 && rangeStart(response) === have;
    if (!resumed && response.status !== 200) {
      await response.body?.cancel();
      throw new DownloadError(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
    }
    if (!resumed) have = 0;
    options.log?.(
      resumed ? `${url}: resuming at ${have} of ${file.bytes} bytes` : `${url}: downloading`,
    );
    using sink = await platform().openWrite(part, resumed);
    try {
      for await (const chunk of response.body ?? new ReadableStream<Uint8Array>()) {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), timeout);
        await sink.write(chunk);
        have += chunk.length;
      }
    } catch (e) {
      if (controller.signal.aborted) idle();
      // A dropped connection: what arrived is kept and the caller resumes.
      options.log?.(`${url}: interrupted after ${have} bytes (${(e as Error).message})`);
    }
    return have;
  } finally {
    clearTimeout(timer);
  }
}

// The innermost cause, without the URL the message already names.
function reason(e: Error): string {
  const inner = e.cause instanceof Error ? e.cause.message : e.message;
  return inner.replace(/^error sending request for url \([^)]*\): /, "");
}

function rangeStart(response: Response): number | null {
  const m = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "");
  return m === null ? null : Number(m[1]);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await platform().stat(path)).size;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

// Why a file does not match its pin, or null when it does.
async function mismatch(path: string, file: PinnedFile): Promise<string | null> {
  const bytes = await platform().readFile(path);
  if (bytes.length !== file.bytes) return `has ${bytes.length} bytes, not the pinned ${file.bytes}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  return hex === file.sha256 ? null : `has sha256 ${hex}, not the pinned ${file.sha256}`;
}
