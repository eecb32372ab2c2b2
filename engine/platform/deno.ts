/**
 * The Deno implementation of the platform: `Deno.*` file APIs, the environment, Linux's
 * `/proc` memory figures and the XDG work-around for Mesa's WebGPU on headless machines.
 * @module
 */
import { namingFileDeno, writeFileAtomicDeno, writeFileAtomicSyncDeno } from "./deno_atomic.ts";
import type { DirEntry, FileInfo, Platform, RandomAccessFile, WritableFile } from "./types.ts";

// Deno.readFile is several times slower on large files than reading into one pre-sized buffer.
const READ_CHUNK = 16 * 1024 * 1024;

async function readWhole(path: string | URL): Promise<Uint8Array<ArrayBuffer>> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const read = await file.read(bytes.subarray(filled, Math.min(size, filled + READ_CHUNK)));
    if (read === null) break; // The file shrank; decoding reports what is missing.
    filled += read;
  }
  return filled === size ? bytes : bytes.subarray(0, filled);
}

async function openFile(path: string): Promise<RandomAccessFile> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  return {
    size,
    async read(offset: number, buffer: Uint8Array): Promise<number> {
      await file.seek(offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < buffer.length) {
        const read = await file.read(buffer.subarray(filled));
        if (read === null) break;
        filled += read;
      }
      return filled;
    },
    [Symbol.dispose]: () => file.close(),
  };
}

async function openWrite(path: string, append: boolean): Promise<WritableFile> {
  const file = await Deno.open(path, { write: true, create: true, append, truncate: !append });
  return {
    async write(bytes: Uint8Array): Promise<void> {
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
    },
    [Symbol.dispose]: () => file.close(),
  };
}

function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return true; // No /proc: cannot tell, so alive.
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The platform of a Deno process. */
export const denoPlatform: Platform = {
  name: "deno",
  // A getter: this module is also part of the browser bundle, where `Deno` does not exist.
  get pid(): number {
    return Deno.pid;
  },
  processAlive,
  hostname: () => Deno.hostname(),
  env(name: string): string | undefined {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // No env permission.
    }
  },
  // Mesa prints "XDG_RUNTIME_DIR is invalid" on headless machines; a private temp dir silences it.
  prepareWebGpu(): void {
    try {
      if (Deno.env.get("XDG_RUNTIME_DIR")) return;
      const dir = Deno.makeTempDirSync({ prefix: "xdg-" });
      Deno.chmodSync(dir, 0o700);
      Deno.env.set("XDG_RUNTIME_DIR", dir);
    } catch {
      // Without env or write permission the warning is harmless.
    }
  },
  resetPeakRss(): void {
    try {
      // Writing 5 to clear_refs resets VmHWM, the kernel's exact peak-RSS counter.
      Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    } catch {
      // Not Linux, or not permitted: peakRssBytes() then reports the lifetime peak.
    }
  },
  peakRssBytes(): number {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
      if (m) return Number(m[1]) * 1024;
    } catch {
      // Fall through.
    }
    return Deno.memoryUsage().rss;
  },
  cwd: () => Deno.cwd(),
  readFile: readWhole,
  readTextFile: (path) => Deno.readTextFile(path),
  openFile,
  async stat(path: string): Promise<FileInfo> {
    const info = await Deno.stat(path);
    return { isFile: info.isFile, isDirectory: info.isDirectory, size: info.size };
  },
  openWrite,
  rename: (from, to) => Deno.rename(from, to),
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  remove: (path) => Deno.remove(path, { recursive: true }),
  async listDir(path: string): Promise<DirEntry[]> {
    const entries: DirEntry[] = [];
    for await (const e of Deno.readDir(path)) {
      entries.push({ name: e.name, isDirectory: e.isDirectory, isFile: e.isFile });
    }
    return entries;
  },
  writeFileAtomic: writeFileAtomicDeno,
  writeFileAtomicSync: writeFileAtomicSyncDeno,
  namingFile: namingFileDeno,
};
