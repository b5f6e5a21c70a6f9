/**
 * Raw mode: bytes from a file, a pipe or standard input go over unchanged,
 * cut into frames (paced in real time for audio, as fast as the stream takes
 * them otherwise), and come out unchanged into a file, a pipe or standard
 * output. Lossless end to end: raw sources are read only as fast as the
 * stream takes them, raw sinks pause the stream rather than drop.
 */
import { createWriteStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { MediaError, errorMessage } from '../../errors.js'
import type { FrameInfo, MediaKindName, MediaSink, MediaSource, RawFraming } from './types.js'
import type { Readable } from 'node:stream'

const log = logger('p2p-chat:calls:media')

/** 20 ms of 48 kHz, 16-bit, mono PCM */
export const DEFAULT_AUDIO_FRAME_BYTES = 1920
export const DEFAULT_AUDIO_FRAME_MS = 20
export const DEFAULT_VIDEO_FRAME_BYTES = 8192
const READ_CHUNK = 64 * 1024

/** Cut a byte stream into frames of exactly `size` bytes (the last may be shorter). */
export async function * chunk (source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = []
  let held = 0
  for await (const buf of source) {
    // typed as bytes, but a Node stream may hand over any ArrayBuffer view
    const item: unknown = buf
    let data = item instanceof Uint8Array ? item : new Uint8Array(item as ArrayBufferLike)
    while (data.byteLength > 0) {
      const take = Math.min(size - held, data.byteLength)
      parts.push(data.subarray(0, take))
      held += take
      data = data.subarray(take)
      if (held === size) {
        yield parts.length === 1 ? parts[0].slice() : Buffer.concat(parts)
        parts = []
        held = 0
      }
    }
  }
  if (held > 0) yield Buffer.concat(parts)
}

/** Release frames no faster than one per `frameMs`, on an absolute schedule (no drift). */
export async function * pace (frames: AsyncIterable<Uint8Array>, frameMs: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  let start: number | undefined
  let i = 0
  for await (const f of frames) {
    if (signal.aborted) return
    if (frameMs > 0) {
      start ??= performance.now()
      const wait = start + i * frameMs - performance.now()
      if (wait >= 1) {
        try {
          await sleep(wait, undefined, { signal })
        } catch {
          return
        }
      }
    }
    i++
    yield f
  }
}

function framing (kind: MediaKindName, opts: RawFraming): { frameBytes: number, frameMs: number } {
  const frameBytes = opts.frameBytes ?? (kind === 'audio' ? DEFAULT_AUDIO_FRAME_BYTES : DEFAULT_VIDEO_FRAME_BYTES)
  const frameMs = opts.frameMs ?? (kind === 'audio' ? DEFAULT_AUDIO_FRAME_MS : 0)
  if (!Number.isInteger(frameBytes) || frameBytes < 1 || frameBytes > 128 * 1024) throw new MediaError(`frame size must be 1..131072 bytes, got ${frameBytes}`)
  if (!(frameMs >= 0 && frameMs <= 1000)) throw new MediaError(`frame interval must be 0..1000 ms, got ${frameMs}`)
  return { frameBytes, frameMs }
}

function isNodeReadable (x: unknown): x is Readable {
  return typeof x === 'object' && x != null && 'pipe' in x && typeof x.pipe === 'function' && 'on' in x && typeof x.on === 'function'
}

/**
 * A raw source: a file path, '-' for standard input, a Node readable stream
 * or an async iterable of bytes. A file is opened now, so a missing file
 * fails here, before any call is placed.
 */
export async function rawSource (input: string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>, opts: RawFraming & { kind: MediaKindName }): Promise<MediaSource> {
  const { frameBytes, frameMs } = framing(opts.kind, opts)
  let bytes: () => AsyncIterable<Uint8Array>
  let release: () => void = () => { /* an iterable of bytes holds nothing to release */ }
  if (input === '-') {
    const stdin = process.stdin
    bytes = () => stdin.iterator({ destroyOnReturn: false })
    release = () => { stdin.pause() }
  } else if (typeof input === 'string') {
    let handle: Awaited<ReturnType<typeof open>>
    try {
      handle = await open(input, 'r')
    } catch (err: unknown) {
      throw new MediaError(`cannot read input ${input}: ${errorMessage(err)}`, { cause: err })
    }
    let stream: Readable | undefined
    bytes = () => (stream = handle.createReadStream({ highWaterMark: READ_CHUNK }))
    release = () => {
      if (stream != null) stream.destroy()
      else handle.close().catch((err: unknown) => { log('closing input %s: %e', input, err) })
    }
  } else if (isNodeReadable(input)) {
    bytes = () => input
    release = () => { input.destroy() }
  } else {
    bytes = () => input as AsyncIterable<Uint8Array>
  }
  let closed = false
  return {
    format: opts.kind === 'audio'
      ? { kind: 'audio', codec: 'raw', sampleRate: 48_000, channels: 1, frameMs }
      : { kind: 'video', codec: 'raw', frameMs },
    live: false,
    frames: (signal) => pace(chunk(bytes(), frameBytes), frameMs, signal),
    close: () => {
      if (closed) return
      closed = true
      release()
    }
  }
}

/** Resolves on 'drain', rejects when the writable fails or closes first. */
async function drained (w: NodeJS.WritableStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      w.removeListener('drain', onDrain)
      w.removeListener('error', onError)
      w.removeListener('close', onClose)
      if (err != null) reject(err)
      else resolve()
    }
    const onDrain = (): void => done()
    const onError = (err: Error): void => done(new MediaError(`output failed: ${err.message}`, { cause: err }))
    const onClose = (): void => done(new MediaError('output closed'))
    w.on('drain', onDrain)
    w.on('error', onError)
    w.on('close', onClose)
  })
}

