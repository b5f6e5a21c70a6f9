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
  private readonly queues = new Map<string, Array<Pending<T, R>>>()
  private readonly drains = new Map<string, Promise<void>>()

  constructor (init: OutboxInit<T, R>) {
    this.flush = init.flush
    this.maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED
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
    })
  }

  /** Resolves once every item queued so far (and any queued meanwhile) is written or failed. */
  async idle (): Promise<void> {
    while (this.drains.size > 0) await Promise.all(this.drains.values())
  }

  private async drain (key: string): Promise<void> {
    // let the pushes of this turn of the event loop join the first batch
    await Promise.resolve()
    try {
      while (true) {
        const queue = this.queues.get(key) ?? []
        if (queue.length === 0) break
        const batch = queue.splice(0, this.maxBatch)
        try {
          const started = performance.now()
          const results = await this.flush(key, batch.map(b => b.item))
          this.msPerItem = (performance.now() - started) / batch.length
          batch.forEach((b, i) => { b.resolve(results[i]) })
        } catch (err) {
          for (const b of batch) b.reject(err)
        }
      }
    } finally {
      this.drains.delete(key)
      if (this.queues.get(key)?.length === 0) this.queues.delete(key)
    }
  }
}
