/**
 * One call over one /p2p-chat/call/2.0.0 stream: the signalling state
 * machine, the media pumps in both directions, liveness, statistics and the
 * clean end. Anything malformed resets the stream and ends the call with
 * 'protocol-error'; it never throws into libp2p.
 */
import { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import { CallFailedError, CallRejectedError, MediaError, NoSuchCallError } from '../errors.js'
import { JitterBuffer } from './jitter-buffer.js'
import { openInput, openOutput } from './media/index.js'
import { FrameDecoder, MAX_PAYLOAD_BYTES, ProtocolViolation, decodeMessage, encodeMessage, isRefusal, nowMs, reasonFromWire, reasonToWire, trackFromWire, trackToWire } from './protocol.js'
import { SendQueue } from './send-queue.js'
import { StatsTracker } from './stats.js'
import type { Answer, CallMessage, Membership } from './call.js'
import type { BufferedFrame } from './jitter-buffer.js'
import type { InputSpec, MediaSink, MediaSource, OutputPlan, OutputSpec, RawFraming } from './media/index.js'
import type { CallEndReason, MessageType, TrackFormat } from './protocol.js'
import type { CallStats } from './stats.js'
import type { PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

const log = logger('p2p-chat:calls')

export type CallDirection = 'inbound' | 'outbound'
/** offering: inbound stream, offer not yet checked; ringing: offer sent / received, no answer yet */
export type CallState = 'offering' | 'ringing' | 'connected' | 'ended'

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
export interface CallOptions extends CallMediaOptions {
  /** a video call (default voice) */
  video?: boolean
  /** aborting it cancels the call while ringing, hangs it up once connected */
  signal?: AbortSignal
}

/** Options of `accept()`. */
export interface AnswerOptions extends CallMediaOptions {}

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

interface SessionInit {
  stream: Stream
  direction: CallDirection
  remotePeer: PeerId
  callId?: Uint8Array
  video?: boolean
  config: SessionConfig
  hooks?: SessionHooks
}

interface PendingMessage { type: MessageType, msg: CallMessage, arrival: number, size: number }

/** Receiving side of one remote track: jitter buffer, then the sink. */
class TrackReceiver {
  readonly format: TrackFormat
  readonly jb: JitterBuffer
  readonly sink?: MediaSink
  readonly live: boolean
  private writing = false
  private timer?: ReturnType<typeof setTimeout>
  private total?: number
  finished = false
  private finishing?: Promise<void>
  private closed = false
  private readonly onError: (err: Error) => void
  private readonly onProgress: () => void

  constructor (format: TrackFormat, sink: MediaSink | undefined, config: SessionConfig, onError: (err: Error) => void, onProgress: () => void) {
    this.format = format
    this.sink = sink
    this.live = sink?.live === true
    this.jb = this.live
      ? new JitterBuffer({ delayMs: config.playoutDelay })
      : new JitterBuffer({ delayMs: 0, capacity: Number.MAX_SAFE_INTEGER })
    this.onError = onError
    this.onProgress = onProgress
  }

  get ended (): boolean { return this.total != null }

  push (frame: BufferedFrame): void {
    this.jb.push(frame)
    this.pump()
  }

  endOfTrack (total: number): void {
    this.total = total
    this.pump()
  }

  pump (): void {
    if (this.writing || this.closed) return
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
    const now = nowMs()
    let f: BufferedFrame | undefined
    while ((f = this.jb.shift(now)) != null) {
      if (this.sink == null) continue
      let r: void | Promise<void>
      try {
        r = this.sink.write(f.payload, { track: this.format.track, seq: f.seq, captureMs: f.captureMs, arrivalMs: f.arrivalMs })
      } catch (err: any) {
        this.onError(err)
        return
      }
      if (r != null) {
        this.writing = true
        r.then(() => {
          this.writing = false
          this.pump()
        }, (err: Error) => {
          this.writing = false
          this.onError(err)
        })
        this.onProgress()
        return
      }
    }
    const due = this.jb.dueIn(now)
    if (due != null) {
      this.timer = setTimeout(() => { this.timer = undefined; this.pump() }, Math.max(1, due))
    } else if (this.total != null && this.finishing == null) {
      this.jb.finish(this.total)
      this.finishing = Promise.resolve(this.sink?.end()).then(() => {
        this.finished = true
        this.onProgress()
      }, (err: Error) => { this.onError(err) })
    }
    this.onProgress()
  }

  /** The call is over: write out what a lossless sink still holds and end it; close a live sink. */
  async finalize (timeoutMs: number): Promise<void> {
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
    if (this.finished || this.sink == null) { this.closed = true; return }
    if (this.live) {
      this.closed = true
      this.sink.close()
      return
    }
    this.closed = true
    const finishing = this.finishing
    const work = finishing ?? (async () => {
      for (const f of this.jb.flush()) {
        await this.sink!.write(f.payload, { track: this.format.track, seq: f.seq, captureMs: f.captureMs, arrivalMs: f.arrivalMs })
      }
      await this.sink!.end()
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([work, new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new MediaError('output did not finish in time')), timeoutMs) })])
    } catch (err) {
      log('output of track %d not finished: %e', this.format.track, err)
      this.sink.close()
    } finally {
      clearTimeout(timer)
    }
  }

  close (): void {
    this.closed = true
    if (this.timer != null) clearTimeout(this.timer)
    this.sink?.close()
  }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/**
 * A call. Outbound calls come from `CallService.call()`; inbound ones are
 * announced ringing by the 'call:incoming' event: `accept()` or `reject()`
 * them. Either side ends it with `hangup()`; `ended` resolves with why.
 */
