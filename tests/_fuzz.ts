// Fuzzing parsers: seeded random mutations of valid inputs, run in a worker so that a hang is
// caught by a time limit instead of stopping the suite. A parser passes when every mutated input
// ends in a result or a clear error: a TypeError or RangeError whose message starts with the
// input's name. Anything else (another error, a crash message without the file) is a failure,
// reported with its seed and iteration so it can be replayed.

/** Which parser a fuzz run exercises (see `_fuzz_worker.ts`). */
export type FuzzTarget = "edit-records" | "safetensors";

/** A fuzz run. */
export interface FuzzJob {
  /** The parser. */
  target: FuzzTarget;
  /** Seed of the mutations. */
  seed: number;
  /** Mutated inputs to try. */
  iterations: number;
}

/** What a fuzz run found. */
export interface FuzzResult {
  /** Inputs parsed without error. */
  parsed: number;
  /** Inputs refused with a clear error. */
  refused: number;
  /** Inputs that ended otherwise: iteration, error, and the start of the input. */
  failures: { iteration: number; error: string; input: string }[];
}

/** mulberry32: a small seeded generator, enough for mutations. */
export function fuzzRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Bytes that steer JSON and binary headers into their edge cases.
const INTERESTING = [...'"{}[],:\\0-e. \n', "\u0000", "\u00ff"].map((c) => c.charCodeAt(0) & 255);
const NUMBERS = [
  "-1",
  "0",
  "1e309",
  "9007199254740993",
  "1.5",
  "-0",
  "4294967296",
  "NaN",
  "[]",
  '""',
  "null",
];

/**
 * Applies 1–4 random mutations: bit flips, random or interesting bytes, deletions, insertions,
 * duplications, truncation, and (for text) a number or literal swapped for an edge value.
 * @param input A valid input.
 * @param random The generator.
 */
export function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let b = input.slice();
  const int = (n: number) => Math.floor(random() * n);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(Math.max(1, b.length));
    switch (int(8)) {
      case 0:
        if (b.length > 0) b[at] ^= 1 << int(8);
        break;
      case 1:
        if (b.length > 0) b[at] = int(256);
        break;
      case 2:
        if (b.length > 0) b[at] = INTERESTING[int(INTERESTING.length)];
        break;
      case 3: {
        const n = 1 + int(16);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 4: {
        const extra = Array.from({ length: 1 + int(16) }, () => int(256));
        b = Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
        break;
      }
      case 5: {
        const piece = b.subarray(at, at + 1 + int(32));
        b = Uint8Array.from([...b.subarray(0, at), ...piece, ...b.subarray(at)]);
        break;
      }
      case 6:
        b = b.subarray(0, at).slice();
        break;
      default: {
        // Swap one digit run for an edge value (text formats and JSON headers).
        const text = new TextDecoder("latin1").decode(b);
        const runs = [...text.matchAll(/-?\d+(\.\d+)?|true|false|null/g)];
        if (runs.length === 0) break;
        const m = runs[int(runs.length)];
        const swapped = text.slice(0, m.index) + NUMBERS[int(NUMBERS.length)] +
          text.slice(m.index! + m[0].length);
        b = Uint8Array.from(swapped, (c) => c.charCodeAt(0) & 255);
      }
    }
  }
  return b;
}

/**
 * Runs a fuzz job in a worker.
 * @param job Parser, seed and count.
 * @param seconds Time limit: past it the worker is stopped and the run fails as a hang.
 */
export async function fuzzInWorker(job: FuzzJob, seconds: number): Promise<FuzzResult> {
  const worker = new Worker(new URL("./_fuzz_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<FuzzResult>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`fuzzing ${job.target} took over ${seconds} s: a hang`)),
        seconds * 1000,
      );
      worker.onmessage = (e: MessageEvent<FuzzResult>) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`the fuzz worker crashed: ${e.message}`));
      };
      worker.postMessage(job);
    });
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
}
