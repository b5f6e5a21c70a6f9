/**
 * Capped exponential backoff with jitter, per key: the delay before the next
 * attempt grows by `factor` after each failure up to `max`, and is back to
 * `min` after a success or a reset. Pure bookkeeping, no timers.
 */
export interface BackoffInit {
  /** ms before the first retry. Default 1 s */
  min?: number
  /** ms between attempts at most. Default 30 s: a member back after any outage is reached within half a minute */
  max?: number
  /** growth per failure. Default 2 */
  factor?: number
  /** +- this fraction of the delay at random, so that peers do not retry in step. Default 0.2 */
  jitter?: number
  /** random source in [0, 1), for tests */
  random?: () => number
}

export const DEFAULT_BACKOFF_MIN = 1000
export const DEFAULT_BACKOFF_MAX = 30_000
export const DEFAULT_BACKOFF_FACTOR = 2
export const DEFAULT_BACKOFF_JITTER = 0.2

export class Backoff {
  private readonly min: number
  private readonly max: number
  private readonly factor: number
  private readonly jitter: number
  private readonly random: () => number
  private readonly failures = new Map<string, number>()

  constructor (init: BackoffInit = {}) {
    this.min = init.min ?? DEFAULT_BACKOFF_MIN
    this.max = Math.max(this.min, init.max ?? DEFAULT_BACKOFF_MAX)
    this.factor = init.factor ?? DEFAULT_BACKOFF_FACTOR
    this.jitter = init.jitter ?? DEFAULT_BACKOFF_JITTER
    this.random = init.random ?? Math.random
  }

  /** An attempt failed: the delay before the next one. */
  fail (key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1
    this.failures.set(key, n)
    return this.delay(n)
  }

  /** The delay the next failure would give, without counting one. */
  peek (key: string): number {
    return this.delay((this.failures.get(key) ?? 0) + 1)
  }

  failuresOf (key: string): number {
    return this.failures.get(key) ?? 0
  }

  /** A success (or a network change): start again from `min`. */
  reset (key?: string): void {
    if (key == null) this.failures.clear()
    else this.failures.delete(key)
  }

  private delay (failures: number): number {
    const base = Math.min(this.max, this.min * Math.pow(this.factor, failures - 1))
    const spread = base * this.jitter * (this.random() * 2 - 1)
    return Math.max(0, Math.min(this.max, Math.round(base + spread)))
  }
}