/** A lossless sink writing payloads unchanged into a Node writable stream. */
export function streamSink (w: NodeJS.WritableStream, opts: { end?: boolean } = {}): MediaSink {
  const end = opts.end ?? true
  let failure: Error | undefined
  const onError = (err: Error): void => { failure ??= new MediaError(`output failed: ${err.message}`, { cause: err }) }
  w.on('error', onError)
  let closed = false
  return {
    live: false,
    write: (payload) => {
      if (failure != null) throw failure
      if (!w.write(payload)) return drained(w)
    },
    end: async () => {
      if (closed) return
      closed = true
      if (failure != null) throw failure
      if (!end) {
        w.removeListener('error', onError)
        return
      }
      await new Promise<void>((resolve, reject) => {
        w.once('error', reject)
        w.end(() => resolve())
      }).catch((err: unknown) => { throw new MediaError(`output failed: ${errorMessage(err)}`, { cause: err }) })
      w.removeListener('error', onError)
    },
    close: () => {
      if (closed) return
      closed = true
      w.removeListener('error', onError)
      if (end) (w as unknown as { destroy?: () => void }).destroy?.()
    }
  }
}

/** A lossless sink writing into a file, created (or truncated) now so a bad path fails before the call. */
export async function fileSink (path: string): Promise<MediaSink> {
  const w = createWriteStream(path, { flags: 'w' })
  await new Promise<void>((resolve, reject) => {
    w.once('open', () => resolve())
    w.once('error', (err) => reject(new MediaError(`cannot write output ${path}: ${err.message}`, { cause: err })))
  })
  return streamSink(w, { end: true })
}

/** Raw bytes to standard output, which stays open after the call. */
export function stdoutSink (): MediaSink {
  return streamSink(process.stdout, { end: false })
}

/** Discards everything (statistics are still kept by the call). */
export function nullSink (): MediaSink {
  // every method does nothing on purpose
  return { live: true, write: () => undefined, end: async () => undefined, close: () => undefined }
}

/** Keeps every frame in memory with its timing: for tests and benchmarks. */
export interface CollectingSink extends MediaSink {
  readonly chunks: Uint8Array[]
  readonly frames: FrameInfo[]
  /** local clock when each frame was written to the sink */
  readonly writtenAt: number[]
  readonly ended: boolean
  bytes: () => Buffer
}

export function collectingSink (opts: { live?: boolean } = {}): CollectingSink {
  const chunks: Uint8Array[] = []
  const frames: FrameInfo[] = []
  const writtenAt: number[] = []
  let ended = false
  return {
    live: opts.live ?? false,
    chunks,
    frames,
    writtenAt,
    get ended () { return ended },
    write: (payload, info) => {
      chunks.push(payload)
      frames.push(info)
      writtenAt.push(performance.timeOrigin + performance.now())
    },
    end: async () => { ended = true },
    close: () => { /* holds no resources: the frames stay readable */ },
    bytes: () => Buffer.concat(chunks)
  }
}