export class Call extends EventEmitter<CallEvents> {
  readonly direction: CallDirection
  readonly remotePeer: PeerId
  readonly startedAt = Date.now()
  private rawId?: Uint8Array
  private isVideo: boolean
  private currentState: CallState
  connectedAt?: number
  private readonly stream: Stream
  private readonly config: SessionConfig
  private readonly hooks: SessionHooks
  private readonly decoder = new FrameDecoder()
  private readonly queue: SendQueue
  private readonly tracker = new StatsTracker()
  private sources: MediaSource[] = []
  private plan?: OutputPlan
  private localTracks: TrackFormat[] = []
  private remoteTracks: TrackFormat[] = []
  /** inbound: the membership proof of the offer */
  private offeredMembership?: Membership
  /** inbound: this side's membership proof, sent with an accepting answer */
  private answerProof?: Uint8Array
  private readonly receivers = new Map<number, TrackReceiver>()
  private readonly mediaAbort = new AbortController()
  private localEnded = 0
  private endWhenDone = true
  private doneEmitted = false
  private remoteDone = false
  private accepting = false
  private ending = false
  private paused = false
  private backlog?: PendingMessage[]
  /** a stream end seen while the backlog was held: handled after it */
  private deferred?: () => void
  private lastHeard = nowMs()
  private readonly pings = new Map<number, number>()
  private pingId = 0
  private heartbeat?: ReturnType<typeof setInterval>
  private statsTimer?: ReturnType<typeof setInterval>
  private ringTimer?: ReturnType<typeof setTimeout>
  private offerTimer?: ReturnType<typeof setTimeout>
  private signalCleanup?: () => void
  private endInfo?: CallEnd
  private connectWaiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
  /** resolves once, with how the call ended; never rejects */
  readonly ended: Promise<CallEnd>
  private resolveEnded!: (end: CallEnd) => void

  constructor (init: SessionInit) {
    super()
    this.stream = init.stream
    this.direction = init.direction
    this.remotePeer = init.remotePeer
    this.rawId = init.callId
    this.isVideo = init.video ?? false
    this.config = init.config
    this.hooks = init.hooks ?? {}
    this.currentState = init.direction === 'inbound' ? 'offering' : 'ringing'
    this.ended = new Promise(resolve => { this.resolveEnded = resolve })
    this.queue = new SendQueue(this.stream, {
      maxBytes: this.config.maxQueuedBytes,
      onSent: (item) => {
        this.tracker.sent(item.bytes.byteLength, item.track != null && item.payloadBytes != null ? { track: item.track, payloadBytes: item.payloadBytes } : undefined)
      },
      onDrop: (item) => { if (item.track != null) this.tracker.sendDrop(item.track) },
      onError: (err) => { void this.end('connection-lost', 'network', `cannot send: ${err.message}`, { notify: false }) }
    })
  }

  /** hex call id (32 characters) */
  get id (): string { return this.rawId == null ? '' : hex(this.rawId) }
  /** the call id's 16 bytes (empty before the offer) */
  get rawCallId (): Uint8Array { return this.rawId ?? new Uint8Array(0) }

