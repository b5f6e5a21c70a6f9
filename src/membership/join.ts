/**
 * `/p2p-chat/join/1.0.0` as a libp2p service (issue 15; docs/PROTOCOL.md,
 * "Joining with a revocable invite"): a joiner shows a member the token of
 * a `p2pchat2` invite; the member checks it against the group's membership
 * log, appends the add op and answers with the group's secrets sealed to
 * the joiner's X25519 key. One request, one response per stream. The
 * answering side is rate-limited per peer before anything is decoded, every
 * read is bounded by size and time.
 */
import { logger } from '@libp2p/logger'
import { pbStream } from '@libp2p/utils'
import { serviceCapabilities } from '@libp2p/interface'
import { NotStartedError, errorMessage } from '../errors.js'
import { PeerRateLimiter } from '../rate-limit.js'
import { openStreamTo } from '../connectivity/streams.js'
import { JoinRequest, JoinResponse } from './pb/join.js'
import type { AbortOptions, Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

const log = logger('p2p-chat:join')

export const JOIN_PROTOCOL = '/p2p-chat/join/1.0.0'
/** Largest request: topic id (64), token (32), key (32), name (64), field overhead */
export const MAX_JOIN_REQUEST_BYTES = 256
/** Secret boxes in one response at most (epoch 0 and the epochs held) */
export const MAX_JOIN_SECRETS = 256
/** Largest response: the boxes (about 125 bytes each), message and name */
export const MAX_JOIN_RESPONSE_BYTES = MAX_JOIN_SECRETS * 128 + 512
/** Largest `message` of a response, bytes */
export const MAX_JOIN_MESSAGE_BYTES = 200
/** ms for a whole exchange (dial excluded): the responder appends and publishes an op meanwhile */
export const DEFAULT_JOIN_TIMEOUT = 15_000
/** Join requests a peer may make per second (burst 4): a token is 32 random bytes, nobody guesses one, but each answer costs a log lookup */
export const DEFAULT_JOIN_RATE = 0.5

export { JoinRequest, JoinResponse }
export type JoinStatus = JoinResponse.Status

/** What the service needs of the chat node: the answer to a checked request */
export interface JoinHost {
  answer: (request: JoinRequest, peer: PeerId, options: AbortOptions) => Promise<JoinResponse>
}

export interface JoinComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
}

export interface JoinInit {
  timeout?: number
  rate?: number
}

/** The response is not one: too big, malformed, or its fields out of range */
export class JoinProtocolError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'JoinProtocolError'
  }
}

/** A request's fields in range (lengths only: the host checks the rest). Pure. */
export function checkRequest (r: JoinRequest): string | undefined {
  if (r.topicId.length < 1 || r.topicId.length > 64) return 'topic id length'
  if (r.token.byteLength !== 32) return 'token length'
  if (r.x25519.byteLength !== 32) return 'key length'
  if (Buffer.byteLength(r.name, 'utf8') > 64) return 'name length'
  return undefined
}

/** A response's fields in range. Pure. */
export function checkResponse (r: JoinResponse): string | undefined {
  if (Buffer.byteLength(r.message, 'utf8') > MAX_JOIN_MESSAGE_BYTES) return 'message length'
  if (r.secrets.length > MAX_JOIN_SECRETS) return 'too many secrets'
  if (r.status === JoinResponse.Status.OK && !r.secrets.some(s => s.epoch === 0)) return 'no group secret'
  for (const s of r.secrets) {
    if (s.ephemeral.byteLength !== 32 || s.sealed.byteLength !== 48) return 'box length'
    if (s.epoch === 0 ? s.id.byteLength !== 0 : s.id.byteLength !== 32) return 'box id'
  }
  return undefined
}

export class JoinService implements Startable {
  readonly [Symbol.toStringTag] = 'p2p-chat/join'
  readonly [serviceCapabilities]: string[] = ['@p2p-chat/join']
  readonly protocol = JOIN_PROTOCOL
  private readonly components: JoinComponents
  private readonly host: JoinHost
  private readonly timeout: number
  private readonly limiter: PeerRateLimiter
  private controller?: AbortController

