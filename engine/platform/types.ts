/**
 * What the engine asks of its host: environment variables, files, process memory figures and
 * WebGPU's setup. Deno (`./deno.ts`) implements all of it; a browser tab (`./browser.ts`) reads
 * files over `fetch` and cannot write. Nothing else in the engine or the editors touches `Deno.*`.
 * @module
 */

/** Chunks accepted by the async atomic writer: strings are written as UTF-8. */
export type AtomicData =
  | Uint8Array
  | string
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>;

/** Chunks accepted by the sync atomic writer. */
export type AtomicDataSync = Uint8Array | string | Iterable<Uint8Array | string>;

/** Options for the atomic writers. */
export interface AtomicWriteOptions {
  /**
   * Permission bits for the file. By default an existing target's mode is kept and a new file gets
   * `0o666` minus the umask. Ignored on Windows.
   */
  mode?: number;
  /** Flush file contents and the directory entry to disk; default `true`. Disable only for scratch data. */
  fsync?: boolean;
}

/** A file opened for reads at any offset (safetensors headers, single tensors). */
export interface RandomAccessFile extends Disposable {
  /** Size in bytes when opened. */
  readonly size: number;
  /**
   * Reads into `buffer` from byte `offset`.
   * @returns Bytes read: fewer than `buffer.length` only at the end of the file (0 past it).
   */
  read(offset: number, buffer: Uint8Array): Promise<number>;
}

/** One entry of a directory listing. */
export interface DirEntry {
  /** File or folder name (no path). */
  name: string;
  /** True for a folder. */
  isDirectory: boolean;
}

/** The host services the engine, the GPT and the editors use. */
export interface Platform {
  /** `"deno"` or `"browser"`. */
  readonly name: string;
  /** An environment variable, or undefined (also when reading it is not permitted). */
  env(name: string): string | undefined;
  /** Prepares the host for WebGPU (a private `XDG_RUNTIME_DIR` for Mesa on headless Linux). */
  prepareWebGpu(): void;
  /** Restarts the peak resident-set counter where the host has one (Linux `clear_refs`). */
  resetPeakRss(): void;
  /** Peak resident set size since {@linkcode Platform.resetPeakRss}, else the current one; 0 if unknown. */
  peakRssBytes(): number;
  /** The working directory (relative paths resolve against it). */
  cwd(): string;
  /** A whole file. @throws An error named `NotFound` (see {@linkcode isNotFound}) when it is absent. */
  readFile(path: string | URL): Promise<Uint8Array>;
  /** A whole file as UTF-8 text. @throws An error named `NotFound` when it is absent. */
  readTextFile(path: string | URL): Promise<string>;
  /** Opens a file for reads at any offset. @throws An error named `NotFound` when it is absent. */
  openFile(path: string): Promise<RandomAccessFile>;
  /** Creates a folder and its parents (no error if it exists). */
  mkdir(path: string): Promise<void>;
  /** Removes a file, or a folder with everything in it. */
  remove(path: string): Promise<void>;
  /** The entries of a folder, in no particular order. */
  listDir(path: string): Promise<DirEntry[]>;
  /**
   * Writes a file atomically: readers see the old file or all of `data`, never a torn write.
   * Parent folders are created; an iterable that throws leaves the target unchanged.
   */
  writeFileAtomic(path: string, data: AtomicData, options?: AtomicWriteOptions): Promise<void>;
  /** Synchronous {@linkcode Platform.writeFileAtomic}. */
  writeFileAtomicSync(path: string, data: AtomicDataSync, options?: AtomicWriteOptions): void;
}

/**
 * Whether an error says a file is absent, on any platform (Deno's `NotFound`, or the browser
 * platform's answer to an HTTP 404).
 * @param error Anything caught.
 */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === "NotFound";
}

/**
 * The error of an absent file on platforms without their own (its name is `NotFound`).
 * @param path The file.
 */
export function notFoundError(path: string | URL): Error {
  const error = new Error(`No such file: "${String(path)}"`);
  error.name = "NotFound";
  return error;
}