  get peerId (): string { return this.remotePeer.toString() }

  get video (): boolean { return this.isVideo }

  /** 'offering' is internal: the API sees 'ringing' */
  get state (): 'ringing' | 'connected' | 'ended' {
    return this.currentState === 'offering' ? 'ringing' : this.currentState
  }

  /** the peer's tracks (known from the offer, or the answer) */
  get remoteFormats (): TrackFormat[] { return this.remoteTracks.map(t => ({ ...t })) }

  info (): CallInfo {
    const info: CallInfo = {
      callId: this.id,
      peerId: this.peerId,
      direction: this.direction,
      video: this.isVideo,
      state: this.state,
      startedAt: this.startedAt,
      localTracks: this.localTracks.map(t => ({ ...t })),
      remoteTracks: this.remoteFormats
    }
    if (this.connectedAt != null) info.connectedAt = this.connectedAt
    return info
  }

  toJSON (): CallInfo { return this.info() }

  /** Live statistics. */
  stats (): CallStats {
    for (const r of this.receivers.values()) this.tracker.receiveLoss(r.format.track, r.jb.lost, r.jb.dropped)
    return this.tracker.snapshot(nowMs(), this.currentState === 'ended')
  }

  /** raw mode: every input sent and every remote track received and written out ('done' was emitted) */
  get mediaDone (): boolean { return this.doneEmitted }

  /** How it ended, once it has. */
  get result (): CallEnd | undefined { return this.endInfo }

  // ---- setup -----------------------------------------------------------------

  /** Start reading the stream and the liveness heartbeat. */
  attach (): void {
    this.stream.addEventListener('message', this.onMessage)
    this.stream.addEventListener('close', this.onClose)
    this.stream.addEventListener('end', this.onRemoteEnd)
    this.heartbeat = setInterval(this.onHeartbeat, this.config.pingInterval)
    this.heartbeat.unref?.()
    if (this.direction === 'inbound') {
      this.offerTimer = setTimeout(() => {
        this.protocolError(new ProtocolViolation(`no offer within ${this.config.offerTimeout} ms`))
      }, this.config.offerTimeout)
    }
  }

  /** Media of this side (opened by the caller before dialing, by the callee in accept). */
  setMedia (sources: MediaSource[], plan: OutputPlan, endWhenDone?: boolean): void {
    this.sources = sources
    this.plan = plan
    this.endWhenDone = endWhenDone ?? true
    this.localTracks = sources.map((s, i) => ({ ...s.format, track: i }))
  }

  /** Outbound: send the offer with the caller's membership proof; the call rings until answered. */
  offer (callId: Uint8Array, video: boolean, membership: { nonce: Uint8Array, proofs: Uint8Array[] }): void {
    this.rawId = callId
    this.isVideo = video
    const m = { nonce: membership.nonce as Uint8Array<ArrayBuffer>, proofs: membership.proofs as Array<Uint8Array<ArrayBuffer>> }
    this.queue.sendUrgent(encodeMessage({ offer: { callId: callId as Uint8Array<ArrayBuffer>, video, tracks: this.localTracks.map(trackToWire), membership: m } }))
    this.startRingTimer()
  }

  /** Inbound: the offer's membership proof (absent if the caller sent none). */
  get membership (): Membership | undefined { return this.offeredMembership }

  /** Inbound: the proof an accepting answer carries (the service sets it once the caller proved membership). */
  setAnswerProof (proof: Uint8Array): void {
    this.answerProof = proof
  }

  /** Cancel (ringing) or hang up (connected) when `signal` aborts. */
  bindSignal (signal?: AbortSignal): void {
    if (signal == null) return
    const onAbort = (): void => { void this.hangup() }
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    this.signalCleanup = () => { signal.removeEventListener('abort', onAbort) }
  }

  /** Inbound: the offer passed the service's checks; ring until answered. */
  ring (): void {
    if (this.currentState !== 'offering') return
    this.currentState = 'ringing'
    this.startRingTimer()
  }

  private startRingTimer (): void {
    this.ringTimer = setTimeout(() => {
      if (this.currentState === 'connected' || this.currentState === 'ended') return
      if (this.direction === 'inbound') void this.refuse('no-answer', `not answered within ${Math.round(this.config.ringTimeout / 1000)} s`)
      else void this.end('no-answer', 'local', `not answered within ${Math.round(this.config.ringTimeout / 1000)} s`)
    }, this.config.ringTimeout)
  }

