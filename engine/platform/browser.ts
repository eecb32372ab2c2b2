/**
 * The browser implementation of the platform: files are read over `fetch`, relative to a base
 * URL (a run folder `lm` becomes `<base>lm/…`), and nothing can be written. There is no
 * environment, no process memory figure (Chromium's JS heap size stands in when it exposes one)
 * and nothing to prepare for WebGPU.
 * @module
 */
import { notFoundError, type Platform, type RandomAccessFile } from "./types.ts";

async function fetchBytes(url: URL, path: string | URL): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(url);
  if (response.status === 404) {
    await response.body?.cancel();
    throw notFoundError(path);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot read "${String(path)}": HTTP ${response.status} from ${url.href}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

function readOnly(what: string, path: string): never {
  throw new Error(`Cannot ${what} "${path}": files cannot be written from a browser tab`);
}

/**
 * The platform of a browser tab.
 * @param base Where relative paths resolve (e.g. `https://host/files/`); it should end in `/`.
 * @returns A platform that reads files over `fetch` and refuses writes.
 */
export function browserPlatform(base: string | URL): Platform {
  const resolve = (path: string | URL): URL => new URL(path, base);
  const readFile = (path: string | URL): Promise<Uint8Array<ArrayBuffer>> =>
    fetchBytes(resolve(path), path);
  return {
    name: "browser",
    pid: 0,
    hostname: () => globalThis.location?.hostname ?? "browser",
    // Nothing of another process can be seen (nor removed) from a tab.
    processAlive: () => true,
    env: () => undefined,
    prepareWebGpu: () => {},
    resetPeakRss: () => {},
    peakRssBytes(): number {
      const memory = (performance as { memory?: { usedJSHeapSize?: number } }).memory;
      return memory?.usedJSHeapSize ?? 0;
    },
    cwd: () => resolve(".").pathname,
    readFile,
    readTextFile: async (path) => new TextDecoder().decode(await readFile(path)),
    // Checkpoints are small enough to fetch whole; reads at offsets then come from memory.
    async openFile(path: string): Promise<RandomAccessFile> {
      const bytes = await readFile(path);
      return {
        size: bytes.length,
        read(offset: number, buffer: Uint8Array): Promise<number> {
          const part = bytes.subarray(Math.min(offset, bytes.length), offset + buffer.length);
          buffer.set(part);
          return Promise.resolve(part.length);
        },
        [Symbol.dispose]: () => {},
      };
    },
    stat: (path) => Promise.reject(new Error(`Cannot inspect "${path}" from a browser tab`)),
    openWrite: (path) => Promise.resolve().then(() => readOnly("write", path)),
    rename: (from) => Promise.resolve().then(() => readOnly("rename", from)),
    mkdir: (path) => Promise.reject(new Error(`Cannot create "${path}" from a browser tab`)),
    remove: (path) => Promise.reject(new Error(`Cannot remove "${path}" from a browser tab`)),
    listDir: (path) => Promise.reject(new Error(`Cannot list "${path}" from a browser tab`)),
    writeFileAtomic: (path) => Promise.resolve().then(() => readOnly("write", path)),
    writeFileAtomicSync: (path) => readOnly("write", path),
    // The tab's own errors (HTTP statuses, refusals) name their file already.
    namingFile: (error) => error,
  };
}
