/**
 * One writer per folder: a lock file created atomically with its content (the holder's process
 * id, host and start time), so a second writer fails at once with an error naming the holder. A
 * lock left by a killed process of this machine is taken over; elsewhere it must be removed by
 * hand, as the error says.
 * @module
 */
import { isAlreadyExists, platform } from "../platform/mod.ts";
import { namingFile, processAlive, writeFileAtomic } from "./atomic.ts";

/** The lock file's name inside the locked folder. */
export const LOCK_FILE = "writer.lock";

/** What a lock file records. */
export interface LockHolder {
  /** Process id of the writer. */
  pid: number;
  /** Host it runs on. */
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What the writer is doing (e.g. "training", "editing"). */
  purpose: string;
}

/** The folder is held by another writer. */
export class LockedError extends Error {
  /** The holder, when its lock file could be read. */
  readonly holder: LockHolder | null;
  /**
   * Creates the error.
   * @param message Names the folder, the holder and the way out.
   * @param holder The holder.
   */
  constructor(message: string, holder: LockHolder | null) {
    super(message);
    this.name = "LockedError";
    this.holder = holder;
  }
}

/** A held lock. */
export interface DirLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file (once; later calls do nothing). */
  release(): Promise<void>;
}

/**
 * Takes the folder's write lock, creating the folder. Fails with a {@linkcode LockedError} when
 * another live writer holds it (in this process too: the lock is not re-entrant).
 * @param dir The folder.
 * @param purpose What the writer does, shown to a second writer.
 * @returns The lock; release it when done.
 */
export async function lockDir(dir: string, purpose: string): Promise<DirLock> {
  try {
    await platform().mkdir(dir);
  } catch (e) {
    throw namingFile(e, dir, "create the folder");
  }
  const path = `${dir}/${LOCK_FILE}`;
  const me: LockHolder = {
    pid: platform().pid,
    host: platform().hostname(),
    since: new Date().toISOString(),
    purpose,
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await createWith(path, `${JSON.stringify(me)}\n`)) {
      let released = false;
      return {
        path,
        release: async () => {
          if (released) return;
          released = true;
          await platform().remove(path).catch(() => {});
        },
      };
    }
    const holder = await readHolder(path);
    const stale = holder !== null && holder.host === me.host && !processAlive(holder.pid);
    if (!stale || attempt > 0) throw lockedError(dir, path, holder);
    await platform().remove(path).catch(() => {});
  }
  throw lockedError(dir, path, await readHolder(path));
}

// Creates `path` with its full content, or returns false when it exists: an atomic write that
// never replaces (the complete temporary file is hard-linked into place), so a reader never sees
// a half-written lock.
async function createWith(path: string, text: string): Promise<boolean> {
  try {
    await writeFileAtomic(path, text, { createNew: true, fsync: false });
    return true;
  } catch (e) {
    if (isAlreadyExists(e)) return false;
    throw e;
  }
}

async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    const h = JSON.parse(await platform().readTextFile(path));
    return typeof h?.pid === "number" && typeof h?.host === "string" ? h as LockHolder : null;
  } catch {
    return null;
  }
}

function lockedError(dir: string, path: string, holder: LockHolder | null): LockedError {
  const who = holder === null
    ? "another writer"
    : `another process (pid ${holder.pid} on ${holder.host}, ${holder.purpose} since ${holder.since})`;
  return new LockedError(
    `"${dir}" is in use by ${who}: wait for it to finish, or write elsewhere. If no such ` +
      `process is running any more, remove "${path}".`,
    holder,
  );
}
