/**
 * Device mode: microphone and speaker through sox (`rec`, `play`: raw PCM
 * s16le), camera and video window through ffmpeg (`ffmpeg` encoding H.264 in
 * MPEG-TS, `ffplay`). Each factory checks its tool first and throws
 * MediaToolMissingError naming the Debian package when it is missing. Tools
 * are spawned only when media starts flowing (not while ringing).
 */
import { MediaError } from '../../errors.js'
import { chunk, pace } from './raw.js'
import { requireTool, runTool } from './tools.js'
import type { ToolProcess } from './tools.js'
import type { MediaSink, MediaSource, SourceFormat } from './types.js'
import type { TrackFormat } from '../protocol.js'

export const PCM_SAMPLE_RATE = 48_000
export const PCM_CHANNELS = 1
export const PCM_FRAME_MS = 20
/** MPEG-TS packets are 188 bytes: frames carry whole packets so a dropped frame loses whole packets */
export const MPEGTS_FRAME_BYTES = 188 * 40

export interface PcmOptions {
  sampleRate?: number
  channels?: number
  /** frame duration, ms (default 20) */
  frameMs?: number
}

function pcmArgs (rate: number, channels: number): string[] {
  return ['-t', 'raw', '-r', String(rate), '-e', 'signed-integer', '-b', '16', '-c', String(channels)]
}

function pcmFormat (o: PcmOptions): { rate: number, channels: number, frameMs: number, frameBytes: number, format: SourceFormat } {
  const rate = o.sampleRate ?? PCM_SAMPLE_RATE
  const channels = o.channels ?? PCM_CHANNELS
  const frameMs = o.frameMs ?? PCM_FRAME_MS
  const frameBytes = Math.round(rate * frameMs / 1000) * 2 * channels
  return { rate, channels, frameMs, frameBytes, format: { kind: 'audio', codec: 'pcm_s16le', sampleRate: rate, channels, frameMs } }
}

/**
 * A source reading a tool's standard output, cut into frames; `paceMs`
 * releases them in real time when the tool produces faster than that.
 */
function toolSource (path: string, args: string[], format: SourceFormat, frameBytes: number, paceMs: number): MediaSource {
  let proc: ToolProcess | undefined
  return {
    format,
    live: true,
    frames: (signal) => {
      const run = runTool(path, args, { stdin: false, stdout: true })
      proc = run
      const onAbort = (): void => { run.kill() }
      signal.addEventListener('abort', onAbort, { once: true })
      const out = run.child.stdout as NodeJS.ReadableStream & AsyncIterable<Uint8Array>
      return (async function * () {
        try {
          const frames = chunk(out, frameBytes)
          yield * (paceMs > 0 ? pace(frames, paceMs, signal) : frames)
          if (!signal.aborted) await run.exited
        } finally {
          signal.removeEventListener('abort', onAbort)
          run.kill()
        }
      })()
    },
    close: () => { proc?.kill() }
  }
}

/** Microphone via sox `rec` (default audio device; AUDIODEV / AUDIODRIVER select another). */
export async function microphoneSource (opts: PcmOptions = {}): Promise<MediaSource> {
  const path = await requireTool('rec')
  const f = pcmFormat(opts)
  return toolSource(path, ['-q', ...pcmArgs(f.rate, f.channels), '-'], f.format, f.frameBytes, 0)
}

/**
 * A generated sine tone via `sox -n synth`, paced in real time like a
 * microphone; deterministic (no dither), so a test can regenerate it and
 * compare.
 */
export async function toneSource (opts: PcmOptions & { seconds: number, frequency?: number }): Promise<MediaSource> {
  const path = await requireTool('sox')
  const f = pcmFormat(opts)
  const args = ['-q', '-n', '-D', ...pcmArgs(f.rate, f.channels), '-', 'synth', String(opts.seconds), 'sine', String(opts.frequency ?? 440)]
  return toolSource(path, args, f.format, f.frameBytes, f.frameMs)
}

/** The exact command line toneSource runs, for tests that regenerate the tone. */
export function toneCommand (opts: PcmOptions & { seconds: number, frequency?: number }): string[] {
  const f = pcmFormat(opts)
  return ['sox', '-q', '-n', '-D', ...pcmArgs(f.rate, f.channels), '-', 'synth', String(opts.seconds), 'sine', String(opts.frequency ?? 440)]
}

