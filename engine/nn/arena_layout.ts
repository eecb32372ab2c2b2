/**
 * Planning a parameter arena: where each parameter lives inside a few large flat buffers
 * ("segments"), 256-byte aligned, weight-decayed parameters first in every segment.
 * Pure arithmetic, no memory is touched.
 * @module
 */
import { fmtShape, type Shape, sizeOf } from "../shape.ts";

/** Elements per alignment unit: 64 float32 values = 256 bytes, the strictest storage alignment. */
export const ARENA_ALIGN: number = 64;

/** One parameter to place. */
export interface ArenaSpec {
  /** Unique name, e.g. `h.0.mlp.c_fc.weight`. */
  readonly name: string;
  /** Dimensions. */
  readonly shape: Shape;
  /** Whether AdamW applies weight decay (default: rank ≥ 2, i.e. matrices but not biases/gains). */
  readonly decay?: boolean;
}

/** Where one parameter was placed. */
export interface ArenaSlot {
  /** Parameter name. */
  readonly name: string;
  /** Dimensions. */
  readonly shape: Shape;
  /** Whether weight decay applies. */
  readonly decay: boolean;
  /** Index of its segment. */
  readonly segment: number;
  /** Element offset inside the segment (a multiple of {@linkcode ARENA_ALIGN}). */
  readonly offset: number;
  /** Number of elements. */
  readonly size: number;
}

/** One flat buffer of the arena. */
export interface SegmentPlan {
  /** Elements, a multiple of {@linkcode ARENA_ALIGN} (padding included). */
  readonly length: number;
  /** Elements `[0, decayEnd)` get weight decay; a multiple of {@linkcode ARENA_ALIGN}. */
  readonly decayEnd: number;
}

/** A complete placement. */
export interface ArenaPlan {
  /** Slots in placement order (decayed parameters first). */
  readonly slots: readonly ArenaSlot[];
  /** Segments in order. */
  readonly segments: readonly SegmentPlan[];
}

/** Rounds an element count up to the arena alignment. */
export function alignUp(n: number): number {
  return Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;
}

/**
 * Places parameters: decayed ones first (in the given order), then the rest, packed into
 * segments of at most `maxSegment` elements. A parameter never straddles two segments.
 * @param specs Parameters; names must be unique.
 * @param maxSegment Largest segment in elements (default unbounded).
 */
export function planArena(specs: readonly ArenaSpec[], maxSegment = Infinity): ArenaPlan {
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new RangeError(`Parameter "${s.name}" is listed twice`);
    seen.add(s.name);
  }
  const cap = Math.floor(maxSegment / ARENA_ALIGN) * ARENA_ALIGN;
  const decays = specs.map((s) => s.decay ?? s.shape.length >= 2);
  const order = [...specs.keys()].sort((a, b) => Number(decays[b]) - Number(decays[a]) || a - b);
  const slots: ArenaSlot[] = [];
  const segments: { length: number; decayEnd: number }[] = [];
  let current = { length: 0, decayEnd: 0 };
  for (const i of order) {
    const { name, shape } = specs[i];
    const size = sizeOf(shape);
    const padded = alignUp(size);
    if (padded > cap) {
      throw new RangeError(
        `Parameter "${name}" of shape "${fmtShape(shape)}" (${size} elements) exceeds the ` +
          `largest arena segment (${cap} elements)`,
      );
    }
    if (current.length + padded > cap) {
      segments.push(current);
      current = { length: 0, decayEnd: 0 };
    }
    slots.push({
      name,
      shape: [...shape],
      decay: decays[i],
      segment: segments.length,
      offset: current.length,
      size,
    });
    current.length += padded;
    if (decays[i]) current.decayEnd = current.length;
  }
  if (current.length > 0 || slots.length > 0) segments.push(current);
  return { slots, segments };
}
