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
import { CallFailedError, InvalidInputError, NoSuchCallError, NotStartedError, errorMessage } from '../errors.js'
import { Admission } from './admission.js'
import { IncomingCalls } from './incoming.js'
import { openInput, openOutput } from './media/index.js'
import { CALL_ID_BYTES, CALL_PROTOCOL } from './protocol.js'
import { Call } from './session.js'
import type { IncomingOptions } from './incoming.js'
import type { MediaSource, OutputPlan } from './media/index.js'
import type { CallEndReason } from './protocol.js'
import type { AnswerOptions, CallEnd, CallInfo, CallOptions, SessionConfig } from './types.js'
import type { CallStats } from './stats.js'
import { openStreamTo } from '../connectivity/streams.js'
import { serviceCapabilities } from '@libp2p/interface'
import type { AbortOptions, Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

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
/** ms a peer whose ring went unanswered waits before it may ring again */
export const DEFAULT_RING_COOLDOWN = 30_000
/** inbound calls ringing at once */
export const DEFAULT_MAX_RINGING = 8
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
  /**
   * calls placed or answered at once; beyond, callers are told 'busy'.
   * Inbound calls that only ring do not count (answering one takes the
   * slot; the others ringing are then refused 'busy'). Default 1
   */
  maxCalls?: number
  /** inbound calls ringing at once; beyond, callers are told 'busy'. Default 8 */
  maxRinging?: number
  /** ms after a peer's ring ended unanswered (no answer, declined, cancelled, lost) during which its new calls are refused 'busy'. Default 30 s; 0: none */
  ringCooldown?: number
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

/** What libp2p injects */
export interface CallComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
}

export class CallService extends EventEmitter<CallServiceEvents> implements Startable {
  readonly [Symbol.toStringTag] = 'p2p-chat/calls'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/calls']
  private readonly components: CallComponents
  private readonly init: CallServiceInit
  private readonly config: SessionConfig
  private readonly calls = new Map<string, Call>()
  private readonly incoming = new IncomingCalls()
  private readonly admission: Admission
  private started = false
  private stopping = false

