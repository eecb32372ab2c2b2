/**
 * Tensor engine.
 * @module
 */
/** Version. */
export const VERSION: string = "0.1.0";
