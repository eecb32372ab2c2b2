/**
 * The web app's HTTP routes over a {@linkcode Session}: the page and its bundle, the run files a
 * tab loads (read-only, only inside the LM, editor and journal folders), and the JSON API. Bad
 * input is answered with status 400 and `{ "error": message }`, the message the CLI would print;
 * a journal that another writer (`deno task edit`) holds at that moment, with 409.
 * @module
 */
import { LockedError } from "../../engine/io/lock.ts";
import { NonFiniteError } from "../../engine/nn/finite.ts";
import { ProvenanceError } from "../../malmen/lm/identity.ts";
import type { Session } from "./session.ts";
import type { EditBody } from "./protocol.ts";

const PAGE = new URL("./page/", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  png: "image/png",
};
// A path segment of a run file: no empty, hidden or parent segments.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** What the handler serves. */
export interface HandlerOptions {
  /** The model, editors and journal. */
  session: Session;
  /** The folder of the built page bundle (`bundle.ts`). */
  bundleDir: string;
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": TYPES.json, "cache-control": "no-store" },
  });
}

async function file(path: string | URL, name: string, download?: string): Promise<Response> {
  let body: Uint8Array;
  try {
    body = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      return json({ error: `Not found: ${name}` }, 404);
    }
    throw e;
  }
  const headers: Record<string, string> = {
    "content-type": TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream",
    "cache-control": "no-store",
  };
  if (download) headers["content-disposition"] = `attachment; filename="${download}"`;
  return new Response(body as Uint8Array<ArrayBuffer>, { headers });
}

// A file under one of the served folders, or null when the path leaves it.
function under(dir: string, parts: string[]): string | null {
  return parts.length > 0 && parts.every((p) => SEGMENT.test(p))
    ? `${dir}/${parts.join("/")}`
    : null;
}

async function readBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw new TypeError("The request body is not valid JSON");
  }
}

// The edit's progress as JSON lines, ending with the entry or the error. Bad records and
// editors throw before the stream starts (status 400); a client that leaves does not stop the
// edit.
function editStream(session: Session, body: EditBody): Response {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const send = (line: unknown) => {
    try {
      controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
    } catch {
      // The client went away.
    }
  };
  session.edit(body, send)
    .catch((e: Error) => send({ error: e.message }))
    .finally(() => {
      try {
        controller.close();
      } catch {
        // Already cancelled.
      }
    });
  return new Response(stream, {
    headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
  });
}

async function api(session: Session, request: Request, parts: string[]): Promise<Response> {
  const method = request.method;
  const route = `${method} ${parts.join("/")}`;
  if (route === "GET info") return json(await session.info());
  if (route === "POST ask") {
    const { prompt, tokens } = (await readBody(request)) as { prompt?: unknown; tokens?: unknown };
    if (typeof prompt !== "string") throw new TypeError(`Field "prompt" must be a string`);
    if (tokens !== undefined && typeof tokens !== "number") {
      throw new TypeError(`Field "tokens" must be a number`);
    }
    return json({ answer: await session.ask(prompt, tokens) });
  }
  if (route === "POST edit") {
    return editStream(session, (await readBody(request)) as EditBody);
  }
  if (route === "GET journal") return json(await session.journal());
  if (route === "POST journal") {
    return json(await session.addTabEdit(new Uint8Array(await request.arrayBuffer())));
  }
  const [, id, action] = parts;
  if (parts[0] === "journal" && parts.length === 3 && method === "POST") {
    if (action === "revert") return json(await session.setApplied(id, false));
    if (action === "apply") return json(await session.setApplied(id, true));
  }
  if (parts[0] === "journal" && action === "download" && method === "GET") {
    return await file(await session.store.entryPath(id), "entry", `journal-${id}.safetensors`);
  }
  return json({ error: `No route ${method} /api/${parts.join("/")}` }, 404);
}

// Bad input (records, fields, ids, shapes, a tab's NaN shifts or other LM) is the client's; a
// journal held by another writer is a conflict to retry; anything else is ours.
function statusOf(e: unknown): number {
  if (e instanceof LockedError) return 409;
  const bad = [TypeError, RangeError, NonFiniteError, ProvenanceError];
  return bad.some((C) => e instanceof C) ? 400 : 500;
}

/**
 * The request handler.
 * @returns A function for `Deno.serve`.
 */
export function handler(options: HandlerOptions): (request: Request) => Promise<Response> {
  const { session, bundleDir } = options;
  const { lmDir, editorDirs } = session.options;
  return async (request) => {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    try {
      if (parts[0] === "api") return await api(session, request, parts.slice(1));
      if (request.method !== "GET") return json({ error: "Method not allowed" }, 405);
      if (url.pathname === "/") return await file(new URL("index.html", PAGE), "index.html");
      if (url.pathname === "/style.css") return await file(new URL("style.css", PAGE), "style.css");
      const [top, name, ...rest] = parts;
      let path: string | null = null;
      if (top === "bundle") path = under(bundleDir, parts.slice(1));
      else if (top === "files" && name === "lm") path = under(lmDir, rest);
      else if (top === "files" && name === "editors" && editorDirs[rest[0]] !== undefined) {
        path = under(editorDirs[rest[0]], rest.slice(1));
      } else if (top === "files" && name === "journal" && rest.length === 1) {
        path = await session.store.entryPath(rest[0].replace(/\.safetensors$/, ""));
      }
      if (path === null) return json({ error: `Not found: ${url.pathname}` }, 404);
      return await file(path, parts.at(-1)!);
    } catch (e) {
      return json({ error: (e as Error).message }, statusOf(e));
    }
  };
}
