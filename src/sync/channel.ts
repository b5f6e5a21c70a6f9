import { pbStream } from '@libp2p/utils'
import { errorMessage, errorName } from '../errors.js'
import { SyncAbortedError, SyncProtocolError, toError } from './errors.js'
import type { SessionResult } from './session.js'
import type { AbortOptions, MessageStream, Stream } from '@libp2p/interface'
import type { ProtobufDecoder, ProtobufStream } from '@libp2p/utils'
import type { DecodeOptions } from 'protons-runtime'

/** Largest message after the handshake (a summary or a batch) */
export const MAX_FRAME_BYTES = 1024 * 1024
/** Bytes read ahead from a peer at most: two batches (two pulls in flight) and a little, or one frame */
const READ_BUFFER_BYTES = MAX_FRAME_BYTES + 64 * 1024
/** Largest message of an initiator before it has proved membership */
export const MAX_HANDSHAKE_BYTES = 256
/** What may be read ahead before the initiator proved membership */
const HANDSHAKE_BUFFER_BYTES = 4 * MAX_HANDSHAKE_BYTES
/** ms a peer has to prove membership (both hellos, the proof, the reply), from the start of the session */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5_000

export interface ChannelOptions extends AbortOptions {
  /** aborts the whole session (service stop, caller's signal, session deadline) */
  signal: AbortSignal
  /** ms allowed for each read and each write */
  readTimeout: number
  /** ms the peer has to prove membership; missing it is stalling, a protocol error */
  handshakeTimeout?: number
}

/** How much a peer may send at once: a handshake's few bytes, or whole frames */
export type Budget = 'handshake' | 'frames'

const varintLength = (n: number): number => n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5

function wrap (stream: MessageStream, budget: Budget): ProtobufStream {
  return budget === 'handshake'
    ? pbStream(stream, { maxDataLength: MAX_HANDSHAKE_BYTES, maxBufferSize: HANDSHAKE_BUFFER_BYTES })
    : pbStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: READ_BUFFER_BYTES })
}

/**
 * The framed stream of one session: length-prefixed protobuf reads and
 * writes with a deadline each and size limits, byte counts, and every
 * failure sorted into the peer's fault (SyncProtocolError: cut it off) or
 * nobody's (SyncAbortedError: the session just ends).
 */
export class SessionChannel {
  /** what the session did so far: bytes here, records by the exchange */
  readonly stats: SessionResult = { status: 'synced', received: 0, sent: 0, duplicates: 0, bytesIn: 0, bytesOut: 0 }
  private readonly stream: Stream
  private readonly options: ChannelOptions
  private pb: ProtobufStream
  /** why the stream closed, when it did with an error (a read buffer overflow aborts it from inside) */
  private closeError?: Error
  /** until the peer has proved membership: the deadline for that */
  private handshake?: AbortSignal
  private readonly onMessage = (evt: { data: { byteLength: number } }): void => { this.stats.bytesIn += evt.data.byteLength }
  private readonly onClose = (evt: { error?: Error }): void => { this.closeError ??= evt.error }

  constructor (stream: Stream, budget: Budget, options: ChannelOptions) {
    this.stream = stream
    this.options = options
    this.pb = wrap(stream, budget)
    this.handshake = AbortSignal.timeout(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT)
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
  }

  /** The peer proved membership: the handshake deadline no longer applies. */
  proven (): void {
    this.handshake = undefined
  }

  /** The peer may send whole frames from now on (the responder, once it admitted the initiator). */
  widen (): void {
    this.pb = wrap(this.pb.unwrap(), 'frames')
  }

  /** Stop counting; idempotent. */
  release (): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
  }

  /** The session is over: its result. */
  done (status: SessionResult['status']): SessionResult {
    this.release()
    this.stats.status = status
    return this.stats
  }

  /** The next message, decoded within `limits`; ends at the read deadline, the session's signal or `options.signal`. */
  async read<T>(codec: { decode: ProtobufDecoder<T> }, limits?: DecodeOptions<T>['limits'], options: AbortOptions = {}): Promise<T> {
    const decode: ProtobufDecoder<T> = buf => {
      try {
        return codec.decode(buf, limits != null ? { limits } : undefined)
      } catch (err: unknown) {
        throw new SyncProtocolError(`malformed message: ${errorMessage(err)}`, { cause: err })
      }
    }
    try {
      return await this.pb.read({ decode }, { signal: this.deadline(options) })
    } catch (err: unknown) {
      throw this.classify(err)
    }
  }

  /** Encode and send one message; the same deadline as a read. */
  async write<T>(value: T, codec: { encode: (v: T) => Uint8Array }, options: AbortOptions = {}): Promise<void> {
    const bytes = codec.encode(value)
    this.stats.bytesOut += bytes.byteLength + varintLength(bytes.byteLength)
    try {
      await this.pb.write(bytes, { encode: (b: Uint8Array) => b }, { signal: this.deadline(options) })
    } catch (err: unknown) {
      throw this.classify(err)
    }
  }

  private deadline (options: AbortOptions): AbortSignal {
    const signals = [this.options.signal, AbortSignal.timeout(this.options.readTimeout)]
    if (this.handshake != null) signals.push(this.handshake)
    if (options.signal != null) signals.push(options.signal)
    return AbortSignal.any(signals)
  }

  /** Protocol errors cut the peer off; everything else just ends the session. */
  private classify (err: unknown): Error {
    if (err instanceof SyncProtocolError || err instanceof SyncAbortedError) return err
    // the peer sent more than the read buffer holds: whatever failed next, that is the cause
    if (this.closeError?.name === 'StreamBufferError') return new SyncProtocolError(`oversized message: ${this.closeError.message}`, { cause: err })
    const { signal } = this.options
    if (signal.aborted) return new SyncAbortedError(`sync aborted: ${errorMessage(signal.reason)}`, { cause: err })
    // an honest peer proves membership in a few small messages: one that does not is holding a slot
    if (this.handshake?.aborted === true) return new SyncProtocolError('stalled before proving membership', { cause: err })
    switch (errorName(err)) {
      case 'AbortError':
      case 'TimeoutError':
        return new SyncAbortedError('sync peer too slow: timed out', { cause: err })
      case 'InvalidDataLengthError':
      case 'InvalidDataLengthLengthError':
      case 'InvalidMessageLengthError':
      case 'StreamBufferError':
        return new SyncProtocolError(`oversized message: ${errorMessage(err)}`, { cause: err })
      case 'UnexpectedEOFError':
      case 'StreamResetError':
      case 'StreamAbortedError':
      case 'StreamStateError':
      case 'StreamClosedError':
        return new SyncAbortedError(`stream closed: ${errorMessage(err)}`, { cause: err })
      default:
        return toError(err)
    }
  }
}
