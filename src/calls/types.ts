/**
 * What a call looks like from outside: its options, its events, how the API
 * shows it, how it ends; and what the service hands each call (timeouts,
 * buffers, the admission hooks).
 */
import type { InputSpec, OutputSpec, RawFraming } from './media/index.js'
import type { CallEndReason, TrackFormat } from './protocol.js'
import type { Call } from './session.js'
import type { CallStats } from './stats.js'
import type { AbortOptions } from '@libp2p/interface'

export type CallDirection = 'inbound' | 'outbound'

/** Media options of either side of a call. */
export interface CallMediaOptions extends RawFraming {
  /** outgoing media; default 'device' (microphone, plus camera on video calls) */
  input?: InputSpec
  /** incoming media; default 'device' (speaker, plus a video window on video calls) */
  output?: OutputSpec
  /**
   * End the call by itself once every input was sent and every remote track
   * received (raw mode: file in, file out). Default true. Either side ending
   * it ends it for both.
   */
  endWhenDone?: boolean
}

/** Options of `call()`. */
export interface CallOptions extends CallMediaOptions, AbortOptions {
  /** a video call (default voice) */
  video?: boolean
  /** aborting it cancels the call while ringing, hangs it up once connected */
  signal?: AbortSignal
}

/** Options of `accept()`: this side's media; aborting `signal` while the media opens leaves the call ringing. */
export interface AnswerOptions extends CallMediaOptions, AbortOptions {}

/** A call as the API and the CLI show it. */
export interface CallInfo {
  callId: string
  peerId: string
  direction: CallDirection
  video: boolean
  state: 'ringing' | 'connected' | 'ended'
  /** ms since 1970 */
  startedAt: number
  connectedAt?: number
  localTracks: TrackFormat[]
  remoteTracks: TrackFormat[]
}

/** How a call ended, reported once on both sides. */
export interface CallEnd {
  callId: string
  peerId: string
  direction: CallDirection
  reason: CallEndReason
  /** who ended it: this side, the peer, or neither (the connection or stream died) */
  by: 'local' | 'remote' | 'network'
  message?: string
  /** whether it was ever connected */
  connected: boolean
  stats: CallStats
}

export interface CallEvents {
  connected: []
  /** live statistics, once per stats interval while connected */
  stats: [CallStats]
  /** raw mode: every input sent and every remote track received and written out */
  done: []
  ended: [CallEnd]
}

export interface SessionConfig {
  ringTimeout: number
  offerTimeout: number
  pingInterval: number
  idleTimeout: number
  statsInterval: number
  /** playout delay of the jitter buffer for live sinks, ms */
  playoutDelay: number
  maxQueuedBytes: number
  /** bytes held for live sinks before the oldest frames are dropped (video first) */
  maxBufferedBytes: number
  /** bytes held for lossless sinks before the stream is paused */
  pauseBytes: number
  closeTimeout: number
}

export interface SessionHooks {
  /** inbound: a valid offer arrived; decide (ring or refuse) */
  onOffer?: (call: Call) => void
  /** outbound: does the accepting answer's proof show the callee shares a group? If not, no media flows */
  checkAnswer?: (proof: Uint8Array | undefined) => boolean
}

export type { InputSpec, OutputSpec }
