/**
 * The framing of /p2p-chat/file/1.0.0: length-prefixed protobuf messages
 * (FileRequest one way, FileResponse the other) with a size limit checked
 * on the length prefix, a read buffer limit, a deadline on every read and
 * write, an optional check before each message is decoded (the serving
 * end's rate limit), and every failure sorted into the peer's fault
 * (FileProtocolError) or nobody's.
 */
import { pbStream } from '@libp2p/utils'
import { errorMessage, errorName } from '../errors.js'
import { TAG_BYTES, chunkCount } from './chunks.js'
import { FileProtocolError } from './errors.js'
import { HASH_BYTES } from './manifest.js'
import type { FileRef } from '../envelope/index.js'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { ProtobufDecoder, ProtobufStream } from '@libp2p/utils'

export const FILE_PROTOCOL = '/p2p-chat/file/1.0.0'
/** Largest request (OPEN: two 32-byte fields and a few numbers) */
export const MAX_REQUEST_BYTES = 128
/** Requests read ahead at most (what an honest requester pipelines, and some) */
export const REQUEST_BUFFER_BYTES = 64 * MAX_REQUEST_BYTES
/** Chunks one CHUNKS request may ask for */
export const MAX_RANGE = 64
/** Room for a response's fields beside its bytes */
const RESPONSE_OVERHEAD = 32

/** Largest response for a file: a chunk (plain bytes + tag), the manifest or the chunk set, and its fields */
export function maxResponseBytes (ref: Pick<FileRef, 'size' | 'chunkSize'>): number {
  const n = chunkCount(Number(ref.size), ref.chunkSize)
  return Math.max(ref.chunkSize + TAG_BYTES, HASH_BYTES * n, Math.ceil(n / 8)) + RESPONSE_OVERHEAD
}

export interface ChannelInit {
  /** largest message read (checked on its length prefix, before it is buffered whole) */
  maxDataLength: number
  /** bytes read ahead at most; beyond, the stream is aborted (the peer sent what nobody asked for) */
  maxBufferSize: number
  /** ms for each read and write */
  timeout: number
  /** ends everything (service stop, the caller's signal) */
  signal: AbortSignal
  /** before each message is decoded: throw to refuse it (rate limits) */
  beforeDecode?: () => void
}

/** A view typed as protons' bytes fields want it (node's Buffers are ArrayBuffer-backed, typed ArrayBufferLike) */
export function bytes (b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>
}

/** The stream ended where a message could begin */
export const END = Symbol('end of stream')

export class FileChannel {
  readonly stream: Stream
  private readonly init: ChannelInit
  private readonly pb: ProtobufStream
  private closeError?: Error
  private readonly onClose = (evt: { error?: Error }): void => { this.closeError ??= evt.error }
  bytesIn = 0
  bytesOut = 0

  constructor (stream: Stream, init: ChannelInit) {
    this.stream = stream
    this.init = init
    this.pb = pbStream(stream, { maxDataLength: init.maxDataLength, maxBufferSize: init.maxBufferSize })
    stream.addEventListener('close', this.onClose)
  }

  /** The next message, or END when the peer closed its side between messages. */
  async read<T>(codec: { decode: ProtobufDecoder<T> }): Promise<T | typeof END> {
    const decode: ProtobufDecoder<T> = buf => {
      this.bytesIn += buf.byteLength
      this.init.beforeDecode?.()
      try {
        return codec.decode(buf)
      } catch (err: unknown) {
        throw new FileProtocolError(`malformed message: ${errorMessage(err)}`, { cause: err })
      }
    }
    // a read of what is buffered already does not look at the signal
    this.init.signal.throwIfAborted()
    try {
      return await this.pb.read({ decode }, { signal: this.deadline() })
    } catch (err: unknown) {
      if (errorName(err) === 'UnexpectedEOFError' && this.closeError == null) return END
      throw this.classify(err)
    }
  }

  async write<T>(value: T, codec: { encode: (v: T) => Uint8Array }): Promise<void> {
    const bytes = codec.encode(value)
    this.bytesOut += bytes.byteLength
    this.init.signal.throwIfAborted()
    try {
      await this.pb.write(bytes, { encode: (b: Uint8Array) => b }, { signal: this.deadline() })
    } catch (err: unknown) {
      throw this.classify(err)
    }
  }

  /** Close our side gracefully (within the deadline). */
  async close (options: AbortOptions = {}): Promise<void> {
    this.stream.removeEventListener('close', this.onClose)
    await this.stream.close({ signal: options.signal ?? this.deadline() })
  }

  abort (err: Error): void {
    this.stream.removeEventListener('close', this.onClose)
    this.stream.abort(err)
  }

  private deadline (): AbortSignal {
    return AbortSignal.any([this.init.signal, AbortSignal.timeout(this.init.timeout)])
  }

  /** Oversized or malformed messages are the peer's fault; timeouts, resets and aborts are nobody's. */
  private classify (err: unknown): Error {
    if (err instanceof FileProtocolError) return err
    if (this.closeError?.name === 'StreamBufferError') return new FileProtocolError(`the peer sent more than was asked: ${this.closeError.message}`, { cause: err })
    switch (errorName(err)) {
      case 'InvalidDataLengthError':
      case 'InvalidDataLengthLengthError':
      case 'InvalidMessageLengthError':
      case 'StreamBufferError':
        return new FileProtocolError(`oversized message: ${errorMessage(err)}`, { cause: err })
      default:
        return err instanceof Error ? err : new Error(errorMessage(err))
    }
  }
}