  constructor (components: JoinComponents, host: JoinHost, init: JoinInit = {}) {
    this.components = components
    this.host = host
    this.timeout = init.timeout ?? DEFAULT_JOIN_TIMEOUT
    const rate = init.rate ?? DEFAULT_JOIN_RATE
    this.limiter = new PeerRateLimiter({ rate, burst: Math.max(4, 2 * rate) })
  }

  async start (): Promise<void> {
    if (this.controller != null) return
    // over relayed connections too: a joiner behind a NAT may reach the inviter only through a relay
    await this.components.registrar.handle(JOIN_PROTOCOL, this.onStream, { runOnLimitedConnection: true, maxInboundStreams: 2, maxOutboundStreams: 2 })
    this.controller = new AbortController()
  }

  async stop (): Promise<void> {
    const c = this.controller
    if (c == null) return
    this.controller = undefined
    c.abort(new NotStartedError())
    await this.components.registrar.unhandle(JOIN_PROTOCOL).catch((err: unknown) => { log('unhandle: %e', err) })
  }

  private signal (options: AbortOptions): AbortSignal {
    const live = this.controller?.signal
    if (live == null) throw new NotStartedError()
    return AbortSignal.any([live, AbortSignal.timeout(this.timeout), ...(options.signal != null ? [options.signal] : [])])
  }

  /** Ask one peer (connected, or dialled by its id) to admit us. Throws on a transport or protocol failure; a refusal is a response. */
  async ask (peer: PeerId, request: JoinRequest, options: AbortOptions = {}): Promise<JoinResponse> {
    const signal = this.signal(options)
    const stream = await openStreamTo(this.components.connectionManager, peer, JOIN_PROTOCOL, { signal })
    try {
      const pb = pbStream(stream, { maxDataLength: MAX_JOIN_RESPONSE_BYTES, maxBufferSize: 2 * MAX_JOIN_RESPONSE_BYTES })
      await pb.write(request, JoinRequest, { signal })
      const response = await pb.read({
        decode: (buf) => {
          try {
            return JoinResponse.decode(buf, { limits: { secrets: MAX_JOIN_SECRETS } })
          } catch (err: unknown) {
            throw new JoinProtocolError(`malformed join response: ${errorMessage(err)}`, { cause: err })
          }
        }
      }, { signal })
      const bad = checkResponse(response)
      if (bad != null) throw new JoinProtocolError(`join response out of range: ${bad}`)
      await stream.close({ signal }).catch(() => undefined)
      return response
    } catch (err: unknown) {
      stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
      throw err
    }
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer
    if (this.controller == null || !this.limiter.take(peer.toString())) {
      // BUSY before anything is read or decoded
      this.reply(stream, { status: JoinResponse.Status.BUSY, message: 'too many join requests: try again in a few seconds', name: '', secrets: [] })
      return
    }
    this.serve(stream, peer).catch((err: unknown) => {
      log('join request from %p failed: %e', peer, err)
      stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
    })
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const signal = this.signal({})
    const pb = pbStream(stream, { maxDataLength: MAX_JOIN_REQUEST_BYTES, maxBufferSize: 2 * MAX_JOIN_REQUEST_BYTES })
    const request = await pb.read({ decode: (buf) => JoinRequest.decode(buf) }, { signal })
    const bad = checkRequest(request)
    const response = bad != null
      ? { status: JoinResponse.Status.FAILED, message: `malformed request (${bad})`, name: '', secrets: [] }
      : await this.host.answer(request, peer, { signal })
    await pb.write(response, JoinResponse, { signal })
    await stream.close({ signal })
  }

  /** Send one response and close, not waiting for anything */
  private reply (stream: Stream, response: JoinResponse): void {
    const pb = pbStream(stream)
    pb.write(response, JoinResponse, { signal: AbortSignal.timeout(this.timeout) })
      .then(async () => { await stream.close({ signal: AbortSignal.timeout(this.timeout) }) })
      .catch(() => { stream.abort(new Error('join answer not sent')) })
  }
}

/** The join service for `createLibp2p`'s services: `join: joinService(host)` */
export function joinService (host: JoinHost, init: JoinInit = {}): (components: JoinComponents) => JoinService {
  return (components) => new JoinService(components, host, init)
}