export interface VideoOptions {
  /** frame size, default 640x480 */
  size?: string
  /** frames per second, default 30 */
  fps?: number
  /** encoder bitrate, bit/s, default 1_000_000 */
  bitrate?: number
}

function h264Args (o: VideoOptions): string[] {
  const fps = o.fps ?? 30
  return ['-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(fps * 2), '-b:v', String(o.bitrate ?? 1_000_000), '-f', 'mpegts', '-']
}

const VIDEO_FORMAT: SourceFormat = { kind: 'video', codec: 'mpegts' }

/** Camera via ffmpeg (Linux v4l2, default /dev/video0), H.264 in MPEG-TS. */
export async function cameraSource (opts: VideoOptions & { device?: string } = {}): Promise<MediaSource> {
  const path = await requireTool('ffmpeg')
  const size = opts.size ?? '640x480'
  const fps = opts.fps ?? 30
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'v4l2', '-framerate', String(fps), '-video_size', size,
    '-i', opts.device ?? '/dev/video0', ...h264Args(opts)]
  return toolSource(path, args, { ...VIDEO_FORMAT, frameMs: Math.round(1000 / fps) }, MPEGTS_FRAME_BYTES, 0)
}

/** A generated test pattern via ffmpeg (lavfi testsrc) in real time: a camera stand-in for tests. */
export async function testPatternSource (opts: VideoOptions & { seconds: number }): Promise<MediaSource> {
  const path = await requireTool('ffmpeg')
  const size = opts.size ?? '320x240'
  const fps = opts.fps ?? 30
  const args = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${fps}`,
    '-t', String(opts.seconds), ...h264Args(opts)]
  return toolSource(path, args, { ...VIDEO_FORMAT, frameMs: Math.round(1000 / fps) }, MPEGTS_FRAME_BYTES, 0)
}

/** A live sink writing into a tool's standard input. */
function toolSink (path: string, args: string[]): MediaSink {
  let proc: ToolProcess | undefined
  let failure: Error | undefined
  let closed = false
  const start = (): ToolProcess => {
    if (proc == null) {
      proc = runTool(path, args, { stdin: true, stdout: false })
      proc.exited.catch((err: unknown) => { failure = err instanceof Error ? err : new MediaError(String(err)) })
    }
    return proc
  }
  return {
    live: true,
    write: (payload) => {
      if (failure != null) throw failure
      const p = start()
      const stdin = p.child.stdin
      if (stdin == null) throw new MediaError(`${path} has no standard input`)
      if (!stdin.write(payload)) {
        return new Promise<void>((resolve, reject) => {
          const onDrain = (): void => { p.child.removeListener('close', onClose); resolve() }
          const onClose = (): void => { stdin.removeListener('drain', onDrain); reject(failure ?? new MediaError(`${path} exited`)) }
          stdin.once('drain', onDrain)
          p.child.once('close', onClose)
        })
      }
    },
    end: async () => {
      if (closed) return
      closed = true
      if (proc == null) return
      proc.child.stdin?.end()
      await proc.exited
    },
    close: () => {
      closed = true
      proc?.kill()
    }
  }
}

/** Speaker via sox `play` for a PCM track ('raw' audio tracks are taken as 48 kHz s16le mono). */
export async function speakerSink (format: Pick<TrackFormat, 'sampleRate' | 'channels'> = {}): Promise<MediaSink> {
  const path = await requireTool('play')
  return toolSink(path, ['-q', ...pcmArgs(format.sampleRate ?? PCM_SAMPLE_RATE, format.channels ?? PCM_CHANNELS), '-'])
}

/** A video window via ffplay (needs a display), low-latency flags. */
export async function videoWindowSink (title = 'p2p-chat'): Promise<MediaSink> {
  const path = await requireTool('ffplay')
  return toolSink(path, ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-framedrop',
    '-window_title', title, '-i', '-'])
}

/** Decode MPEG-TS video and throw the pictures away (ffmpeg -f null): a video window stand-in for tests. */
export async function videoNullSink (): Promise<MediaSink> {
  const path = await requireTool('ffmpeg')
  return toolSink(path, ['-hide_banner', '-loglevel', 'error', '-f', 'mpegts', '-i', '-', '-f', 'null', '-'])
}
