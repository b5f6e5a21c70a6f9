/**
 * Receiver-side jitter buffer for one track: orders frames by sequence
 * number, holds each until its playout time (capture time on the sender's
 * clock + the transit of the first frame + a fixed delay), skips gaps that
 * can no longer fill, and never holds more than `capacity` frames. Pure: the
 * caller passes the clock.
 */

export interface BufferedFrame {
  seq: number
  /** sender's clock at capture, ms */
  captureMs: number
  /** local clock at arrival, ms */
  arrivalMs: number
  payload: Uint8Array
}

export interface JitterBufferInit {
  /** most frames held; beyond it the oldest is dropped. Default 512 */
  capacity?: number
  /**
   * Playout delay, ms. 0 (lossless outputs) releases every frame as soon as
   * it is next in sequence and treats a gap as final: on an ordered stream a
   * missing sequence number never arrives later.
   */
  delayMs?: number
}

export const DEFAULT_JITTER_CAPACITY = 512

export type PushResult = 'queued' | 'late' | 'duplicate'

export class JitterBuffer {
  private readonly frames: BufferedFrame[] = []
  private readonly capacity: number
  readonly delayMs: number
  /** next sequence number to release */
  private next = -1
  /** arrival − capture of the first frame: maps capture times to local playout times */
  private transit?: number
  private heldBytes = 0
  /** frames that never arrived (sequence gaps skipped) */
  lost = 0
  /** frames that arrived after their sequence number was released or skipped */
  late = 0
  duplicates = 0
  /** frames removed by `dropOldest` or by the capacity bound */
  dropped = 0

  constructor (init: JitterBufferInit = {}) {
    this.capacity = Math.max(1, init.capacity ?? DEFAULT_JITTER_CAPACITY)
    this.delayMs = Math.max(0, init.delayMs ?? 0)
  }

  get length (): number { return this.frames.length }

  get bytes (): number { return this.heldBytes }

  /** The next sequence number this buffer will release. */
  get nextSeq (): number { return Math.max(0, this.next) }

  push (frame: BufferedFrame): PushResult {
    if (this.next < 0) {
      this.next = frame.seq
      this.transit = frame.arrivalMs - frame.captureMs
    }
    if (frame.seq < this.next) {
      this.late++
      return 'late'
    }
    // insert in order; in-order arrival (the common case) appends
    let i = this.frames.length
    while (i > 0 && this.frames[i - 1].seq > frame.seq) i--
    if (i > 0 && this.frames[i - 1].seq === frame.seq) {
      this.duplicates++
      return 'duplicate'
    }
    this.frames.splice(i, 0, frame)
    this.heldBytes += frame.payload.byteLength
    while (this.frames.length > this.capacity) this.dropOldest()
    return 'queued'
  }

  /** Local time at which a frame is due for playout. */
  private dueAt (f: BufferedFrame): number {
    if (this.delayMs === 0) return -Infinity
    return f.captureMs + (this.transit ?? 0) + this.delayMs
  }

  /** The next frame due at `now`, in sequence order, skipping gaps whose successor is due. */
  shift (now: number): BufferedFrame | undefined {
    const head = this.frames[0]
    if (head == null || this.dueAt(head) > now) return undefined
    if (head.seq > this.next) {
      // the frames before head did not come in time: give up on them
      this.lost += head.seq - this.next
    }
    this.frames.shift()
    this.heldBytes -= head.payload.byteLength
    this.next = head.seq + 1
    return head
  }

  /** ms until the head frame is due (0 when due now), undefined when empty. */
  dueIn (now: number): number | undefined {
    const head = this.frames[0]
    if (head == null) return undefined
    return Math.max(0, this.dueAt(head) - now)
  }

  /** Drop the oldest held frame (receiver overload); it counts as dropped, not lost. */
  dropOldest (): BufferedFrame | undefined {
    const head = this.frames.shift()
    if (head == null) return undefined
    this.heldBytes -= head.payload.byteLength
    if (head.seq > this.next && this.next >= 0) this.lost += head.seq - this.next
    this.next = head.seq + 1
    this.dropped++
    return head
  }

  /** Release everything still held, in order, regardless of playout time. */
  * flush (): Generator<BufferedFrame> {
    while (this.frames.length > 0) {
      const f = this.shift(Infinity)
      if (f != null) yield f
    }
  }

  /**
   * The sender says it captured `total` frames on this track: count the ones
   * that never arrived after the last one released.
   */
  finish (total: number): void {
    const expectedNext = this.next < 0 ? 0 : this.next
    if (this.frames.length === 0 && total > expectedNext) this.lost += total - expectedNext
    if (this.next < 0 && total > 0) this.next = total
    else this.next = Math.max(this.next, total)
  }
}
