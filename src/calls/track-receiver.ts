/**
 * Receiving side of one remote track: frames in, through a jitter buffer
 * (reordering and playout delay for live sinks, plain order for lossless
 * ones), out to the sink, honouring the sink's own backpressure (a write that
 * returns a promise holds the next one). The sender's end-of-track marker
 * ends the sink once everything before it was written.
 */
import { logger } from '@libp2p/logger'
import { MediaError } from '../errors.js'
import { JitterBuffer } from './jitter-buffer.js'
import { nowMs } from './protocol.js'
import type { BufferedFrame } from './jitter-buffer.js'
import type { MediaSink } from './media/index.js'
import type { TrackFormat } from './protocol.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('p2p-chat:calls:receiver')

export interface TrackReceiverInit {
  format: TrackFormat
  /** undefined: the track is counted and discarded */
  sink?: MediaSink
  /** playout delay for a live sink, ms */
  playoutDelay: number
  /** the sink failed: the call ends with 'media-error' */
  onError: (err: Error) => void
  /** frames were written or the sink finished: the call re-checks its budget and whether it is done */
  onProgress: () => void
}

/** The error of anything thrown. */
function toError (err: unknown): Error {
  return err instanceof Error ? err : new MediaError(String(err))
}

export class TrackReceiver {
  readonly format: TrackFormat
  readonly jb: JitterBuffer
  /** a live sink drops late frames; a lossless one pauses the stream instead */
  readonly live: boolean
  private readonly init: TrackReceiverInit
  /** the sink write under way (the next waits for it) */
  private writing?: Promise<void>
  private timer?: ReturnType<typeof setTimeout>
  /** frames the sender says it sent, once its end-of-track arrived */
  private total?: number
  private finishing?: Promise<void>
  private closed = false
  /** everything was written and the sink ended */
  finished = false

  constructor (init: TrackReceiverInit) {
    this.init = init
    this.format = init.format
    this.live = init.sink?.live === true
    this.jb = this.live
      ? new JitterBuffer({ delayMs: init.playoutDelay })
      : new JitterBuffer({ delayMs: 0, capacity: Number.MAX_SAFE_INTEGER })
  }

  /** the sender's end-of-track arrived */
  get ended (): boolean { return this.total != null }

  push (frame: BufferedFrame): void {
    this.jb.push(frame)
    this.pump()
  }

  endOfTrack (total: number): void {
    this.total = total
    this.pump()
  }

  /** Write what is due; come back when the next frame is due or the sink took the last one. */
  pump (): void {
    if (this.writing != null || this.closed) return
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
    const sink = this.init.sink
    const now = nowMs()
    let f: BufferedFrame | undefined
    while ((f = this.jb.shift(now)) != null) {
      if (sink == null) continue
      let r: void | Promise<void>
      try {
        r = sink.write(f.payload, this.info(f))
      } catch (err: unknown) {
        this.init.onError(toError(err))
        return
      }
      if (r != null) {
        this.writing = r.then(() => {
          this.writing = undefined
          this.pump()
        }, (err: unknown) => {
          this.writing = undefined
          this.init.onError(toError(err))
        })
        this.init.onProgress()
        return
      }
    }
    const due = this.jb.dueIn(now)
    if (due != null) {
      this.timer = setTimeout(() => { this.timer = undefined; this.pump() }, Math.max(1, due))
    } else if (this.total != null && this.finishing == null) {
      this.jb.finish(this.total)
      this.finishing = Promise.resolve(sink?.end()).then(() => {
        this.finished = true
        this.init.onProgress()
      }, (err: unknown) => { this.init.onError(toError(err)) })
    }
    this.init.onProgress()
  }

  /**
   * The call is over: write out what a lossless sink still holds and end it
   * (within `options.signal`, else the sink is closed); close a live sink.
   */
  async finalize (options: AbortOptions = {}): Promise<void> {
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
    this.closed = true
    const sink = this.init.sink
    if (this.finished || sink == null) return
    if (this.live) {
      sink.close()
      return
    }
    const writing = this.writing
    const work = this.finishing ?? (async () => {
      // after the write under way, so that the sink sees every frame in order
      await writing
      for (const f of this.jb.flush()) await sink.write(f.payload, this.info(f))
      await sink.end()
    })()
    const signal = options.signal
    let onAbort: (() => void) | undefined
    try {
      await Promise.race([work, new Promise<never>((_resolve, reject) => {
        onAbort = () => { reject(new MediaError('output did not finish in time', { cause: signal?.reason })) }
        if (signal?.aborted === true) onAbort()
        else signal?.addEventListener('abort', onAbort, { once: true })
      })])
    } catch (err: unknown) {
      log('output of track %d not finished: %e', this.format.track, err)
      sink.close()
    } finally {
      if (onAbort != null) signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Release the sink now (the call never connected). */
  close (): void {
    this.closed = true
    if (this.timer != null) clearTimeout(this.timer)
    this.init.sink?.close()
  }

  private info (f: BufferedFrame): { track: number, seq: number, captureMs: number, arrivalMs: number } {
    return { track: this.format.track, seq: f.seq, captureMs: f.captureMs, arrivalMs: f.arrivalMs }
  }
}
