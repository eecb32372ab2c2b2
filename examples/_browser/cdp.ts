/**
 * A small Chrome DevTools Protocol client over Deno's WebSocket: one connection to the browser,
 * pages attached as flat sessions, commands answered by id, events delivered to listeners.
 * Enough to navigate, evaluate with `awaitPromise`, resize the viewport and take screenshots.
 * @module
 */

type Json = Record<string, unknown>;

/** A CDP event: its method, its parameters, and the session it belongs to (pages). */
export interface CdpEvent {
  /** E.g. `Page.loadEventFired`. */
  method: string;
  /** The event's parameters. */
  params: Json;
  /** The page session, absent for browser-wide events. */
  sessionId?: string;
}

/** One WebSocket to a browser's DevTools endpoint. */
export class CdpConnection {
  readonly #socket: WebSocket;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  readonly #listeners = new Set<(event: CdpEvent) => void>();
  #closed: Error | null = null;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (m) => this.#receive(JSON.parse(String(m.data)));
    socket.onclose = () => this.#fail(new Error("The DevTools connection closed"));
  }

  /**
   * Opens a connection.
   * @param url The browser's `webSocketDebuggerUrl`.
   */
  static connect(url: string): Promise<CdpConnection> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new CdpConnection(socket));
      socket.onerror = () => reject(new Error(`Cannot open the DevTools socket ${url}`));
    });
  }

  /**
   * Sends a command and waits for its answer.
   * @param sessionId The page session (omit for browser commands).
   * @returns The command's result.
   * @throws {Error} With the protocol's message when the command fails.
   */
  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /**
   * Listens to every event until the returned function is called.
   * @returns A function that stops listening.
   */
  listen(listener: (event: CdpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The first event that matches, within `timeoutMs`.
   * @throws {Error} Naming the event when it does not come in time.
   */
  waitFor(
    match: (event: CdpEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<CdpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`No ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.listen((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        stop();
        resolve(e);
      });
    });
  }

  /** Closes the socket; pending commands fail. */
  close(): void {
    this.#fail(new Error("The DevTools connection was closed"));
    this.#socket.close();
  }

  #receive(message: Json): void {
    if (typeof message.id === "number") {
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      const error = message.error as { message?: string; data?: string } | undefined;
      if (error) {
        waiter?.reject(new Error(`CDP: ${error.message}${error.data ? `: ${error.data}` : ""}`));
      } else waiter?.resolve((message.result ?? {}) as Json);
      return;
    }
    const event: CdpEvent = {
      method: String(message.method),
      params: (message.params ?? {}) as Json,
      sessionId: message.sessionId as string | undefined,
    };
    for (const listener of [...this.#listeners]) listener(event);
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}

/** A page (tab) attached over a flat session. */
export class CdpPage {
  /** Console errors and uncaught exceptions seen so far, newest last. */
  readonly errors: string[] = [];
  readonly #cdp: CdpConnection;
  readonly #session: string;

  private constructor(cdp: CdpConnection, session: string) {
    this.#cdp = cdp;
    this.#session = session;
    cdp.listen((e) => {
      if (e.sessionId !== session) return;
      if (e.method === "Runtime.exceptionThrown") {
        const d = e.params.exceptionDetails as {
          text?: string;
          exception?: { description?: string };
        };
        this.errors.push(d.exception?.description ?? d.text ?? "exception");
      } else if (e.method === "Runtime.consoleAPICalled" && e.params.type === "error") {
        const args = e.params.args as { value?: unknown; description?: string }[];
        this.errors.push(args.map((a) => a.description ?? String(a.value)).join(" "));
      }
    });
  }

  /**
   * Opens a new blank tab.
   * @returns The attached page, with the Page and Runtime domains enabled.
   */
  static async open(cdp: CdpConnection): Promise<CdpPage> {
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new CdpPage(cdp, String(sessionId));
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    return page;
  }

  /** Sends a command to this page. */
  send(method: string, params: Json = {}): Promise<Json> {
    return this.#cdp.send(method, params, this.#session);
  }

  /**
   * Loads `url` and waits for its load event.
   * @throws {Error} When navigation fails or the page does not load in time.
   */
  async navigate(url: string, timeoutMs = 30_000): Promise<void> {
    const loaded = this.#cdp.waitFor(
      (e) => e.sessionId === this.#session && e.method === "Page.loadEventFired",
      `load event for ${url}`,
      timeoutMs,
    );
    const { errorText } = await this.send("Page.navigate", { url });
    if (errorText) throw new Error(`Cannot load ${url}: ${errorText}`);
    await loaded;
  }

  /**
   * Evaluates an expression in the page, awaiting a promise it returns.
   * @param expression JavaScript source (a promise-returning expression is awaited).
   * @returns The value, transferred as JSON.
   * @throws {Error} With the page's exception text when it throws or rejects.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const details = r.exceptionDetails as
      | { text?: string; exception?: { description?: string } }
      | undefined;
    if (details) {
      throw new Error(`In the page: ${details.exception?.description ?? details.text}`);
    }
    return (r.result as { value: T }).value;
  }

  /**
   * Evaluates `condition` every 50 ms until it is truthy.
   * @returns Its first truthy value.
   * @throws {Error} Naming the condition after `timeoutMs`.
   */
  async waitUntil<T>(condition: string, timeoutMs = 60_000): Promise<T> {
    const end = performance.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<T>(condition);
      if (value) return value;
      if (performance.now() > end) {
        const seen = this.errors.length
          ? ` (page errors: ${this.errors.slice(-3).join(" | ")})`
          : "";
        throw new Error(`Timed out waiting for ${condition}${seen}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Emulates a viewport of `width` × `height` CSS pixels (phone widths included). */
  async setViewport(width: number, height: number): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: width < 600,
    });
  }

  /**
   * A PNG screenshot.
   * @param fullPage The whole page, not only the viewport.
   */
  async screenshot(fullPage = false): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: fullPage,
      ...(fullPage ? { clip: await this.#pageClip() } : {}),
    });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

  async #pageClip(): Promise<Json> {
    const { cssContentSize } = await this.send("Page.getLayoutMetrics");
    const { width, height } = cssContentSize as { width: number; height: number };
    return { x: 0, y: 0, width, height, scale: 1 };
  }
}
