/**
 * Liveness of a call stream: a ping every `interval` (its pong gives the
 * round-trip time and the clock offset, NTP style), an answer to every ping
 * of the peer, and the idle timeout: nothing at all heard from the peer for
 * `idleTimeout` ms means the call is lost. Any message counts as heard.
 */
import { nowMs } from './protocol.js'
import type { CallMessage, Ping, Pong } from './pb/call.js'

/** pings whose pong is still awaited; older ones are forgotten */
const MAX_OUTSTANDING = 16

/** One answered ping, all four times in ms (NTP's t1..t4). */
export interface PongSample {
  /** local clock when the ping left */
  sentMs: number
  /** peer's clock when the ping arrived */
  peerReceivedMs: number
  /** peer's clock when the pong left */
  peerSentMs: number
  /** local clock when the pong arrived */
  arrivalMs: number
}

export interface LivenessInit {
  interval: number
  idleTimeout: number
  /** queue a control message (ahead of media) */
  send: (msg: CallMessage) => void
  onPong: (sample: PongSample) => void
  /** nothing heard for `quietMs` (> idleTimeout) */
  onIdle: (quietMs: number) => void
  /** true while pings should not go out (the call has no offer yet) */
  silent?: () => boolean
  /** true while the peer is not expected to be heard (this side paused the stream) */
  excused?: () => boolean
}

export class Liveness {
  private readonly init: LivenessInit
  private readonly outstanding = new Map<number, number>()
  private lastId = 0
  private lastHeard = nowMs()
  private timer?: ReturnType<typeof setInterval>

  constructor (init: LivenessInit) {
    this.init = init
  }

  /** ms since the peer was last heard */
  quietFor (now = nowMs()): number { return now - this.lastHeard }

  start (): void {
    if (this.timer != null) return
    this.lastHeard = nowMs()
    this.timer = setInterval(this.onTick, this.init.interval)
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** The peer sent something. */
  heard (at = nowMs()): void {
    this.lastHeard = at
  }

  /** Send a ping now. */
  ping (): void {
    const id = this.lastId = (this.lastId + 1) >>> 0
    const sentMs = nowMs()
    this.outstanding.set(id, sentMs)
    if (this.outstanding.size > MAX_OUTSTANDING) {
      for (const oldest of this.outstanding.keys()) { this.outstanding.delete(oldest); break }
    }
    this.init.send({ ping: { id, sentMs } })
  }

  /** The peer pinged: answer at once. */
  onPing (ping: Ping, arrivalMs: number): void {
    this.init.send({ pong: { id: ping.id, pingSentMs: ping.sentMs, receivedMs: arrivalMs, sentMs: nowMs() } })
  }

  /** The peer answered: a sample if it answers a ping still awaited (else ignored). */
  onPong (pong: Pong, arrivalMs: number): void {
    const sentMs = this.outstanding.get(pong.id)
    if (sentMs == null) return
    this.outstanding.delete(pong.id)
    this.init.onPong({ sentMs, peerReceivedMs: pong.receivedMs, peerSentMs: pong.sentMs, arrivalMs })
  }

  private readonly onTick = (): void => {
    if (this.init.silent?.() !== true) this.ping()
    const quiet = this.quietFor()
    if (this.init.excused?.() !== true && quiet > this.init.idleTimeout) this.init.onIdle(quiet)
  }
}
