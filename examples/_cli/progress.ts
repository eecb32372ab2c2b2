/**
 * A progress bar for long work: redraws one line on a terminal, prints plain lines every few
 * percent when piped (logs stay readable in CI).
 * @module
 */

/** Progress bar options. */
export interface ProgressOptions {
  /** Label shown before the bar. */
  label: string;
  /** Total units of work. */
  total: number;
  /** Output stream (default stderr). */
  stream?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /** Width of the bar in characters (terminal mode). */
  width?: number;
  /** Plain mode: print a line every this many percent (default 10). */
  everyPercent?: number;
  /** Unit shown after the counts, e.g. "s" for a time budget (default none). */
  unit?: string;
  /** Plain mode: also print a line when this many seconds passed since the last (default 15). */
  everySeconds?: number;
}

const encoder = new TextEncoder();

/** A progress bar. */
export class Progress {
  #o: Required<ProgressOptions>;
  #done = 0;
  #start = performance.now();
  #lastLine = -1;
  #lastTime = 0;
  #tty: boolean;
  #info = "";

  /**
   * Starts a bar.
   * @param options Label, total and output.
   */
  constructor(options: ProgressOptions) {
    this.#o = {
      stream: Deno.stderr,
      width: 28,
      everyPercent: 10,
      everySeconds: 15,
      unit: "",
      ...options,
    };
    this.#tty = this.#o.stream.isTerminal();
  }

  /**
   * Advances to `done` units and redraws.
   * @param done Units completed so far.
   * @param info Extra text (e.g. the latest loss).
   */
  update(done: number, info?: string): void {
    this.#done = Math.min(done, this.#o.total);
    if (info !== undefined) this.#info = info;
    const frac = this.#o.total > 0 ? this.#done / this.#o.total : 1;
    if (this.#tty) {
      this.#write(`\r\x1b[2K${this.#line(frac)}`);
    } else {
      const bucket = Math.floor((frac * 100) / this.#o.everyPercent);
      const now = performance.now();
      if (bucket !== this.#lastLine || now - this.#lastTime > this.#o.everySeconds * 1000) {
        this.#lastLine = bucket;
        this.#lastTime = now;
        this.#write(`${this.#line(frac)}\n`);
      }
    }
  }

  /**
   * Changes the total (when it becomes known after the start).
   * @param total Units of work.
   */
  setTotal(total: number): void {
    this.#o.total = total;
  }

  /**
   * Sets the info text without advancing.
   */
  note(info: string): void {
    this.update(this.#done, info);
  }

  /**
   * Completes the bar and ends its line.
   * @param info Final text.
   */
  finish(info?: string): void {
    this.update(this.#o.total, info);
    if (this.#tty) this.#write("\n");
  }

  #line(frac: number): string {
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = frac > 0 && frac < 1 ? elapsed * (1 - frac) / frac : 0;
    const filled = Math.round(frac * this.#o.width);
    const bar = this.#tty ? `[${"#".repeat(filled)}${"-".repeat(this.#o.width - filled)}] ` : "";
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    const time = `${fmtTime(elapsed)}${eta > 0 ? ` eta ${fmtTime(eta)}` : ""}`;
    const unit = this.#o.unit ? ` ${this.#o.unit}` : "";
    return `${this.#o.label} ${bar}${pct} ${
      Math.round(this.#done)
    }/${this.#o.total}${unit} ${time}${this.#info ? ` ${this.#info}` : ""}`;
  }

  #write(s: string): void {
    this.#o.stream.writeSync(encoder.encode(s));
  }
}

/**
 * A bar over a time budget: training stops on its target or its time limit, so seconds (not
 * steps) give a useful ETA.
 * @param label Label shown before the bar.
 * @param seconds The budget.
 * @returns `update(info)` redraws at the elapsed time; `finish(info)` ends the line.
 */
export function budgetBar(
  label: string,
  seconds: number,
): { update(info: string): void; finish(info: string): void } {
  const bar = new Progress({ label, total: Math.round(seconds), unit: "s" });
  const start = performance.now();
  return {
    update: (info) => bar.update((performance.now() - start) / 1000, info),
    finish: (info) => bar.finish(info),
  };
}

/**
 * Formats seconds as `1m05s` or `12.3s`.
 * @param seconds Duration.
 */
export function fmtTime(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.floor(seconds - m * 60)).padStart(2, "0")}s`;
}

/**
 * A language-model training step in words: `step N[ epoch E][ loss L][ acc A]`. The loss is
 * shown once one has been read back (it is NaN before the first readback), the accuracy once
 * one has been measured.
 * @param i The step's progress.
 * @param epoch Also show the (1-based) epoch.
 */
export function lmStepText(
  i: { step: number; epoch: number; loss: number; accuracy: number },
  epoch = false,
): string {
  return `step ${i.step}${epoch ? ` epoch ${i.epoch + 1}` : ""}${
    Number.isFinite(i.loss) ? ` loss ${i.loss.toFixed(3)}` : ""
  }${Number.isFinite(i.accuracy) ? ` acc ${(100 * i.accuracy).toFixed(1)}%` : ""}`;
}
