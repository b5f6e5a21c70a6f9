/**
 * The call service: handles /p2p-chat/call/2.0.0, places calls, keeps the
 * calls under way, admits only peers that prove they share a group (an HMAC
 * membership proof in the offer, checked against the call keys ChatNode
 * supplies; see membership.ts) and refuses the rest with a reason.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { CallFailedError, InvalidInputError, NoSuchCallError, NotStartedError, TimeoutError } from '../errors.js'
import { openInput, openOutput } from './media/index.js'
import { CALL_ID_BYTES, CALL_PROTOCOL } from './protocol.js'
import { MAX_PROOFS, NONCE_BYTES, callProof, checkCalleeProof, findProver, offerProofs } from './membership.js'
import { Call } from './session.js'
import { PeerRateLimiter } from '../rate-limit.js'
import type { MediaSource, OutputPlan } from './media/index.js'
import type { CallEndReason } from './protocol.js'
import type { AnswerOptions, CallEnd, CallInfo, CallOptions, SessionConfig } from './session.js'
import type { CallStats } from './stats.js'
import type { CallTranscript } from './membership.js'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'

const log = logger('p2p-chat:calls')

export const DEFAULT_MAX_CALLS = 1
export const DEFAULT_RING_TIMEOUT = 30_000
export const DEFAULT_OFFER_TIMEOUT = 5_000
export const DEFAULT_PING_INTERVAL = 1_000
export const DEFAULT_IDLE_TIMEOUT = 5_000
export const DEFAULT_STATS_INTERVAL = 1_000
export const DEFAULT_PLAYOUT_DELAY = 60
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
export const DEFAULT_PAUSE_BYTES = 1024 * 1024
export const DEFAULT_CLOSE_TIMEOUT = 2_000
export const DEFAULT_DIAL_TIMEOUT = 10_000
/** inbound call streams one peer may open per minute (a burst of that many, then one every 60/n s) */
export const DEFAULT_CALL_ATTEMPTS_PER_MINUTE = 30
/**
 * A paused lossless call can still receive what the peer's yamux window
 * allowed (up to 16 MiB): the read buffer must hold it rather than reset.
 */
const CALL_READ_BUFFER_BYTES = 17 * 1024 * 1024

export interface CallServiceInit {
  /**
   * The call keys (`callKey(group MAC key)`) of the groups we are in, those
   * `peer` is known to share first: the offer proves the first four, the
   * callee tries all of its own. ChatNode supplies it; without it (a bare
   * service in a test) every caller is admitted.
   */
  callKeys?: (peer: PeerId) => Uint8Array[]
  /** calls ringing or connected at once; beyond, callers are told 'busy'. Default 1 */
  maxCalls?: number
  /** ms a call rings before 'no-answer'. Default 30 s */
  ringTimeout?: number
  /** ms an inbound stream has to send its offer. Default 5 s */
  offerTimeout?: number
  /** ms between pings (RTT, clock offset, liveness). Default 1 s */
  pingInterval?: number
  /** ms without any message from the peer before the call is declared lost. Default 5 s */
  idleTimeout?: number
  /** ms between 'stats' events. Default 1 s */
  statsInterval?: number
  /** jitter buffer playout delay for live outputs, ms. Default 60 */
  playoutDelay?: number
  /** bytes queued for sending before live frames are dropped. Default 512 KiB */
  maxQueuedBytes?: number
  /** bytes held for live outputs before the oldest frames are dropped (video first). Default 1 MiB */
  maxBufferedBytes?: number
  /** bytes held for lossless outputs before the stream is paused. Default 1 MiB */
  pauseBytes?: number
  /** ms to flush and close a stream at the end. Default 2 s */
  closeTimeout?: number
  /** ms to reach the peer when placing a call. Default 10 s */
  dialTimeout?: number
  /** inbound call streams one peer may open per minute; beyond, they are reset unread. Default 30 */
  callAttemptsPerMinute?: number
}

export interface CallStatsEvent {
  callId: string
  peerId: string
  stats: CallStats
}

export interface CallRefusedEvent {
  callId: string
  peerId: string
  reason: CallEndReason
  message?: string
}

