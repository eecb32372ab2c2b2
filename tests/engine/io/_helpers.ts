/**
 * Shared helpers for the io tests: hand-built safetensors files and error assertions.
 * @module
 */

import assert from "node:assert/strict";

/** Encodes a header length as the 8-byte little-endian prefix. */
export function lengthPrefix(length: number | bigint): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(length), true);
  return prefix;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Builds a file from raw header text (padded with spaces to 8 bytes) and data bytes. */
export function buildFile(headerJson: string, data: Uint8Array = new Uint8Array()): Uint8Array {
  const json = new TextEncoder().encode(headerJson);
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return concat(lengthPrefix(padded.length), padded, data);
}

/** Builds a file from a header object. */
export function buildFileFrom(header: unknown, data: Uint8Array = new Uint8Array()): Uint8Array {
  return buildFile(JSON.stringify(header), data);
}

/** Little-endian bytes of 32-bit floats. */
export function f32Bytes(...values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Asserts `fn` throws an instance of `type` whose message contains every fragment. */
export function assertThrowsWith(
  fn: () => unknown,
  type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  ...fragments: string[]
): Error {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, "expected the call to throw");
  assert.ok(
    caught instanceof type,
    `expected ${type.name} but got ${(caught as Error)?.name}: ${(caught as Error)?.message}`,
  );
  for (const fragment of fragments) {
    assert.ok(
      caught.message.includes(fragment),
      `expected message to contain ${JSON.stringify(fragment)}, got ${
        JSON.stringify(caught.message)
      }`,
    );
  }
  return caught;
}

/** Async variant of {@linkcode assertThrowsWith}. */
export async function assertRejectsWith(
  fn: () => Promise<unknown>,
  type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  ...fragments: string[]
): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, "expected the call to reject");
  assert.ok(
    caught instanceof type,
    `expected ${type.name} but got ${(caught as Error)?.name}: ${(caught as Error)?.message}`,
  );
  for (const fragment of fragments) {
    assert.ok(
      caught.message.includes(fragment),
      `expected message to contain ${JSON.stringify(fragment)}, got ${
        JSON.stringify(caught.message)
      }`,
    );
  }
  return caught;
}

/** Lists the entry names of a directory, sorted. */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}