  /** Resolves once connected; rejects with CallRejectedError or CallFailedError if it ends first. */
  async waitConnected (): Promise<void> {
    if (this.currentState === 'connected') return
    if (this.endInfo != null) throw this.endError(this.endInfo)
    await new Promise<void>((resolve, reject) => { this.connectWaiters.push({ resolve, reject }) })
  }

  private endError (end: CallEnd): Error {
    const what = end.message != null ? `: ${end.message}` : ''
    if (isRefusal(end.reason) && end.by === 'remote') return new CallRejectedError(end.reason, `call ${end.reason === 'rejected' ? 'rejected' : 'refused'} by ${end.peerId} (${end.reason})${what}`)
    return new CallFailedError(end.reason, `call ended before it connected (${end.reason}, ${end.by})${what}`)
  }

  /** Inbound, ringing: answer with this side's media. */
  async accept (opts: AnswerOptions = {}): Promise<this> {
    if (this.direction !== 'inbound' || this.currentState !== 'ringing' || this.accepting) {
      throw new NoSuchCallError(`call ${this.id} is not ringing here (${this.state})`)
    }
    this.accepting = true
    let sources: MediaSource[] = []
    let plan: OutputPlan | undefined
    try {
      sources = await openInput(opts.input, { video: this.isVideo, frameBytes: opts.frameBytes, frameMs: opts.frameMs })
      plan = await openOutput(opts.output, { video: this.isVideo })
      this.setMedia(sources, plan, opts.endWhenDone)
      await this.createReceivers()
    } catch (err) {
      this.accepting = false
      sources.forEach(s => { s.close() })
      plan?.close()
      this.receivers.forEach(r => { r.close() })
      this.receivers.clear()
      throw err
    }
    if (this.currentState !== 'ringing') {
      this.accepting = false
      throw this.endInfo != null ? this.endError(this.endInfo) : new NoSuchCallError(`call ${this.id} is not ringing`)
    }
    const answer: Answer = { accept: true, reason: reasonToWire('hangup'), message: '', tracks: this.localTracks.map(trackToWire) }
    if (this.answerProof != null) answer.proof = this.answerProof as Uint8Array<ArrayBuffer>
    this.queue.sendUrgent(encodeMessage({ answer }))
    this.startMedia()
    return this
  }

  /** Inbound, ringing: refuse. The caller sees 'rejected' with this reason. */
  async reject (reason?: string): Promise<CallEnd> {
    if (this.direction !== 'inbound' || this.state !== 'ringing') throw new NoSuchCallError(`call ${this.id} is not ringing here (${this.state})`)
    return this.refuse('rejected', reason)
  }

  /** Inbound, before connecting: refuse with a reason code (the service: busy, not a member, no answer). */
  async refuse (reason: CallEndReason, message?: string): Promise<CallEnd> {
    const text = message != null ? Buffer.from(message).subarray(0, 256).toString() : ''
    return this.end(reason, 'local', message, {
      farewell: { answer: { accept: false, reason: reasonToWire(reason), message: text, tracks: [] } }
    })
  }

  /** Hang up (cancels while ringing outbound, refuses while ringing inbound). Resolves when it has ended. */
  async hangup (): Promise<CallEnd> {
    if (this.currentState === 'ended') return this.endInfo!
    if (this.currentState === 'connected') return this.end('hangup', 'local')
    if (this.direction === 'outbound') return this.end('cancelled', 'local')
    return this.refuse('rejected', 'hung up')
  }

  // ---- media -----------------------------------------------------------------

  private async createReceivers (): Promise<void> {
    for (const format of [...this.remoteTracks].sort((a, b) => a.track - b.track)) {
      const sink = await this.plan?.sinkFor(format)
      this.tracker.addReceiveTrack(format.track, format.kind)
      this.receivers.set(format.track, new TrackReceiver(format, sink, this.config,
        (err) => { void this.end('media-error', 'local', err.message) },
        () => { this.onReceiverProgress() }))
    }
  }