export interface CallServiceEvents {
  /** we placed a call; it rings at the peer */
  'call:outgoing': [Call]
  /** a group member is calling: `accept()` or `reject()` it (or ChatNode.answer / reject) */
  'call:incoming': [Call]
  'call:connected': [Call]
  /** once per stats interval per connected call */
  'call:stats': [CallStatsEvent]
  /** every call announced by 'call:outgoing' or 'call:incoming' ends once, on both sides */
  'call:ended': [CallEnd]
  /** an inbound call refused before ringing (not a group member, busy) */
  'call:refused': [CallRefusedEvent]
}

/** The event names, for forwarding them. */
export const CALL_EVENTS = ['call:outgoing', 'call:incoming', 'call:connected', 'call:stats', 'call:ended', 'call:refused'] as const

export class CallService extends EventEmitter<CallServiceEvents> {
  private readonly libp2p: Libp2p
  private readonly init: CallServiceInit
  private readonly config: SessionConfig
  private readonly calls = new Map<string, Call>()
  private ringingQueue: Call[] = []
  private waiters: Array<{ resolve: (call: Call) => void, reject: (err: Error) => void }> = []
  private started = false
  private stopping = false
  private readonly attempts: PeerRateLimiter

  constructor (libp2p: Libp2p, init: CallServiceInit = {}) {
    super()
    this.libp2p = libp2p
    this.init = init
    this.config = {
      ringTimeout: init.ringTimeout ?? DEFAULT_RING_TIMEOUT,
      offerTimeout: init.offerTimeout ?? DEFAULT_OFFER_TIMEOUT,
      pingInterval: init.pingInterval ?? DEFAULT_PING_INTERVAL,
      idleTimeout: init.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      statsInterval: init.statsInterval ?? DEFAULT_STATS_INTERVAL,
      playoutDelay: init.playoutDelay ?? DEFAULT_PLAYOUT_DELAY,
      maxQueuedBytes: init.maxQueuedBytes ?? 512 * 1024,
      maxBufferedBytes: init.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      pauseBytes: init.pauseBytes ?? DEFAULT_PAUSE_BYTES,
      closeTimeout: init.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT
    }
    const perMinute = init.callAttemptsPerMinute ?? DEFAULT_CALL_ATTEMPTS_PER_MINUTE
    this.attempts = new PeerRateLimiter({ rate: perMinute / 60, burst: perMinute })
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.libp2p.handle(CALL_PROTOCOL, this.onStream, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.started = true
    this.stopping = false
  }

  /** Hang up every call ('shutdown': the peers are told), refuse new ones. Idempotent. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.stopping = true
    await this.libp2p.unhandle(CALL_PROTOCOL).catch(() => {})
    await Promise.all([...this.calls.values()].map(async c => c.end('shutdown', 'local', 'the node is stopping')))
    for (const w of this.waiters) w.reject(new NotStartedError())
    this.waiters = []
    this.ringingQueue = []
    this.started = false
  }

  private live (): void {
    if (!this.started || this.stopping) throw new NotStartedError()
  }

  /** Calls ringing or connected. */
  list (): CallInfo[] {
    return [...this.calls.values()].map(c => c.info())
  }

  get (callId: string): Call | undefined {
    return this.calls.get(callId)
  }

  private activeCount (): number {
    return this.calls.size
  }

  // ---- placing a call --------------------------------------------------------

  /**
   * Ring a peer. Opens the media first (a missing tool or file fails here),
   * then resolves once the peer accepted; rejects with CallRejectedError
   * (declined, busy, not a member, no answer) or CallFailedError.
   */
  async call (peer: string | PeerId, opts: CallOptions = {}): Promise<Call> {
    this.live()
    let peerId: PeerId
    try {
      peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    } catch {
      throw new InvalidInputError(`not a peer id: ${String(peer)}`)
    }
    if (peerId.equals(this.libp2p.peerId)) throw new InvalidInputError('cannot call yourself')
    if (this.activeCount() >= (this.init.maxCalls ?? DEFAULT_MAX_CALLS)) throw new CallFailedError('busy', 'already in a call: hang up first')
    opts.signal?.throwIfAborted()
    const video = opts.video ?? false

    let sources: MediaSource[] = []
    let plan: OutputPlan | undefined
    let stream: Stream
    try {
      sources = await openInput(opts.input, { video, frameBytes: opts.frameBytes, frameMs: opts.frameMs })
      plan = await openOutput(opts.output, { video })
      const timeout = AbortSignal.timeout(this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT)
      const signal = opts.signal != null ? AbortSignal.any([opts.signal, timeout]) : timeout
      try {
        stream = await this.libp2p.dialProtocol(peerId, CALL_PROTOCOL, { signal })
      } catch (err: any) {
        if (opts.signal?.aborted === true) throw new CallFailedError('cancelled', 'call cancelled', { cause: err })
        throw new CallFailedError('unreachable', `cannot reach ${peerId.toString()} for a call: ${err.message}`, { cause: err })
      }
    } catch (err) {
      sources.forEach(s => { s.close() })
      plan?.close()
      throw err
    }
    if (this.stopping) {
      stream.abort(new Error('node stopping'))
      sources.forEach(s => { s.close() })
      plan?.close()
      throw new NotStartedError()
    }
    stream.maxReadBufferLength = CALL_READ_BUFFER_BYTES
    const callId = new Uint8Array(randomBytes(CALL_ID_BYTES))
    const t = this.transcript(this.libp2p.peerId, peerId, callId, new Uint8Array(randomBytes(NONCE_BYTES)))
    const keys = this.init.callKeys?.(peerId).slice(0, MAX_PROOFS)
    const checkAnswer = keys == null ? undefined : (proof: Uint8Array | undefined) => checkCalleeProof(keys, proof, t)
    const call = new Call({ stream, direction: 'outbound', remotePeer: peerId, video, config: this.config, hooks: { checkAnswer } })
    call.setMedia(sources, plan!, opts.endWhenDone)
    call.offer(callId, video, { nonce: t.nonce, proofs: offerProofs(keys ?? [], t) })
    this.track(call)
    call.attach()
    call.bindSignal(opts.signal)
    this.emit('call:outgoing', call)
    await call.waitConnected()
    return call
  }

  // ---- answering ---------------------------------------------------------------

  /** The oldest call ringing here and not yet handed out, or the next one to ring. */
  async nextIncoming (opts: { signal?: AbortSignal, timeout?: number } = {}): Promise<Call> {
    this.live()
    this.ringingQueue = this.ringingQueue.filter(c => c.state === 'ringing')
    const ready = this.ringingQueue.shift()
    if (ready != null) return ready
    opts.signal?.throwIfAborted()
    return new Promise<Call>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const waiter = {
        resolve: (call: Call) => { cleanup(); resolve(call) },
        reject: (err: Error) => { cleanup(); reject(err) }
      }
      const onAbort = (): void => { waiter.reject(opts.signal?.reason ?? new Error('aborted')) }
      const cleanup = (): void => {
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        this.waiters = this.waiters.filter(w => w !== waiter)
      }
      if (opts.timeout != null) timer = setTimeout(() => { waiter.reject(new TimeoutError(`no incoming call within ${opts.timeout} ms`)) }, opts.timeout)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  private ringing (callId?: string): Call {
    if (callId != null) {
      const call = this.calls.get(callId)
      if (call == null || call.direction !== 'inbound' || call.state !== 'ringing') throw new NoSuchCallError(`no call ${callId} is ringing here`)
      this.ringingQueue = this.ringingQueue.filter(c => c !== call)
      return call
    }
    this.ringingQueue = this.ringingQueue.filter(c => c.state === 'ringing')
    const call = this.ringingQueue.shift()
    if (call == null) throw new NoSuchCallError('no call is ringing here')
    return call
  }

  /**
   * Accept a ringing call: the given one, else the oldest ringing, else wait
   * for the next (`timeout` ms, `signal`). Resolves once connected.
   */
  async answer (opts: AnswerOptions & { callId?: string, signal?: AbortSignal, timeout?: number } = {}): Promise<Call> {
    this.live()
    const call = opts.callId != null
      ? this.ringing(opts.callId)
      : await this.nextIncoming({ signal: opts.signal, timeout: opts.timeout })
    return call.accept(opts)
  }

  /** Refuse a ringing call (the given one, else the oldest ringing). */
  async reject (callId?: string, reason?: string): Promise<CallEnd> {
    this.live()
    return this.ringing(callId).reject(reason)
  }

  /** Hang up the given call, or every call. */
  async hangup (callId?: string): Promise<CallEnd[]> {
    if (callId != null) {
      const call = this.calls.get(callId)
      if (call == null) throw new NoSuchCallError(`no call ${callId}`)
      return [await call.hangup()]
    }
    return Promise.all([...this.calls.values()].map(async c => c.hangup()))
  }

  // ---- inbound -----------------------------------------------------------------

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    if (!this.started || this.stopping) {
      stream.abort(new Error('not taking calls'))
      return
    }
    if (!this.attempts.take(connection.remotePeer.toString())) {
      log('too many call attempts from %p: stream reset', connection.remotePeer)
      stream.abort(new Error('too many call attempts'))
      return
    }
    stream.maxReadBufferLength = CALL_READ_BUFFER_BYTES
    const call = new Call({
      stream,
      direction: 'inbound',
      remotePeer: connection.remotePeer,
      config: this.config,
      hooks: { onOffer: (c) => { void this.admit(c) } }
    })
    call.attach()
  }

  private transcript (caller: PeerId, callee: PeerId, callId: Uint8Array, nonce: Uint8Array): CallTranscript {
    return { caller: caller.toMultihash().bytes, callee: callee.toMultihash().bytes, callId, nonce }
  }

  /**
   * Does the offer prove that the caller holds the key of one of our groups?
   * If so, the proof this side answers with; else undefined. Without
   * `callKeys` every caller is admitted (and answered without a proof).
   */
  private membershipAnswer (call: Call): { proof?: Uint8Array } | undefined {
    if (this.init.callKeys == null) return {}
    const m = call.membership
    if (m == null) return undefined
    const t = this.transcript(call.remotePeer, this.libp2p.peerId, call.rawCallId, m.nonce)
    const keys = this.init.callKeys(call.remotePeer)
    const i = findProver(keys, m.proofs, t)
    return i < 0 ? undefined : { proof: callProof(keys[i], 'callee', t) }
  }

  /** A valid offer arrived: group members ring (unless busy), others are refused. */
  private async admit (call: Call): Promise<void> {
    const refuse = (reason: CallEndReason, message: string): void => {
      log('refused call %s from %p: %s', call.id, call.remotePeer, reason)
      void call.refuse(reason, message)
      this.emit('call:refused', { callId: call.id, peerId: call.peerId, reason, message })
    }
    try {
      const membership = this.membershipAnswer(call)
      if (membership == null) {
        refuse('not-a-member', 'you share no group with this peer')
        return
      }
      if (membership.proof != null) call.setAnswerProof(membership.proof)
      if (call.state === 'ended') return
      if (this.stopping) {
        void call.refuse('shutdown', 'the node is stopping')
        return
      }
      if (this.activeCount() >= (this.init.maxCalls ?? DEFAULT_MAX_CALLS)) {
        refuse('busy', 'the peer is in another call')
        return
      }
      if (this.calls.has(call.id)) {
        refuse('rejected', 'duplicate call id')
        return
      }
      this.track(call)
      call.ring()
      this.emit('call:incoming', call)
      const waiter = this.waiters.shift()
      if (waiter != null) waiter.resolve(call)
      else this.ringingQueue.push(call)
    } catch (err: any) {
      log.error('admitting call %s failed: %e', call.id, err)
      void call.end('protocol-error', 'local', err.message, { abort: err })
    }
  }

  private track (call: Call): void {
    this.calls.set(call.id, call)
    call.on('connected', () => { this.emit('call:connected', call) })
    call.on('stats', (stats) => { this.emit('call:stats', { callId: call.id, peerId: call.peerId, stats }) })
    call.once('ended', (end) => {
      this.calls.delete(call.id)
      this.ringingQueue = this.ringingQueue.filter(c => c !== call)
      call.removeAllListeners('connected')
      call.removeAllListeners('stats')
      this.emit('call:ended', end)
    })
  }
}
