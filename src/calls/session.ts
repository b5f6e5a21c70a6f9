/**
 * One call over one /p2p-chat/call/2.0.0 stream: the signalling state
 * machine. It wires the pieces that do the work: the send queue
 * (send-queue.ts), liveness (liveness.ts: pings, RTT, idle timeout), the
 * media pump (media-pump.ts: sources out) and the receivers (receivers.ts,
 * track-receiver.ts: frames in, jitter buffers, sinks, receive budget).
 * Anything malformed resets the stream and ends the call with
 * 'protocol-error'; it never throws into libp2p.
 */
import { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import { CallFailedError, CallRejectedError, NoSuchCallError, errorMessage } from '../errors.js'
import { Liveness } from './liveness.js'
import { MediaPump } from './media-pump.js'
import { openInput, openOutput } from './media/index.js'
import { FrameDecoder, ProtocolViolation, decodeMessage, encodeMessage, isRefusal, nowMs, reasonFromWire, reasonToWire, trackFromWire, trackToWire } from './protocol.js'
import { Receivers } from './receivers.js'
import { SendQueue } from './send-queue.js'
import { StatsTracker } from './stats.js'
import type { MediaSource, OutputPlan } from './media/index.js'
import type { Answer, CallMessage, Membership } from './pb/call.js'
import type { CallEndReason, DecodedMessage, TrackFormat } from './protocol.js'
import type { CallStats } from './stats.js'
import type { AnswerOptions, CallDirection, CallEnd, CallEvents, CallInfo, SessionConfig, SessionHooks } from './types.js'
import type { AbortOptions, PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

export type { AnswerOptions, CallDirection, CallEnd, CallEvents, CallInfo, CallMediaOptions, CallOptions, InputSpec, OutputSpec, SessionConfig, SessionHooks } from './types.js'

const log = logger('p2p-chat:calls')

/**
 * offering: inbound stream, offer not yet checked; ringing: offer sent or
 * received, no answer yet; accepting: answered, sinks opening; ending: the
 * clean end is under way.
 */
type Phase = 'offering' | 'ringing' | 'accepting' | 'connected' | 'ending' | 'ended'

interface SessionInit {
  stream: Stream
  direction: CallDirection
  remotePeer: PeerId
  callId?: Uint8Array
  video?: boolean
  config: SessionConfig
  hooks?: SessionHooks
}

/** Options of `end()`. */
export interface EndOptions extends AbortOptions {
  /** send the peer a hangup; default: when this side ends it */
  notify?: boolean
  /** the message to send instead of a hangup (a refusing answer) */
  farewell?: CallMessage
  /** reset the stream with this error instead of closing it */
  abort?: Error
}

interface Arrival { m: DecodedMessage, arrival: number }

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

function toViolation (err: unknown): ProtocolViolation {
  return err instanceof ProtocolViolation ? err : new ProtocolViolation(errorMessage(err))
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
  connectedAt?: number
  /** resolves once, with how the call ended; never rejects */
  readonly ended: Promise<CallEnd>
  private rawId?: Uint8Array
  private isVideo: boolean
  private phase: Phase
  private readonly stream: Stream
  private readonly config: SessionConfig
  private readonly hooks: SessionHooks
  private readonly decoder = new FrameDecoder()
  private readonly queue: SendQueue
  private readonly tracker = new StatsTracker()
  private readonly liveness: Liveness
  /** this side's media, once chosen (before the offer, or in accept) */
  private pump?: MediaPump
  private receivers?: Receivers
  private remoteTracks: TrackFormat[] = []
  /** inbound: the offer's membership proof; this side's proof for an accepting answer */
  private readonly proofs: { offered?: Membership, answer?: Uint8Array } = {}
  /** raw mode: this side is done, the peer is, and whether both being done ends the call */
  private readonly completion = { local: false, remote: false, endWhenDone: true }
  /** outbound, accepted: messages that arrive while the sinks open, and a stream end seen meanwhile */
  private held?: { messages: Arrival[], deferred?: () => void }
  /** the offer deadline (inbound), then the ring timeout */
  private timer?: ReturnType<typeof setTimeout>
  private statsTimer?: ReturnType<typeof setInterval>
  private endInfo?: CallEnd
  private resolveEnded: (end: CallEnd) => void = () => { /* replaced by the promise's own below */ }

  constructor (init: SessionInit) {
    super()
    this.stream = init.stream
    this.direction = init.direction
    this.remotePeer = init.remotePeer
    this.rawId = init.callId
    this.isVideo = init.video ?? false
    this.config = init.config
    this.hooks = init.hooks ?? {}
    this.phase = init.direction === 'inbound' ? 'offering' : 'ringing'
    this.ended = new Promise(resolve => { this.resolveEnded = resolve })
    this.queue = new SendQueue(this.stream, {
      maxBytes: this.config.maxQueuedBytes,
      onSent: (item) => {
        this.tracker.sent(item.bytes.byteLength, item.track != null && item.payloadBytes != null ? { track: item.track, payloadBytes: item.payloadBytes } : undefined)
      },
      onDrop: (item) => { if (item.track != null) this.tracker.sendDrop(item.track) },
      onError: (err) => { void this.end('connection-lost', 'network', `cannot send: ${err.message}`, { notify: false }) }
    })
    this.liveness = new Liveness({
      interval: this.config.pingInterval,
      idleTimeout: this.config.idleTimeout,
      send: (msg) => { this.queue.sendUrgent(encodeMessage(msg)) },
      onPong: (s) => { this.tracker.pong(s.sentMs, s.peerReceivedMs, s.peerSentMs, s.arrivalMs) },
      onIdle: (quiet) => { void this.end('connection-lost', 'network', `nothing heard from the peer for ${Math.round(quiet / 1000)} s`) },
      silent: () => this.phase === 'offering',
      excused: () => this.receivers?.paused === true
    })
  }

  /** hex call id (32 characters) */
  get id (): string { return this.rawId == null ? '' : hex(this.rawId) }
  /** the call id's 16 bytes (empty before the offer) */
  get rawCallId (): Uint8Array { return this.rawId ?? new Uint8Array(0) }

  get peerId (): string { return this.remotePeer.toString() }

  get video (): boolean { return this.isVideo }

  /** 'offering' and 'accepting' are internal: the API sees 'ringing' */
  get state (): 'ringing' | 'connected' | 'ended' {
    switch (this.phase) {
      case 'connected': return 'connected'
      case 'ended': return 'ended'
      case 'ending': return this.connectedAt != null ? 'connected' : 'ringing'
      default: return 'ringing'
    }
  }

  /**
   * Does it hold a call slot? A call placed by this side does, from its
   * offer; an inbound one once answered. An inbound call that only rings
   * does not (see CallService: an unanswered ring never makes this side busy).
   */
  get engaged (): boolean {
    if (this.direction === 'outbound') return this.phase !== 'ended'
    return this.phase === 'accepting' || this.phase === 'connected' || (this.phase === 'ending' && this.connectedAt != null)
  }

  /** the peer's tracks (known from the offer, or the answer) */
  get remoteFormats (): TrackFormat[] { return this.remoteTracks.map(t => ({ ...t })) }

  private get localTracks (): TrackFormat[] { return this.pump?.formats ?? [] }

  /** ending or ended: nothing more is read or started */
  private get over (): boolean { return this.phase === 'ending' || this.phase === 'ended' }

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
    for (const r of this.receivers?.values() ?? []) this.tracker.receiveLoss(r.format.track, r.jb.lost, r.jb.dropped)
    return this.tracker.snapshot(nowMs(), this.phase === 'ended')
  }

  /** raw mode: every input sent and every remote track received and written out ('done' was emitted) */
  get mediaDone (): boolean { return this.completion.local }

  /** How it ended, once it has. */
  get result (): CallEnd | undefined { return this.endInfo }

  // ---- setup -----------------------------------------------------------------

  /** Start reading the stream and the liveness heartbeat. */
  attach (): void {
    this.stream.addEventListener('message', this.onMessage)
    this.stream.addEventListener('close', this.onClose)
    this.stream.addEventListener('end', this.onRemoteEnd)
    this.liveness.start()
    if (this.direction === 'inbound') {
      this.timer = setTimeout(() => {
        this.protocolError(new ProtocolViolation(`no offer within ${this.config.offerTimeout} ms`))
      }, this.config.offerTimeout)
    }
  }

  /** Media of this side (opened by the caller before dialing, by the callee in accept). */
  setMedia (sources: MediaSource[], plan: OutputPlan, endWhenDone?: boolean): void {
    this.completion.endWhenDone = endWhenDone ?? true
    this.pump = new MediaPump(sources, {
      queue: this.queue,
      onError: (message) => { void this.end('media-error', 'local', message) },
      onTrackSent: () => { this.checkDone() }
    })
    this.receivers = new Receivers({
      plan,
      stream: this.stream,
      playoutDelay: this.config.playoutDelay,
      maxBufferedBytes: this.config.maxBufferedBytes,
      pauseBytes: this.config.pauseBytes,
      onError: (err) => { void this.end('media-error', 'local', err.message) },
      onProgress: () => { this.checkDone() }
    })
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
  get membership (): Membership | undefined { return this.proofs.offered }

  /** Inbound: the proof an accepting answer carries (the service sets it once the caller proved membership). */
  setAnswerProof (proof: Uint8Array): void {
    this.proofs.answer = proof
  }

  /** Cancel (ringing) or hang up (connected) when `signal` aborts. */
  bindSignal (signal?: AbortSignal): void {
    if (signal == null) return
    const onAbort = (): void => { void this.hangup() }
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    void this.ended.then(() => { signal.removeEventListener('abort', onAbort) })
  }

  /** Inbound: the offer passed the service's checks; ring until answered. */
  ring (): void {
    if (this.phase !== 'offering') return
    this.phase = 'ringing'
    this.startRingTimer()
  }

  private startRingTimer (): void {
    this.timer = setTimeout(() => {
      if (this.phase === 'connected' || this.over) return
      const why = `not answered within ${Math.round(this.config.ringTimeout / 1000)} s`
      if (this.direction === 'inbound') void this.refuse('no-answer', why)
      else void this.end('no-answer', 'local', why)
    }, this.config.ringTimeout)
  }

  /**
   * Resolves once connected; rejects with CallRejectedError or
   * CallFailedError if it ends first, or with the abort reason when
   * `options.signal` aborts first (the call goes on).
   */
  async waitConnected (options: AbortOptions = {}): Promise<void> {
    if (this.phase === 'connected') return
    if (this.endInfo != null) throw this.endError(this.endInfo)
    const signal = options.signal
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onConnected = (): void => { cleanup(); resolve() }
      const onEnded = (end: CallEnd): void => { cleanup(); reject(this.endError(end)) }
      const onAbort = (): void => { cleanup(); reject(signal?.reason instanceof Error ? signal.reason : new CallFailedError('cancelled', 'stopped waiting for the call to connect')) }
      const cleanup = (): void => {
        this.off('connected', onConnected)
        this.off('ended', onEnded)
        signal?.removeEventListener('abort', onAbort)
      }
      this.on('connected', onConnected)
      this.on('ended', onEnded)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private endError (end: CallEnd): Error {
    const what = end.message != null ? `: ${end.message}` : ''
    if (isRefusal(end.reason) && end.by === 'remote') return new CallRejectedError(end.reason, `call ${end.reason === 'rejected' ? 'rejected' : 'refused'} by ${end.peerId} (${end.reason})${what}`)
    return new CallFailedError(end.reason, `call ended before it connected (${end.reason}, ${end.by})${what}`)
  }

  /** Inbound, ringing: answer with this side's media. */
  async accept (opts: AnswerOptions = {}): Promise<this> {
    if (this.direction !== 'inbound' || this.phase !== 'ringing') {
      throw new NoSuchCallError(`call ${this.id} is not ringing here (${this.state})`)
    }
    this.phase = 'accepting'
    let sources: MediaSource[] = []
    let plan: OutputPlan | undefined
    /** the media opened so far, when the answer does not go out after all */
    const release = (): void => {
      sources.forEach(s => { s.close() })
      if (this.receivers != null) this.receivers.close()
      else plan?.close()
      this.pump = undefined
      this.receivers = undefined
    }
    try {
      opts.signal?.throwIfAborted()
      sources = await openInput(opts.input, { video: this.isVideo, frameBytes: opts.frameBytes, frameMs: opts.frameMs })
      plan = await openOutput(opts.output, { video: this.isVideo })
      this.setMedia(sources, plan, opts.endWhenDone)
      await this.openReceivers(opts)
      opts.signal?.throwIfAborted()
    } catch (err) {
      // still ringing (unless it ended meanwhile): accept may be tried again
      if (this.phase === 'accepting') this.phase = 'ringing'
      release()
      throw err
    }
    if (this.phase !== 'accepting') {
      // it ended while the media opened
      release()
      throw this.endInfo != null ? this.endError(this.endInfo) : new NoSuchCallError(`call ${this.id} is not ringing`)
    }
    const answer: Answer = { accept: true, reason: reasonToWire('hangup'), message: '', tracks: this.localTracks.map(trackToWire) }
    if (this.proofs.answer != null) answer.proof = this.proofs.answer as Uint8Array<ArrayBuffer>
    this.queue.sendUrgent(encodeMessage({ answer }))
    this.startMedia()
    return this
  }

  /** Inbound, ringing: refuse. The caller sees 'rejected' with this reason. */
  async reject (reason?: string, options: AbortOptions = {}): Promise<CallEnd> {
    if (this.direction !== 'inbound' || this.state !== 'ringing') throw new NoSuchCallError(`call ${this.id} is not ringing here (${this.state})`)
    return this.refuse('rejected', reason, options)
  }

  /** Inbound, before connecting: refuse with a reason code (the service: busy, not a member, no answer). */
  async refuse (reason: CallEndReason, message?: string, options: AbortOptions = {}): Promise<CallEnd> {
    const text = message != null ? Buffer.from(message).subarray(0, 256).toString() : ''
    return this.end(reason, 'local', message, {
      ...options,
      farewell: { answer: { accept: false, reason: reasonToWire(reason), message: text, tracks: [] } }
    })
  }

  /** Hang up (cancels while ringing outbound, refuses while ringing inbound). Resolves when it has ended. */
  async hangup (options: AbortOptions = {}): Promise<CallEnd> {
    if (this.over) return this.ended
    if (this.phase === 'connected') return this.end('hangup', 'local', undefined, options)
    if (this.direction === 'outbound') return this.end('cancelled', 'local', undefined, options)
    return this.refuse('rejected', 'hung up', options)
  }

  // ---- media -----------------------------------------------------------------

  /** Open a sink for each of the peer's tracks. */
  private async openReceivers (options: AbortOptions = {}): Promise<void> {
    const receivers = this.receivers
    if (receivers == null) return
    await receivers.open(this.remoteTracks, options)
    for (const r of receivers.values()) this.tracker.addReceiveTrack(r.format.track, r.format.kind)
  }

  private startMedia (): void {
    clearTimeout(this.timer)
    this.phase = 'connected'
    this.connectedAt = Date.now()
    this.tracker.connected(nowMs())
    this.liveness.ping()
    this.statsTimer = setInterval(() => {
      this.tracker.tick(nowMs())
      this.emit('stats', this.stats())
    }, this.config.statsInterval)
    this.statsTimer.unref?.()
    for (const t of this.localTracks) this.tracker.addSendTrack(t.track, t.kind)
    this.pump?.start()
    this.emit('connected')
    this.checkDone()
  }

  /** Raw mode: this side sent and received everything: say so, and end if the peer did too. */
  private checkDone (): void {
    if (this.completion.local || this.phase !== 'connected') return
    if (this.pump?.done === false || this.receivers?.finished === false) return
    this.completion.local = true
    this.queue.sendOrdered({ bytes: encodeMessage({ mediaDone: {} }), droppable: false })
    this.emit('done')
    this.maybeComplete()
  }

  /** Both sides are done: end with 'completed' (unless this side keeps the call up). */
  private maybeComplete (): void {
    const { local, remote, endWhenDone } = this.completion
    if (!local || !remote || !endWhenDone || this.phase !== 'connected') return
    // a call without any media (input and output 'none' on both sides) stays up until hung up
    if (this.localTracks.length + this.remoteTracks.length === 0) return
    void this.end('completed', 'local')
  }

  // ---- incoming --------------------------------------------------------------

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.over) return
    const arrival = nowMs()
    this.liveness.heard(arrival)
    try {
      for (const bytes of this.decoder.decode(evt.data)) {
        const m = decodeMessage(bytes)
        this.tracker.received(bytes.byteLength)
        const item = { m, arrival }
        if (this.held != null) this.held.messages.push(item)
        else this.dispatch(item)
        if (this.over) return
      }
    } catch (err: unknown) {
      this.protocolError(toViolation(err))
    }
  }

  /** One message, in the current phase. Throws ProtocolViolation for one the phase does not allow. */
  private dispatch ({ m, arrival }: Arrival): void {
    const phase = this.phase
    if (phase === 'offering' && (this.rawId == null) !== (m.type === 'offer')) {
      throw new ProtocolViolation(m.type === 'offer' ? 'second offer' : `expected an offer, got ${m.type}`)
    }
    switch (m.type) {
      case 'offer': {
        if (this.direction !== 'inbound' || phase !== 'offering') throw new ProtocolViolation('unexpected offer')
        clearTimeout(this.timer)
        this.rawId = m.offer.callId
        this.isVideo = m.offer.video
        this.remoteTracks = m.offer.tracks.map(trackFromWire)
        this.proofs.offered = m.offer.membership
        this.hooks.onOffer?.(this)
        return
      }
      case 'answer': {
        if (this.direction !== 'outbound' || phase !== 'ringing') throw new ProtocolViolation('unexpected answer')
        const a = m.answer
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
      case 'hangup':
        void this.end(reasonFromWire(m.hangup.reason), 'remote', m.hangup.message !== '' ? m.hangup.message : undefined, { notify: false })
        return
      case 'ping':
        this.liveness.onPing(m.ping, arrival)
        return
      case 'pong':
        this.liveness.onPong(m.pong, arrival)
        return
      case 'frame': {
        const f = m.frame
        if (phase !== 'connected' || this.receivers == null) throw new ProtocolViolation(`frame while ${phase}`)
        this.receivers.frame(f.track, { seq: f.seq, captureMs: f.captureMs, arrivalMs: arrival, payload: f.payload })
        this.tracker.frame(f.track, f.captureMs, arrival, f.payload.byteLength)
        return
      }
      case 'mediaDone':
        if (phase !== 'connected' || this.completion.remote) throw new ProtocolViolation('unexpected media done')
        this.completion.remote = true
        this.maybeComplete()
        return
      case 'endOfTrack':
        if (phase !== 'connected' || this.receivers == null) throw new ProtocolViolation(`end of track while ${phase}`)
        this.receivers.endOfTrack(m.endOfTrack.track, m.endOfTrack.frames)
    }
  }

  /** Outbound, accepted: open the sinks (holding messages that arrive meanwhile), then start. */
  private connectOutbound (): void {
    this.held = { messages: [] }
    this.phase = 'accepting'
    this.openReceivers().then(() => {
      if (this.phase !== 'accepting') return
      this.startMedia()
      const held = this.held
      this.held = undefined
      try {
        for (const item of held?.messages ?? []) {
          if (this.over) return
          this.dispatch(item)
        }
      } catch (err: unknown) {
        this.protocolError(toViolation(err))
      }
      held?.deferred?.()
    }, (err: unknown) => {
      this.held = undefined
      void this.end('media-error', 'local', errorMessage(err))
    })
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    if (this.over) return
    if (this.held != null) { this.held.deferred = () => { this.onClose(evt) }; return }
    const why = evt.error != null ? `stream closed: ${evt.error.message}` : 'stream closed'
    void this.end('connection-lost', 'network', why, { notify: false })
  }

  private readonly onRemoteEnd = (): void => {
    if (this.over) return
    if (this.held != null) { this.held.deferred ??= this.onRemoteEnd; return }
    void this.end('connection-lost', 'network', 'the peer closed the stream without hanging up', { notify: false })
  }

  private protocolError (err: Error): void {
    if (this.over) return
    log('protocol error on call %s from %p: %s', this.id, this.remotePeer, err.message)
    void this.end('protocol-error', 'local', err.message, { abort: err })
  }

  // ---- the end -----------------------------------------------------------------

  /**
   * End the call once: tell the peer (a hangup, or `farewell`), stop the
   * media, write out what lossless outputs still hold, close the stream,
   * then emit 'ended'. Each of the flush and the write-out is bounded by
   * the close timeout, and cut short when `options.signal` aborts.
   */
  async end (reason: CallEndReason, by: CallEnd['by'], message?: string, options: EndOptions = {}): Promise<CallEnd> {
    if (this.over) return this.ended
    const wasConnected = this.phase === 'connected'
    this.phase = 'ending'
    clearTimeout(this.timer)
    clearInterval(this.statsTimer)
    this.liveness.stop()
    this.pump?.stop()
    log('call %s with %p ends: %s by %s%s', this.id, this.remotePeer, reason, by, message != null ? ` (${message})` : '')

    const notify = options.notify ?? by === 'local'
    if (options.abort != null) {
      this.queue.close()
      this.stream.abort(options.abort)
    } else {
      if (reason !== 'completed') this.queue.discardMedia()
      if (notify) {
        const farewell = options.farewell ?? { hangup: { reason: reasonToWire(reason), message: message != null ? Buffer.from(message).subarray(0, 256).toString() : '' } }
        this.queue.sendUrgent(encodeMessage(farewell))
      }
      await this.closeStream(options)
    }
    await this.receivers?.finalize({ signal: this.closeSignal(options) })
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
    this.phase = 'ended'
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('end', this.onRemoteEnd)
    this.emit('ended', end)
    this.resolveEnded(end)
    return end
  }

  /** The close timeout, or the caller's signal if it aborts first. */
  private closeSignal (options: AbortOptions): AbortSignal {
    const timeout = AbortSignal.timeout(this.config.closeTimeout)
    return options.signal == null ? timeout : AbortSignal.any([timeout, options.signal])
  }

  /** Flush what is queued (bounded by closeTimeout), half-close, reset later if the peer never closes its side. */
  private async closeStream (options: AbortOptions): Promise<void> {
    const stream = this.stream
    if (stream.status !== 'open') return
    const signal = this.closeSignal(options)
    try {
      await this.queue.flushed({ signal })
    } catch (err: unknown) {
      log('call %s: the queue was not flushed in time (%e): closing anyway', this.id, err)
    }
    try {
      if (stream.writeStatus === 'writable') await stream.close({ signal })
    } catch (err: unknown) {
      stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
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
