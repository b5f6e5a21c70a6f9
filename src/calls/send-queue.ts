/**
 * Outgoing side of a call stream: two lanes (urgent control messages first,
 * then media frames and end-of-track markers in order), written into the
 * stream while it accepts data and waiting for 'drain' when it does not.
 *
 * Memory is bounded: a frame from a live source that arrives while more than
 * `maxBytes` are queued makes the queue drop its oldest live frame, video
 * before audio. Frames from sources that are not live are never dropped:
 * their readers wait on `room()` before reading more.
 */
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export const DEFAULT_MAX_QUEUED_BYTES = 512 * 1024

export interface QueuedFrame {
  bytes: Uint8ArrayList
  /** live frames may be dropped */
  droppable: boolean
  kind?: 'audio' | 'video'
  track?: number
  payloadBytes?: number
}

export interface SendQueueInit {
  maxBytes?: number
  /** a message went into the stream */
  onSent: (item: QueuedFrame) => void
  /** a queued live frame was dropped */
  onDrop: (item: QueuedFrame) => void
  /** the stream refused data (closed or reset) */
  onError: (err: Error) => void
}

export class SendQueue {
  private readonly stream: Stream
  private readonly init: SendQueueInit
  private readonly maxBytes: number
  private readonly urgent: QueuedFrame[] = []
  private ordered: QueuedFrame[] = []
  private queued = 0
  private pumping = false
  private failed = false
  private readonly abort = new AbortController()
  private waiters: Array<{ bytes: number, resolve: () => void }> = []

  constructor (stream: Stream, init: SendQueueInit) {
    this.stream = stream
    this.init = init
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_QUEUED_BYTES
  }

  get queuedBytes (): number { return this.queued }

  /** Control message (ping, pong, hangup): goes before queued media. */
  sendUrgent (bytes: Uint8ArrayList): void {
    if (this.failed) return
    this.urgent.push({ bytes, droppable: false })
    this.queued += bytes.byteLength
    this.kick()
  }

  /** Media frame or end-of-track marker: in order. */
  sendOrdered (item: QueuedFrame): void {
    if (this.failed) return
    this.ordered.push(item)
    this.queued += item.bytes.byteLength
    if (item.droppable) {
      let dropping = true
      while (dropping && this.queued > this.maxBytes) dropping = this.dropOldestLive()
    }
    this.kick()
  }

  private dropOldestLive (): boolean {
    let idx = this.ordered.findIndex(f => f.droppable && f.kind === 'video')
    if (idx < 0) idx = this.ordered.findIndex(f => f.droppable)
    if (idx < 0) return false
    const [item] = this.ordered.splice(idx, 1)
    this.queued -= item.bytes.byteLength
    this.init.onDrop(item)
    return true
  }

  /**
   * Resolves once no more than `maxBytes / 2` are queued (a reader of a
   * non-live source waits here), or the queue closed; rejects when
   * `options.signal` aborts first.
   */
  async room (options: AbortOptions = {}): Promise<void> {
    const limit = this.maxBytes / 2
    if (this.queued <= limit || this.failed) return
    await this.until(limit, options)
  }

  /** Resolves once everything queued went into the stream (or the stream failed); rejects when `options.signal` aborts first. */
  async flushed (options: AbortOptions = {}): Promise<void> {
    if (this.queued === 0 || this.failed) return
    await this.until(0, options)
  }

  private async until (bytes: number, options: AbortOptions): Promise<void> {
    const signal = options.signal
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter(w => w !== waiter)
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      }
      const waiter = {
        bytes,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Forget queued media (the call is ending); control messages stay. */
  discardMedia (): void {
    for (const f of this.ordered) this.queued -= f.bytes.byteLength
    this.ordered = []
    this.wake()
  }

  /** Stop for good: pending waiters resolve, nothing more is written. */
  close (): void {
    this.failed = true
    this.abort.abort()
    this.urgent.length = 0
    this.ordered = []
    this.queued = 0
    this.wake()
  }

  private wake (): void {
    if (this.waiters.length === 0) return
    const still: typeof this.waiters = []
    for (const w of this.waiters) {
      if (this.failed || this.queued <= w.bytes) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }

  private kick (): void {
    if (!this.pumping) void this.pump()
  }

  private async pump (): Promise<void> {
    this.pumping = true
    try {
      while (!this.failed) {
        const item = this.urgent.shift() ?? this.ordered.shift()
        if (item == null) break
        this.queued -= item.bytes.byteLength
        let more: boolean
        try {
          more = this.stream.send(item.bytes)
        } catch (err: unknown) {
          this.fail(toError(err))
          return
        }
        this.init.onSent(item)
        this.wake()
        if (!more) {
          try {
            await this.stream.onDrain({ signal: this.abort.signal })
          } catch (err: unknown) {
            if (!this.failed) this.fail(toError(err))
            return
          }
        }
      }
    } finally {
      this.pumping = false
      this.wake()
    }
  }

  private fail (err: Error): void {
    if (this.failed) return
    this.close()
    this.init.onError(err)
  }
}

function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
