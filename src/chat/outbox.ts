import { OverloadedError } from '../errors.js'

/**
 * Group commit, per key (a group id): items queued in the same turn of the
 * event loop, and while a batch is being written, are handed to `flush`
 * together, one batch at a time per key and in order. Each item's promise
 * settles with its batch.
 */
export interface OutboxInit<T, R> {
  /** write one batch; resolve with one result per item, in order */
  flush: (key: string, items: T[]) => Promise<R[]>
  /** items per batch at most. Default 256 */
  maxBatch?: number
  /** items waiting per key at most (the batch being written not counted); past it `push` throws OverloadedError. Default 4096 */
  maxQueued?: number
  /**
   * batches per key handed to `flush` before the earlier ones are done (the
   * next one is flushed while the last is written). Their items settle in
   * order all the same. Default 1
   */
  depth?: number
}

export const DEFAULT_MAX_BATCH = 256
export const DEFAULT_MAX_QUEUED = 4096

interface Pending<T, R> { item: T, resolve: (r: R) => void, reject: (err: unknown) => void }

export class Outbox<T, R> {
  private readonly flush: OutboxInit<T, R>['flush']
  private readonly maxBatch: number
  private readonly maxQueued: number
  /** ms the last batch took per item, for Retry-After */
  private msPerItem = 1
  private readonly depth: number
  private readonly queues = new Map<string, Array<Pending<T, R>>>()
  private readonly drains = new Map<string, Promise<void>>()
  /** per key: wakes a drain that waits with room for another batch */
  private readonly wakers = new Map<string, () => void>()

  constructor (init: OutboxInit<T, R>) {
    this.flush = init.flush
    this.maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED
    this.depth = Math.max(1, init.depth ?? 1)
  }

  /** Items waiting for a key (not the batch being written). */
  queued (key: string): number {
    return this.queues.get(key)?.length ?? 0
  }

  /** Queue an item; OverloadedError (at once, nothing queued) when `maxQueued` wait already. */
  async push (key: string, item: T): Promise<R> {
    const waiting = this.queued(key)
    if (waiting >= this.maxQueued) {
      const retryAfterMs = Math.max(100, Math.min(30_000, Math.ceil(waiting * this.msPerItem)))
      throw new OverloadedError(`${waiting} messages are waiting to be written already: try again in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs)
    }
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key) ?? []
      queue.push({ item, resolve, reject })
      this.queues.set(key, queue)
      if (!this.drains.has(key)) this.drains.set(key, this.drain(key))
      else this.wakers.get(key)?.()
    })
  }

  /** Resolves once every item queued so far (and any queued meanwhile) is written or failed. */
  async idle (): Promise<void> {
    while (this.drains.size > 0) await Promise.all(this.drains.values())
  }

  private async drain (key: string): Promise<void> {
    // let the pushes of this turn of the event loop join the first batch
    await Promise.resolve()
    const inflight = new Set<Promise<void>>()
    /** the batch flushed last: the next one settles after it */
    let previous: Promise<void> = Promise.resolve()
    /** wakes the loop below when it waits: a batch ended, or an item came while there is room */
    let notify: (() => void) | undefined
    this.wakers.set(key, () => { if (inflight.size < this.depth) notify?.() })
    try {
      while (true) {
        const queue = this.queues.get(key) ?? []
        if (queue.length === 0 || inflight.size >= this.depth) {
          if (inflight.size === 0) break
          await new Promise<void>(resolve => { notify = resolve })
          notify = undefined
          continue
        }
        const batch = queue.splice(0, this.maxBatch)
        const run = this.run(key, batch, previous)
        previous = run
        inflight.add(run)
        void run.then(() => { inflight.delete(run); notify?.() })
      }
    } finally {
      this.wakers.delete(key)
      this.drains.delete(key)
      if (this.queues.get(key)?.length === 0) this.queues.delete(key)
    }
  }

  /** Flush one batch now; settle its items once the batch before it has settled. Never rejects. */
  private async run (key: string, batch: Array<Pending<T, R>>, before: Promise<void>): Promise<void> {
    const started = performance.now()
    let results: R[] | undefined
    let failure: unknown
    try {
      results = await this.flush(key, batch.map(b => b.item))
      this.msPerItem = (performance.now() - started) / batch.length
    } catch (err) {
      failure = err
    }
    await before
    if (results == null) for (const b of batch) b.reject(failure)
    else batch.forEach((b, i) => { b.resolve(results[i]) })
  }
}
