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
  /**
   * Never replace an existing target: the complete file is hard-linked into place instead of
   * renamed, and an existing target fails with an error named `AlreadyExists` (see
   * {@linkcode isAlreadyExists}; default false). For append-only logs. Symlinks are not followed
   * then.
   */
  createNew?: boolean;
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
  /** True for a plain file (false for folders and symlinks). */
  isFile: boolean;
}

/** What {@linkcode Platform.stat} tells of a path (symlinks followed). */
export interface FileInfo {
  /** True for a plain file. */
  isFile: boolean;
  /** True for a folder. */
  isDirectory: boolean;
  /** Size in bytes. */
  size: number;
}

/** A file opened for sequential writes (a download's partial file). */
export interface WritableFile extends Disposable {
  /** Writes all of `bytes` at the end of what was written so far. */
  write(bytes: Uint8Array): Promise<void>;
}

/** The host services the engine, the GPT and the editors use. */
export interface Platform {
  /** `"deno"` or `"browser"`. */
  readonly name: string;
  /** This process's id (0 in a browser tab); temporary file names carry it. */
  readonly pid: number;
  /** This machine's name (a lock names its holder's). */
  hostname(): string;
  /** An environment variable, or undefined (also when reading it is not permitted). */
  env(name: string): string | undefined;
  /** Prepares the host for WebGPU (a private `XDG_RUNTIME_DIR` for Mesa on headless Linux). */
  prepareWebGpu(): void;
  /** Restarts the peak resident-set counter where the host has one (Linux `clear_refs`). */
  resetPeakRss(): void;
  /** Peak resident set size since {@linkcode Platform.resetPeakRss}, else the current one; 0 if unknown. */
  peakRssBytes(): number;
  /**
   * Whether a process of this machine is alive. Known only where `/proc` exists (Linux);
   * elsewhere every process counts as alive, so nothing of a live writer is ever removed.
   */
  processAlive(pid: number): boolean;
  /** The working directory (relative paths resolve against it). */
  cwd(): string;
  /** A whole file. @throws An error named `NotFound` (see {@linkcode isNotFound}) when it is absent. */
  readFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>>;
  /** A whole file as UTF-8 text. @throws An error named `NotFound` when it is absent. */
  readTextFile(path: string | URL): Promise<string>;
  /** Opens a file for reads at any offset. @throws An error named `NotFound` when it is absent. */
  openFile(path: string): Promise<RandomAccessFile>;
  /** Size and kind of a path. @throws An error named `NotFound` when it is absent. */
  stat(path: string): Promise<FileInfo>;
  /**
   * Opens a file for writing, created if missing.
   * @param append Keep what the file holds and write after it (else it is truncated).
   */
  openWrite(path: string, append: boolean): Promise<WritableFile>;
  /** Renames a file (within one file system: atomic), replacing the target. */
  rename(from: string, to: string): Promise<void>;
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
  /**
   * The same error with the file named, when it is an error of the operating system (whose
   * messages, e.g. "No space left on device (os error 28)", do not say which file); other errors
   * come back as they are.
   * @param verb What was being done (e.g. "write", "read", "create the folder").
   */
  namingFile(error: unknown, path: string, verb: string): unknown;
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
 * Whether an error says a path exists that must not (an atomic write with `createNew`).
 * @param error Anything caught.
 */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof Error && error.name === "AlreadyExists";
}

/**
 * Whether an error says a path's parent is a file, not a folder.
 * @param error Anything caught.
 */
export function isNotADirectory(error: unknown): boolean {
  return error instanceof Error && error.name === "NotADirectory";
}

/**
 * The error of an absent file on platforms without their own (its name is `NotFound`).
 * @param path The file.
 * @param message The message (default: `No such file: "<path>"`).
 */
export function notFoundError(
  path: string | URL,
  message = `No such file: "${String(path)}"`,
): Error {
  const error = new Error(message);
  error.name = "NotFound";
  return error;
}
