/**
 * Starting the web app: the bundle built, the session opened (LM, editors, journal), and
 * `Deno.serve` listening. `deno task serve`, `deno task browser-check` and the tests start it
 * the same way.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { EDITORS } from "../../malmen/workflows/editors.ts";
import { buildBundle } from "./bundle.ts";
import { handler } from "./server.ts";
import { Session } from "./session.ts";

/** Where the app's runs are and where it listens. */
export interface StartOptions {
  /** The LM run folder. */
  lmDir: string;
  /** Folders of the editors that need one (`malmen`, `mend`, `memit`); missing ones are skipped. */
  editorDirs: Record<string, string>;
  /** The journal folder (created on the first edit). */
  journalDir: string;
  /** Where the server computes. */
  backend: Backend;
  /** Interface (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** A bundle built before (else one is built into a temporary folder, removed on shutdown). */
  bundleDir?: string;
}

/** A running app. */
export interface RunningApp {
  /** Its address, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  /** The session behind it. */
  session: Session;
  /** Stops listening, waits for queued work and releases the model. */
  shutdown(): Promise<void>;
}

/**
 * Where a runs folder keeps each editor that needs a folder (`<runs>/malmen`, `<runs>/memit`, …),
 * as `deno task demo` writes them.
 * @param runs The runs folder.
 */
export function editorDirs(runs: string): Record<string, string> {
  const needing = EDITORS.filter((e) => e.needs !== "none");
  return Object.fromEntries(needing.map((e) => [e.name, `${runs}/${e.name}`]));
}

async function isFolder(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

/**
 * Builds the bundle (unless given), opens the session and serves.
 * @returns The running app.
 * @throws When the LM run cannot be loaded or the port is taken.
 */
export async function startApp(options: StartOptions): Promise<RunningApp> {
  const editorDirs: Record<string, string> = {};
  for (const [name, dir] of Object.entries(options.editorDirs)) {
    if (await isFolder(dir)) editorDirs[name] = dir;
  }
  const session = await Session.open({ ...options, editorDirs });
  let ownBundle: string | null = null;
  try {
    let bundleDir = options.bundleDir;
    if (bundleDir === undefined) {
      bundleDir = ownBundle = await Deno.makeTempDir({ prefix: "malmen-bundle-" });
      await buildBundle(bundleDir);
    }
    const server = Deno.serve({
      hostname: options.host ?? "127.0.0.1",
      port: options.port ?? 8000,
      onListen: () => {},
    }, handler({ session, bundleDir }));
    const { hostname, port } = server.addr;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return {
      url: `http://${host}:${port}/`,
      session,
      async shutdown() {
        await server.shutdown();
        await session.close();
        if (ownBundle) await Deno.remove(ownBundle, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await session.close();
    if (ownBundle) await Deno.remove(ownBundle, { recursive: true }).catch(() => {});
    throw e;
  }
}
