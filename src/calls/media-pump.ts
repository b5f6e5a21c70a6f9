/**
 * Sending side of a call's media: each local source read into frames (split
 * at MAX_PAYLOAD_BYTES, numbered per track) and queued on the send queue,
 * then the track's end-of-track marker. Backpressure: a source that is not
 * live is read only when the queue has room, so nothing of it is lost; a live
 * source is read as it produces, and the queue drops its oldest frames when
 * the stream falls behind.
 */
import { encodeMessage, MAX_PAYLOAD_BYTES, nowMs } from './protocol.js'
import { errorMessage } from '../errors.js'
import type { MediaSource } from './media/index.js'
import type { TrackFormat } from './protocol.js'
import type { SendQueue } from './send-queue.js'

export interface MediaPumpInit {
  queue: SendQueue
  /** a source failed: the call ends with 'media-error' */
  onError: (message: string) => void
  /** a track was sent whole, its end-of-track marker included */
  onTrackSent: (track: number) => void
}

export class MediaPump {
  private readonly init: MediaPumpInit
  private readonly sources: MediaSource[]
  /** the local tracks, numbered in source order */
  readonly formats: TrackFormat[]
  private readonly abort = new AbortController()
  private tracksSent = 0

  constructor (sources: MediaSource[], init: MediaPumpInit) {
    this.init = init
    this.sources = sources
    this.formats = sources.map((s, i) => ({ ...s.format, track: i }))
  }

  /** every track was sent whole */
  get done (): boolean { return this.tracksSent >= this.sources.length }

  /** Start reading every source (once the call is connected). */
  start (): void {
    this.sources.forEach((s, i) => { void this.pump(s, this.formats[i]) })
  }

  /** Stop reading and release every source. Idempotent. */
  stop (): void {
    this.abort.abort()
    this.sources.forEach(s => { s.close() })
  }

  private get stopped (): boolean { return this.abort.signal.aborted }

  private async pump (source: MediaSource, format: TrackFormat): Promise<void> {
    const queue = this.init.queue
    let seq = 0
    try {
      for await (const payload of source.frames(this.abort.signal)) {
        if (this.stopped) return
        for (let off = 0; off < payload.byteLength; off += MAX_PAYLOAD_BYTES) {
          const part = payload.byteLength <= MAX_PAYLOAD_BYTES ? payload : payload.subarray(off, off + MAX_PAYLOAD_BYTES)
          const bytes = encodeMessage({ frame: { track: format.track, seq: seq++, captureMs: nowMs(), payload: part as Uint8Array<ArrayBuffer> } })
          queue.sendOrdered({ bytes, droppable: source.live, kind: format.kind, track: format.track, payloadBytes: part.byteLength })
        }
        if (!source.live) await queue.room()
      }
      if (this.stopped) return
      queue.sendOrdered({ bytes: encodeMessage({ endOfTrack: { track: format.track, frames: seq } }), droppable: false })
      await queue.flushed()
      if (this.stopped) return
      this.tracksSent++
      this.init.onTrackSent(format.track)
    } catch (err: unknown) {
      if (!this.stopped) this.init.onError(`input failed: ${errorMessage(err)}`)
    } finally {
      source.close()
    }
  }
}
