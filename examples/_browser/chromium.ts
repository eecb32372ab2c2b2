/**
 * Headless Chromium with WebGPU, driven over the DevTools protocol: found on the machine (or
 * named by `CHROMIUM`), started with a throwaway profile and `--remote-debugging-port=0`, and
 * reached through the port it writes to `DevToolsActivePort`.
 * @module
 */
import { CdpConnection, CdpPage } from "./cdp.ts";

const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/**
 * The Chromium executable: `$CHROMIUM` when set, else the first of the usual Linux paths.
 * @returns Its path, or null when none is installed.
 */
export function findChromium(): string | null {
  let named: string | undefined;
  try {
    named = Deno.env.get("CHROMIUM");
  } catch {
    named = undefined;
  }
  for (const path of named ? [named] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there; try the next.
    }
  }
  return null;
}

/** A running headless Chromium. */
export interface Chromium {
  /** The browser-wide DevTools connection. */
  cdp: CdpConnection;
  /** Opens a new tab. */
  newPage(): Promise<CdpPage>;
  /** Closes the browser, ends its process and removes its profile folder. */
  close(): Promise<void>;
}

/**
 * Dawn toggles for checks on a CPU adapter: no bounds clamping of storage accesses and no
 * zero-fill of workgroup memory. SwiftShader then compiles this engine's kernels about 3× faster
 * (the engine probe: 34 s → 10 s on the 2-core machine). Browsers as shipped do both, so a
 * kernel that relied on either would fail under these toggles, never pass wrongly.
 */
export const FAST_SHADER_FLAGS: readonly string[] = [
  "--enable-dawn-features=disable_robustness,disable_workgroup_init",
];

/**
 * Starts headless Chromium with WebGPU enabled (`--enable-unsafe-webgpu`; without a GPU it
 * gets SwiftShader). As root it needs `--no-sandbox`, which is added only then.
 * @param executable From {@linkcode findChromium}.
 * @param extraArgs More flags (e.g. {@linkcode FAST_SHADER_FLAGS}).
 * @returns The browser, connected.
 * @throws {Error} With the browser's last output when it does not start within 20 s.
 */
export async function launchChromium(
  executable: string,
  extraArgs: readonly string[] = [],
): Promise<Chromium> {
  const profile = await Deno.makeTempDir({ prefix: "malmen-chromium-" });
  const args = [
    "--headless=new",
    "--enable-unsafe-webgpu",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
    // A software adapter on a busy machine can take longer per submission than the GPU
    // watchdog allows; its restart would lose the WebGPU device mid-operation.
    "--disable-gpu-watchdog",
    ...extraArgs,
    "about:blank",
  ];
  if (Deno.uid() === 0) args.unshift("--no-sandbox");
  const child = new Deno.Command(executable, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep the last lines of its output for the error message, and drain the pipe.
  const tail: string[] = [];
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(text) {
        tail.push(...text.split("\n"));
        tail.splice(0, Math.max(0, tail.length - 20));
      },
    }),
  ).catch(() => {});
  const stop = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await drained;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  let endpoint: string | null = null;
  for (let i = 0; i < 400 && endpoint === null; i++) {
    try {
      const [port, path] = (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n");
      if (port && path) endpoint = `ws://127.0.0.1:${port}${path}`;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (endpoint === null) {
    await stop();
    throw new Error(`Chromium did not start within 20 s: ${tail.slice(-5).join(" | ")}`);
  }
  const cdp = await CdpConnection.connect(endpoint);
  return {
    cdp,
    newPage: () => CdpPage.open(cdp),
    async close() {
      await cdp.send("Browser.close").catch(() => {});
      cdp.close();
      await stop();
    },
  };
}