  constructor (components: CallComponents, init: CallServiceInit = {}) {
    super()
    this.components = components
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
    this.admission = new Admission({
      self: components.peerId,
      callKeys: init.callKeys,
      maxCalls: init.maxCalls ?? DEFAULT_MAX_CALLS,
      attemptsPerMinute: init.callAttemptsPerMinute ?? DEFAULT_CALL_ATTEMPTS_PER_MINUTE,
      ringCooldown: init.ringCooldown ?? DEFAULT_RING_COOLDOWN,
      maxRinging: init.maxRinging ?? DEFAULT_MAX_RINGING
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    // over a relayed (limited) connection too: signalling and media then count against the relay's limits (docs/PROTOCOL.md)
    await this.components.registrar.handle(CALL_PROTOCOL, this.onStream, { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: true })
    this.started = true
    this.stopping = false
  }

  /**
   * Hang up every call ('shutdown': the peers are told, so it runs while
   * connections are still up), refuse new ones. Idempotent.
   */
  async beforeStop (): Promise<void> {
    if (!this.started) return
    this.stopping = true
    await this.components.registrar.unhandle(CALL_PROTOCOL).catch((err: unknown) => { log('unhandle %s: %e', CALL_PROTOCOL, err) })
    await Promise.all([...this.calls.values()].map(async c => c.end('shutdown', 'local', 'the node is stopping')))
    this.incoming.clear(new NotStartedError())
    this.started = false
  }

  /** Everything ended in beforeStop. */
  async stop (): Promise<void> {
    await this.beforeStop()
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
    if (peerId.equals(this.components.peerId)) throw new InvalidInputError('cannot call yourself')
    if (!this.admission.canCall(this.calls)) throw new CallFailedError('busy', 'already in a call: hang up first')
    opts.signal?.throwIfAborted()
    const video = opts.video ?? false

    let sources: MediaSource[] = []
    let plan: OutputPlan | undefined
    const release = (): void => {
      sources.forEach(s => { s.close() })
      plan?.close()
    }
    let stream: Stream
    try {
      sources = await openInput(opts.input, { video, frameBytes: opts.frameBytes, frameMs: opts.frameMs })
      plan = await openOutput(opts.output, { video })
      stream = await this.dial(peerId, opts)
    } catch (err) {
      release()
      throw err
    }
    if (this.stopping) {
      stream.abort(new Error('node stopping'))
      release()
      throw new NotStartedError()
    }
    stream.maxReadBufferLength = CALL_READ_BUFFER_BYTES
    const callId = new Uint8Array(randomBytes(CALL_ID_BYTES))
    const { membership, checkAnswer } = this.admission.offer(peerId, callId)
    const call = new Call({ stream, direction: 'outbound', remotePeer: peerId, video, config: this.config, hooks: { checkAnswer } })
    call.setMedia(sources, plan, opts.endWhenDone)
    call.offer(callId, video, membership)
    this.track(call)
    call.attach()
    call.bindSignal(opts.signal)
    this.emit('call:outgoing', call)
    await call.waitConnected()
    return call
  }

  /** A call stream to `peer`, within the dial timeout (and `options.signal`). */
  private async dial (peer: PeerId, options: AbortOptions): Promise<Stream> {
    const timeout = AbortSignal.timeout(this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    try {
      return await openStreamTo(this.components.connectionManager, peer, CALL_PROTOCOL, { signal })
    } catch (err: unknown) {
      if (options.signal?.aborted === true) throw new CallFailedError('cancelled', 'call cancelled', { cause: err })
      throw new CallFailedError('unreachable', `cannot reach ${peer.toString()} for a call: ${errorMessage(err)}`, { cause: err })
    }
  }

  // ---- answering ---------------------------------------------------------------

  /** The oldest call ringing here and not yet handed out, or the next one to ring (within `options.timeout` ms, if given). */
  async nextIncoming (options: IncomingOptions = {}): Promise<Call> {
    this.live()
    return this.incoming.next(options)
  }

  private ringing (callId?: string): Call {
    if (callId != null) {
      const call = this.calls.get(callId)
      if (call == null || call.direction !== 'inbound' || call.state !== 'ringing') throw new NoSuchCallError(`no call ${callId} is ringing here`)
      this.incoming.remove(call)
      return call
    }
    const call = this.incoming.shift()
    if (call == null) throw new NoSuchCallError('no call is ringing here')
    return call
  }

  /**
   * Accept a ringing call: the given one, else the oldest ringing, else wait
   * for the next (`timeout` ms, `signal`). Resolves once connected.
   */
  async answer (opts: AnswerOptions & IncomingOptions & { callId?: string } = {}): Promise<Call> {
    this.live()
    if (!this.admission.canCall(this.calls)) throw new CallFailedError('busy', 'already in a call: hang up first')
    const call = opts.callId != null
      ? this.ringing(opts.callId)
      : await this.incoming.next({ signal: opts.signal, timeout: opts.timeout })
    if (!this.admission.canCall(this.calls)) {
      // it rings on: the slot may free up before it stops ringing
      this.incoming.unshift(call)
      throw new CallFailedError('busy', 'already in a call: hang up first')
    }
    return call.accept(opts)
  }

  /** Refuse a ringing call (the given one, else the oldest ringing). */
  async reject (callId?: string, reason?: string, options: AbortOptions = {}): Promise<CallEnd> {
    this.live()
    return this.ringing(callId).reject(reason, options)
  }

  /** Hang up the given call, or every call. */
  async hangup (callId?: string, options: AbortOptions = {}): Promise<CallEnd[]> {
    if (callId != null) {
      const call = this.calls.get(callId)
      if (call == null) throw new NoSuchCallError(`no call ${callId}`)
      return [await call.hangup(options)]
    }
    return Promise.all([...this.calls.values()].map(async c => c.hangup(options)))
  }

  // ---- inbound -----------------------------------------------------------------

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    if (!this.started || this.stopping) {
      stream.abort(new Error('not taking calls'))
      return
    }
    if (!this.admission.allowStream(connection.remotePeer)) {
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
      hooks: { onOffer: (c) => { this.admit(c) } }
    })
    call.attach()
  }

  /** A valid offer arrived: group members ring (unless busy), others are refused. */
  private admit (call: Call): void {
    const refuse = (reason: CallEndReason, message: string): void => {
      log('refused call %s from %p: %s', call.id, call.remotePeer, reason)
      void call.refuse(reason, message)
      this.emit('call:refused', { callId: call.id, peerId: call.peerId, reason, message })
    }
    try {
      const member = this.admission.member(call)
      if (!member.ok) {
        refuse(member.reason, member.message)
        return
      }
      if (member.proof != null) call.setAnswerProof(member.proof)
      if (call.state === 'ended') return
      if (this.stopping) {
        void call.refuse('shutdown', 'the node is stopping')
        return
      }
      const slot = this.admission.slot(call, this.calls)
      if (!slot.ok) {
        refuse(slot.reason, slot.message)
        return
      }
      this.track(call)
      call.ring()
      this.emit('call:incoming', call)
      this.incoming.push(call)
    } catch (err: unknown) {
      log.error('admitting call %s failed: %e', call.id, err)
      void call.end('protocol-error', 'local', errorMessage(err), { abort: err instanceof Error ? err : new Error(errorMessage(err)) })
    }
  }

  /** The slots are full: the calls that only ring here are refused busy. */
  private refuseRinging (): void {
    if (this.admission.canCall(this.calls)) return
    for (const c of this.calls.values()) {
      if (c.direction === 'inbound' && !c.engaged && c.state === 'ringing') void c.refuse('busy', 'the peer took another call')
    }
  }

  private track (call: Call): void {
    this.calls.set(call.id, call)
    call.on('connected', () => {
      this.emit('call:connected', call)
      this.refuseRinging()
    })
    call.on('stats', (stats) => { this.emit('call:stats', { callId: call.id, peerId: call.peerId, stats }) })
    call.once('ended', (end) => {
      this.calls.delete(call.id)
      this.incoming.remove(call)
      // a ring that nobody answered (and that this side did not turn away for being busy or stopping)
      if (call.direction === 'inbound' && !end.connected && end.reason !== 'busy' && end.reason !== 'shutdown') this.admission.cooldown(call.remotePeer)
      call.removeAllListeners('connected')
      call.removeAllListeners('stats')
      this.emit('call:ended', end)
    })
  }
}

/** Calls as a libp2p service: `services: { calls: calls(init) }`. */
export function calls (init: CallServiceInit = {}): (components: CallComponents) => CallService {
  return (components) => new CallService(components, init)
}