  private startMedia (): void {
    clearTimeout(this.ringTimer)
    this.currentState = 'connected'
    this.connectedAt = Date.now()
    this.tracker.connected(nowMs())
    this.sendPing()
    this.statsTimer = setInterval(() => {
      this.tracker.tick(nowMs())
      this.emit('stats', this.stats())
    }, this.config.statsInterval)
    this.statsTimer.unref?.()
    this.localTracks.forEach((t, i) => {
      this.tracker.addSendTrack(t.track, t.kind)
      void this.pumpSource(this.sources[i], t)
    })
    for (const w of this.connectWaiters) w.resolve()
    this.connectWaiters = []
    this.emit('connected')
    this.checkDone()
  }

  private async pumpSource (source: MediaSource, format: TrackFormat): Promise<void> {
    let seq = 0
    const signal = this.mediaAbort.signal
    try {
      for await (const payload of source.frames(signal)) {
        if (this.ending) return
        for (let off = 0; off < payload.byteLength; off += MAX_PAYLOAD_BYTES) {
          const part = payload.byteLength <= MAX_PAYLOAD_BYTES ? payload : payload.subarray(off, off + MAX_PAYLOAD_BYTES)
          const bytes = encodeMessage({ frame: { track: format.track, seq: seq++, captureMs: nowMs(), payload: part as Uint8Array<ArrayBuffer> } })
          this.queue.sendOrdered({ bytes, droppable: source.live, kind: format.kind, track: format.track, payloadBytes: part.byteLength })
        }
        if (!source.live) await this.queue.room()
      }
      if (this.ending) return
      this.queue.sendOrdered({ bytes: encodeMessage({ endOfTrack: { track: format.track, frames: seq } }), droppable: false })
      await this.queue.flushed()
      if (this.ending) return
      this.localEnded++
      this.checkDone()
    } catch (err: any) {
      if (!this.ending) void this.end('media-error', 'local', `input failed: ${err.message}`)
    } finally {
      source.close()
    }
  }

  private onReceiverProgress (): void {
    if (this.paused) {
      const held = this.losslessHeld()
      if (held.bytes < this.config.pauseBytes / 4 && held.frames < 1024) {
        this.paused = false
        try { this.stream.resume() } catch {}
      }
    }
    this.checkDone()
  }

  private losslessHeld (): { bytes: number, frames: number } {
    let bytes = 0; let frames = 0
    for (const r of this.receivers.values()) {
      if (!r.live) { bytes += r.jb.bytes; frames += r.jb.length }
    }
    return { bytes, frames }
  }

  /** Bound what the receivers hold: drop oldest live frames (video first), pause for lossless sinks. */
  private enforceBudget (): void {
    let liveBytes = 0
    for (const r of this.receivers.values()) if (r.live) liveBytes += r.jb.bytes
    while (liveBytes > this.config.maxBufferedBytes) {
      const victim = [...this.receivers.values()].find(r => r.live && r.format.kind === 'video' && r.jb.length > 0) ??
        [...this.receivers.values()].find(r => r.live && r.jb.length > 0)
      const dropped = victim?.jb.dropOldest()
      if (dropped == null) break
      liveBytes -= dropped.payload.byteLength
    }
    if (!this.paused) {
      const held = this.losslessHeld()
      if (held.bytes > this.config.pauseBytes || held.frames > 4096) {
        this.paused = true
        try { this.stream.pause() } catch {}
      }
    }
  }

  private checkDone (): void {
    if (this.doneEmitted || this.currentState !== 'connected' || this.ending) return
    if (this.localEnded < this.localTracks.length) return
    for (const r of this.receivers.values()) if (!r.finished) return
    this.doneEmitted = true
    this.queue.sendOrdered({ bytes: encodeMessage({ mediaDone: {} }), droppable: false })
    this.emit('done')
    this.maybeComplete()
  }

  /** Both sides are done: end with 'completed' (unless this side keeps the call up). */
  private maybeComplete (): void {
    if (!this.doneEmitted || !this.remoteDone || !this.endWhenDone || this.ending) return
    // a call without any media (input and output 'none' on both sides) stays up until hung up
    if (this.localTracks.length + this.remoteTracks.length === 0) return
    void this.end('completed', 'local')
  }

