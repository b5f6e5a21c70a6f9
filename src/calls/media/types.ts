import type { MediaKindName, TrackFormat } from '../protocol.js'

/** What a source sends: a track format without its id (the call numbers tracks). */
export type SourceFormat = Omit<TrackFormat, 'track'>

/** Where a call's outgoing media comes from. */
export interface MediaSource {
  readonly format: SourceFormat
  /**
   * A live source (microphone, camera) cannot be slowed down: when the stream
   * is backed up the sender drops its oldest frames (video first). A source
   * that is not live (a file, a pipe) is read only as fast as the stream
   * takes it, so nothing of it is lost.
   */
  readonly live: boolean
  /** The payloads, one per frame, until the input ends. Stops when `signal` aborts. */
  frames: (signal: AbortSignal) => AsyncIterable<Uint8Array>
  /** Release the input (file handle, child process). Idempotent. */
  close: () => void
}

/** Per-frame details given to a sink with each payload. */
export interface FrameInfo {
  track: number
  seq: number
  /** sender's clock at capture, ms */
  captureMs: number
  /** local clock at arrival, ms */
  arrivalMs: number
}

/** Where a call's incoming media goes. */
export interface MediaSink {
  /**
   * A live sink (speaker, video window) plays in real time: when it falls
   * behind, the receiver drops the oldest frames (video first). A sink that
   * is not live (a file, a pipe) is lossless: the receiver pauses the stream
   * instead, and the sender waits.
   */
  readonly live: boolean
  /** Take one frame. A returned promise means "wait before the next one" (backpressure). */
  write: (payload: Uint8Array, info: FrameInfo) => void | Promise<void>
  /** No more frames: flush and close. */
  end: () => Promise<void>
  /** The call is over abruptly: release resources now. Idempotent. */
  close: () => void
}

/** Picks (or creates) the sink for a remote track; undefined discards the track. */
export type SinkFactory = (format: TrackFormat) => MediaSink | undefined | Promise<MediaSink | undefined>

/**
 * Outgoing media of a call:
 * - `'device'` (default): microphone through sox `rec`, plus camera through ffmpeg for video calls
 * - `'none'`: send nothing (listen only)
 * - `'-'`: raw bytes from standard input
 * - any other string: raw bytes from that file
 * - a Node readable stream or async iterable of bytes: raw bytes from it
 * - MediaSource(s) for anything else
 */
export type InputSpec = 'device' | 'none' | '-' | AnyPath | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | MediaSource | MediaSource[]

/**
 * Incoming media of a call:
 * - `'device'` (default): speaker through sox `play`, video window through ffplay
 * - `'none'`: discard (statistics are still kept)
 * - `'-'`: raw bytes to standard output
 * - any other string: raw bytes to that file (created or truncated)
 * - a Node writable stream: raw bytes to it (ended when the call ends)
 * - a MediaSink or a SinkFactory for anything else
 *
 * Raw outputs (file, '-', writable) receive the peer's first track only, bytes unchanged.
 */
export type OutputSpec = 'device' | 'none' | '-' | AnyPath | NodeJS.WritableStream | MediaSink | SinkFactory

/** any other string (a path): the intersection keeps the named keywords visible in the union */
type AnyPath = string & Record<never, never>

export interface RawFraming {
  /** bytes per frame; default audio 1920 (20 ms of 48 kHz s16le mono), video 8192 */
  frameBytes?: number
  /** ms between frames; default audio 20 (real time), video 0 (as fast as the stream takes them) */
  frameMs?: number
}

export type { MediaKindName, TrackFormat }
