/**
 * The remote tracks of one call: a TrackReceiver per track the peer declared,
 * frames routed to it by track id, and the receive budget. What the
 * receivers hold is bounded two ways: live sinks lose their oldest frames
 * (video before audio) beyond `maxBufferedBytes`; lossless sinks pause the
 * stream beyond `pauseBytes` (the sender then waits on its window) and
 * resume it once they are down to a quarter.
 */
import { logger } from '@libp2p/logger'
import { ProtocolViolation } from './protocol.js'
import { TrackReceiver } from './track-receiver.js'
import type { BufferedFrame } from './jitter-buffer.js'
import type { OutputPlan } from './media/index.js'
import type { TrackFormat } from './protocol.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('p2p-chat:calls:receivers')

/** frames held for lossless sinks before the stream is paused, whatever their size */
const PAUSE_FRAMES = 4096
/** ... and resumed */
const RESUME_FRAMES = 1024

/** The part of a stream the budget acts on. */
export interface Pausable {
  pause: () => void
  resume: () => void
}

export interface ReceiversInit {
  /** where the remote tracks go */
  plan: OutputPlan
  /** paused while lossless sinks hold too much */
  stream: Pausable
  playoutDelay: number
  maxBufferedBytes: number
  pauseBytes: number
  /** a sink failed */
  onError: (err: Error) => void
  /** a receiver wrote frames or finished */
  onProgress: () => void
}

export class Receivers {
  private readonly init: ReceiversInit
  private readonly byTrack = new Map<number, TrackReceiver>()
  private isPaused = false

  constructor (init: ReceiversInit) {
    this.init = init
  }

  /** the stream is paused for lossless sinks (the peer is not expected to be heard meanwhile) */
  get paused (): boolean { return this.isPaused }

  /** every track's end-of-track arrived and its sink finished */
  get finished (): boolean {
    for (const r of this.byTrack.values()) if (!r.finished) return false
    return true
  }

  values (): IterableIterator<TrackReceiver> { return this.byTrack.values() }

  /** Open the sinks for the peer's tracks, in track order; stops at the next track when `options.signal` aborts. */
  async open (formats: TrackFormat[], options: AbortOptions = {}): Promise<void> {
    for (const format of [...formats].sort((a, b) => a.track - b.track)) {
      options.signal?.throwIfAborted()
      const sink = await this.init.plan.sinkFor(format)
      this.byTrack.set(format.track, new TrackReceiver({
        format,
        sink,
        playoutDelay: this.init.playoutDelay,
        onError: this.init.onError,
        onProgress: () => { this.onProgress() }
      }))
    }
  }

  /** A frame of a declared, not yet ended track. Throws ProtocolViolation otherwise. */
  frame (track: number, frame: BufferedFrame): void {
    const r = this.byTrack.get(track)
    if (r == null) throw new ProtocolViolation(`frame on undeclared track ${track}`)
    if (r.ended) throw new ProtocolViolation(`frame on track ${track} after its end`)
    r.push(frame)
    this.enforce()
  }

  /** The sender's end of a track: `total` frames were sent. */
  endOfTrack (track: number, total: number): void {
    const r = this.byTrack.get(track)
    if (r == null || r.ended) throw new ProtocolViolation(`bad end of track ${track}`)
    r.endOfTrack(total)
  }

  /** The call is ending: resume a paused stream (so its close can be read), then write out lossless sinks. */
  async finalize (options: AbortOptions = {}): Promise<void> {
    this.setPaused(false)
    await Promise.all([...this.byTrack.values()].map(async r => r.finalize(options)))
    this.init.plan.close()
  }

  /** Release everything now (the call never connected). */
  close (): void {
    this.byTrack.forEach(r => { r.close() })
    this.byTrack.clear()
    this.init.plan.close()
  }

  private onProgress (): void {
    if (this.isPaused) {
      const held = this.losslessHeld()
      if (held.bytes < this.init.pauseBytes / 4 && held.frames < RESUME_FRAMES) this.setPaused(false)
    }
    this.init.onProgress()
  }

  private losslessHeld (): { bytes: number, frames: number } {
    let bytes = 0; let frames = 0
    for (const r of this.byTrack.values()) {
      if (!r.live) { bytes += r.jb.bytes; frames += r.jb.length }
    }
    return { bytes, frames }
  }

  /** Drop the oldest live frames (video first) beyond the budget; pause for lossless sinks. */
  private enforce (): void {
    let liveBytes = 0
    for (const r of this.byTrack.values()) if (r.live) liveBytes += r.jb.bytes
    while (liveBytes > this.init.maxBufferedBytes) {
      const all = [...this.byTrack.values()]
      const victim = all.find(r => r.live && r.format.kind === 'video' && r.jb.length > 0) ??
        all.find(r => r.live && r.jb.length > 0)
      const dropped = victim?.jb.dropOldest()
      if (dropped == null) break
      liveBytes -= dropped.payload.byteLength
    }
    if (!this.isPaused) {
      const held = this.losslessHeld()
      if (held.bytes > this.init.pauseBytes || held.frames > PAUSE_FRAMES) this.setPaused(true)
    }
  }

  private setPaused (paused: boolean): void {
    if (this.isPaused === paused) return
    this.isPaused = paused
    try {
      if (paused) this.init.stream.pause()
      else this.init.stream.resume()
    } catch (err: unknown) {
      // a stream that is already closed or reset cannot be paused nor resumed: its end is handled elsewhere
      log('cannot %s the call stream: %e', paused ? 'pause' : 'resume', err)
    }
  }
}