  // ---- incoming --------------------------------------------------------------

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.currentState === 'ended' || this.ending) return
    const arrival = nowMs()
    this.lastHeard = arrival
    try {
      for (const bytes of this.decoder.decode(evt.data)) {
        const { type, msg } = decodeMessage(bytes)
        this.tracker.received(bytes.byteLength)
        const item = { type, msg, arrival, size: bytes.byteLength }
        if (this.backlog != null) this.backlog.push(item)
        else this.dispatch(item)
        if (this.ending) return
      }
    } catch (err: any) {
      this.protocolError(err instanceof ProtocolViolation ? err : new ProtocolViolation(err.message))
    }
  }

  private dispatch ({ type, msg, arrival }: PendingMessage): void {
    const state = this.currentState
    if (state === 'offering' && (this.rawId == null) !== (type === 'offer')) {
      throw new ProtocolViolation(type === 'offer' ? 'second offer' : `expected an offer, got ${type}`)
    }
    switch (type) {
      case 'offer': {
        if (this.direction !== 'inbound' || state !== 'offering') throw new ProtocolViolation('unexpected offer')
        const o = msg.offer!
        clearTimeout(this.offerTimer)
        this.rawId = o.callId
        this.isVideo = o.video
        this.remoteTracks = o.tracks.map(trackFromWire)
        this.offeredMembership = o.membership
        this.hooks.onOffer?.(this)
        return
      }
      case 'answer': {
        if (this.direction !== 'outbound' || state !== 'ringing') throw new ProtocolViolation('unexpected answer')
        const a = msg.answer!
        if (!a.accept) {
          void this.end(reasonFromWire(a.reason), 'remote', a.message !== '' ? a.message : undefined)
          return
        }
        if (this.hooks.checkAnswer != null && !this.hooks.checkAnswer(a.proof)) {
          // a peer that cannot prove it shares a group gets no media: tell it why and end
          void this.end('not-a-member', 'local', 'the callee did not prove that it shares a group')
          return
        }
        this.remoteTracks = a.tracks.map(trackFromWire)
        this.connectOutbound()
        return
      }
      case 'hangup': {
        const h = msg.hangup!
        void this.end(reasonFromWire(h.reason), 'remote', h.message !== '' ? h.message : undefined, { notify: false })
        return
      }
      case 'ping':
        this.queue.sendUrgent(encodeMessage({ pong: { id: msg.ping!.id, pingSentMs: msg.ping!.sentMs, receivedMs: arrival, sentMs: nowMs() } }))
        return
      case 'pong': {
        const p = msg.pong!
        const sent = this.pings.get(p.id)
        if (sent == null) return
        this.pings.delete(p.id)
        this.tracker.pong(sent, p.receivedMs, p.sentMs, arrival)
        return
      }
      case 'frame': {
        if (state !== 'connected') throw new ProtocolViolation(`frame while ${state}`)
        const f = msg.frame!
        const r = this.receivers.get(f.track)
        if (r == null) throw new ProtocolViolation(`frame on undeclared track ${f.track}`)
        if (r.ended) throw new ProtocolViolation(`frame on track ${f.track} after its end`)
        this.tracker.frame(f.track, f.captureMs, arrival, f.payload.byteLength)
        r.push({ seq: f.seq, captureMs: f.captureMs, arrivalMs: arrival, payload: f.payload })
        this.enforceBudget()
        return
      }
      case 'mediaDone':
        if (state !== 'connected' || this.remoteDone) throw new ProtocolViolation('unexpected media done')
        this.remoteDone = true
        this.maybeComplete()
        return
      case 'endOfTrack': {
        if (state !== 'connected') throw new ProtocolViolation(`end of track while ${state}`)
        const e = msg.endOfTrack!
        const r = this.receivers.get(e.track)
        if (r == null || r.ended) throw new ProtocolViolation(`bad end of track ${e.track}`)
        r.endOfTrack(e.frames)
      }
    }
  }

  /** Outbound, accepted: create sinks (holding messages that arrive meanwhile), then start. */
  private connectOutbound (): void {
    this.backlog = []
    this.accepting = true
    this.createReceivers().then(() => {
      if (this.ending) return
      this.startMedia()
      const backlog = this.backlog ?? []
      this.backlog = undefined
      try {
        for (const item of backlog) {
          if (this.ending) return
          this.dispatch(item)
        }
      } catch (err: any) {
        this.protocolError(err instanceof ProtocolViolation ? err : new ProtocolViolation(err.message))
      }
      const deferred = this.deferred
      this.deferred = undefined
      deferred?.()
    }, (err: Error) => {
      this.backlog = undefined
      void this.end('media-error', 'local', err.message)
    })
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    if (this.ending) return
    if (this.backlog != null) { this.deferred = () => { this.onClose(evt) }; return }
    const why = evt.error != null ? `stream closed: ${evt.error.message}` : 'stream closed'
    void this.end('connection-lost', 'network', why, { notify: false })
  }

  private readonly onRemoteEnd = (): void => {
    if (this.ending) return
    if (this.backlog != null) { this.deferred ??= this.onRemoteEnd; return }
    void this.end('connection-lost', 'network', 'the peer closed the stream without hanging up', { notify: false })
  }

  private readonly onHeartbeat = (): void => {
    if (this.ending) return
    if (this.currentState !== 'offering') this.sendPing()
    const quiet = nowMs() - this.lastHeard
    if (!this.paused && quiet > this.config.idleTimeout) {
      void this.end('connection-lost', 'network', `nothing heard from the peer for ${Math.round(quiet / 1000)} s`)
    }
  }

  private sendPing (): void {
    const id = this.pingId = (this.pingId + 1) >>> 0
    const sentMs = nowMs()
    this.pings.set(id, sentMs)
    if (this.pings.size > 16) this.pings.delete(this.pings.keys().next().value!)
    this.queue.sendUrgent(encodeMessage({ ping: { id, sentMs } }))
  }

  private protocolError (err: Error): void {
    if (this.ending) return
    log('protocol error on call %s from %p: %s', this.id, this.remotePeer, err.message)
    void this.end('protocol-error', 'local', err.message, { abort: err })
  }

  // ---- the end -----------------------------------------------------------------

  /**
   * End the call once: tell the peer (a hangup, or `farewell`), stop the
   * media, write out what lossless outputs still hold, close the stream,
   * then emit 'ended'.
   */
  async end (reason: CallEndReason, by: CallEnd['by'], message?: string, opts: { notify?: boolean, farewell?: CallMessage, abort?: Error } = {}): Promise<CallEnd> {
    if (this.ending) return this.ended
    this.ending = true
    const wasConnected = this.currentState === 'connected'
    clearTimeout(this.ringTimer)
    clearTimeout(this.offerTimer)
    clearInterval(this.heartbeat)
    clearInterval(this.statsTimer)
    this.signalCleanup?.()
    this.mediaAbort.abort()
    this.sources.forEach(s => { s.close() })
    log('call %s with %p ends: %s by %s%s', this.id, this.remotePeer, reason, by, message != null ? ` (${message})` : '')

    const notify = opts.notify ?? by === 'local'
    if (opts.abort != null) {
      this.queue.close()
      this.stream.abort(opts.abort)
    } else {
      if (reason !== 'completed') this.queue.discardMedia()
      if (notify) {
        const farewell = opts.farewell ?? { hangup: { reason: reasonToWire(reason), message: message != null ? Buffer.from(message).subarray(0, 256).toString() : '' } }
        this.queue.sendUrgent(encodeMessage(farewell))
      }
      await this.closeStream()
    }
    if (this.paused) {
      this.paused = false
      try { this.stream.resume() } catch {}
    }

    await Promise.all([...this.receivers.values()].map(async r => r.finalize(this.config.closeTimeout)))
    this.plan?.close()
    this.queue.close()
    this.tracker.ended(nowMs())

    const end: CallEnd = {
      callId: this.id,
      peerId: this.peerId,
      direction: this.direction,
      reason,
      by,
      connected: wasConnected,
      stats: this.stats()
    }
    if (message != null) end.message = message
    this.endInfo = end
    this.currentState = 'ended'
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('end', this.onRemoteEnd)
    const err = this.endError(end)
    for (const w of this.connectWaiters) w.reject(err)
    this.connectWaiters = []
    this.emit('ended', end)
    this.resolveEnded(end)
    return end
  }

  /** Flush what is queued (bounded by closeTimeout), half-close, reset later if the peer never closes its side. */
  private async closeStream (): Promise<void> {
    const stream = this.stream
    if (stream.status !== 'open') return
    const signal = AbortSignal.timeout(this.config.closeTimeout)
    try {
      await Promise.race([this.queue.flushed(), new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))])
      if (stream.writeStatus === 'writable') await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
      return
    }
    if (stream.status === 'open' || stream.status === 'closing') {
      const timer = setTimeout(() => {
        if (stream.status === 'open' || stream.status === 'closing') stream.abort(new Error('the peer did not close the call stream'))
      }, this.config.closeTimeout)
      timer.unref?.()
      stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
    }
  }
}

export type { InputSpec, OutputSpec }
