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
}

export const DEFAULT_MAX_BATCH = 256

interface Pending<T, R> { item: T, resolve: (r: R) => void, reject: (err: unknown) => void }

export class Outbox<T, R> {
  private readonly flush: OutboxInit<T, R>['flush']
  private readonly maxBatch: number
  private readonly queues = new Map<string, Array<Pending<T, R>>>()
  private readonly drains = new Map<string, Promise<void>>()

  constructor (init: OutboxInit<T, R>) {
    this.flush = init.flush
    this.maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH
  }

  async push (key: string, item: T): Promise<R> {
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
          const results = await this.flush(key, batch.map(b => b.item))
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
