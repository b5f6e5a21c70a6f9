/**
 * Media I/O adapters for calls, and the resolution of the `input` / `output`
 * options of a call into sources and sinks.
 */
import { MediaError } from '../../errors.js'
import { cameraSource, microphoneSource, speakerSink, videoWindowSink } from './device.js'
import { fileSink, nullSink, rawSource, stdoutSink, streamSink } from './raw.js'
import { requireTool } from './tools.js'
import type { InputSpec, MediaSink, MediaSource, OutputSpec, RawFraming, SinkFactory } from './types.js'
import type { TrackFormat } from '../protocol.js'

export * from './types.js'
export { rawSource, fileSink, streamSink, stdoutSink, nullSink, collectingSink, chunk, pace, DEFAULT_AUDIO_FRAME_BYTES, DEFAULT_AUDIO_FRAME_MS, DEFAULT_VIDEO_FRAME_BYTES } from './raw.js'
export type { CollectingSink } from './raw.js'
export { microphoneSource, speakerSink, cameraSource, videoWindowSink, videoNullSink, toneSource, toneCommand, testPatternSource, PCM_SAMPLE_RATE, PCM_CHANNELS, PCM_FRAME_MS, MPEGTS_FRAME_BYTES } from './device.js'
export type { PcmOptions, VideoOptions } from './device.js'
export { findExecutable, requireTool, TOOL_PACKAGES } from './tools.js'

function isMediaSource (x: unknown): x is MediaSource {
  return x != null && typeof x === 'object' && typeof (x as MediaSource).frames === 'function' && 'format' in x
}

function isMediaSink (x: unknown): x is MediaSink {
  return x != null && typeof x === 'object' && typeof (x as MediaSink).write === 'function' && typeof (x as MediaSink).end === 'function' && 'live' in x
}

function isWritable (x: unknown): x is NodeJS.WritableStream {
  return x != null && typeof x === 'object' && typeof (x as NodeJS.WritableStream).write === 'function' && typeof (x as NodeJS.WritableStream).on === 'function'
}

/**
 * Sources for a call's outgoing media. Files are opened and tools checked
 * now, so a bad input fails before any call is placed.
 */
export async function openInput (spec: InputSpec | undefined, opts: RawFraming & { video: boolean }): Promise<MediaSource[]> {
  const kind = opts.video ? 'video' : 'audio'
  if (spec == null || spec === 'device') {
    const sources = [await microphoneSource()]
    if (opts.video) {
      try {
        sources.push(await cameraSource())
      } catch (err) {
        sources[0].close()
        throw err
      }
    }
    return sources
  }
  if (spec === 'none') return []
  if (Array.isArray(spec)) return spec
  if (isMediaSource(spec)) return [spec]
  if (typeof spec === 'string' && spec === '') throw new MediaError('input path is empty')
  return [await rawSource(spec as string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>, { ...opts, kind })]
}

/** Picks the sink for each remote track; `close` releases what was opened if the call never connects. */
export interface OutputPlan {
  sinkFor: (format: TrackFormat) => Promise<MediaSink | undefined>
  close: () => void
}

/**
 * The sinks for a call's incoming media. A raw output (file, '-', writable)
 * takes the peer's first track, bytes unchanged; it is opened now.
 */
export async function openOutput (spec: OutputSpec | undefined, opts: { video: boolean }): Promise<OutputPlan> {
  if (spec == null || spec === 'device') {
    await requireTool('play')
    if (opts.video) await requireTool('ffplay')
    const opened: MediaSink[] = []
    return {
      sinkFor: async (format) => {
        const sink = format.kind === 'video' ? await videoWindowSink() : await speakerSink(format)
        opened.push(sink)
        return sink
      },
      close: () => { opened.forEach(s => { s.close() }) }
    }
  }
  // nothing is opened for 'none' nor by a factory (the factory's sinks are closed by the call): nothing to close
  if (spec === 'none') return { sinkFor: async () => nullSink(), close: () => { /* nothing opened */ } }
  if (typeof spec === 'function') {
    const factory: SinkFactory = spec
    return { sinkFor: async (format) => factory(format), close: () => { /* the call closes each sink the factory gave */ } }
  }
  let raw: MediaSink
  if (isMediaSink(spec)) raw = spec
  else if (spec === '-') raw = stdoutSink()
  else if (typeof spec === 'string') {
    if (spec === '') throw new MediaError('output path is empty')
    raw = await fileSink(spec)
  } else if (isWritable(spec)) raw = streamSink(spec)
  else throw new MediaError('unsupported output')
  let given = false
  return {
    sinkFor: async () => {
      if (given) return undefined
      given = true
      return raw
    },
    close: () => { raw.close() }
  }
}
