/**
 * Calls with the browser's microphone and camera (docs/API.md, "Calls from
 * the web page"). The page captures its media and opens a media WebSocket,
 * `GET /v1/calls/media` (the same Host, Origin, cookie and page-key rules as
 * the event stream: src/web/gate.ts), which becomes a *media link*: the
 * browser's frames are the call's outgoing tracks, the peer's frames go back
 * to the page. The page then places or answers the call with
 * `{ media: <link id> }` instead of `input` / `output`.
 *
 * On the socket, binary messages are media: one byte of kind (1 audio, 2
 * video), then, from the node, one byte of track id, then the payload.
 * Browser to node: audio is PCM s16le, 48 kHz mono, 20 ms a frame (the
 * format of the node's own microphone: a CLI peer plays it as it is); video
 * is one JPEG picture a frame (codec "jpeg"). Node to browser: the peer's
 * frames as the call carries them, after the call's jitter buffer; text
 * messages (JSON) say what happens: `ready` (the link id), `live` (the call
 * connected: send this kind now), `track` (a remote track and its format),
 * `stats` (each second), `ended` (how the call ended; the node then closes
 * the socket). Closing the socket hangs the call up.
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { WebSocketServer } from 'ws'
import { ApiError, errorMessage } from '../errors.js'
import { MAX_PAYLOAD_BYTES } from '../calls/index.js'
import type { Call, MediaSink, MediaSource, SinkFactory, TrackFormat } from '../calls/index.js'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

const log = logger('p2p-chat:web:media')

export const MEDIA_PATH = '/v1/calls/media'
/** the subprotocol the node answers a media socket with (the page offers it first, then key.<page key>) */
export const MEDIA_PROTOCOL = 'p2p-chat-media'
export const KIND_AUDIO = 1
export const KIND_VIDEO = 2
/** the audio the page sends: as the node's own microphone (src/calls/media/device.ts) */
export const BROWSER_AUDIO = { kind: 'audio', codec: 'pcm_s16le', sampleRate: 48_000, channels: 1, frameMs: 20 } as const
/** the video the page sends: one JPEG picture a frame, about 15 a second */
export const BROWSER_VIDEO = { kind: 'video', codec: 'jpeg', frameMs: 66 } as const
/** media links open at once (each is a socket of a page about to call or in a call) */
export const MAX_LINKS = 8
/** ms a link may wait for the request that places or answers its call */
export const LINK_IDLE_MS = 20_000
/** frames held per track when the call sends slower than the page captures: the oldest go first */
const AUDIO_QUEUE = 10
const VIDEO_QUEUE = 2
/** bytes waiting in a page's socket beyond which the peer's frames are dropped (a stuck tab) */
const MAX_SOCKET_BACKLOG = 512 * 1024
const STATS_MS = 1000

/** A bounded queue of live frames read by one iterator (a call's media pump); frames pushed while nobody reads are dropped. */
class LiveQueue {
  private items: Uint8Array[] = []
  private wake?: () => void
  private readonly capacity: number
  reading = false
  ended = false
  dropped = 0

  constructor (capacity: number) {
    this.capacity = capacity
  }

  push (frame: Uint8Array): void {
    if (!this.reading || this.ended) { this.dropped++; return }
    this.items.push(frame)
    while (this.items.length > this.capacity) { this.items.shift(); this.dropped++ }
    this.wake?.()
  }

  end (): void {
    this.ended = true
    this.wake?.()
  }

  async * frames (signal: AbortSignal, onStart: () => void): AsyncGenerator<Uint8Array> {
    this.reading = true
    const onAbort = (): void => { this.wake?.() }
    signal.addEventListener('abort', onAbort, { once: true })
    onStart()
    try {
      while (!signal.aborted) {
        const f = this.items.shift()
        if (f != null) { yield f; continue }
        if (this.ended) return
        await new Promise<void>(resolve => { this.wake = resolve })
        this.wake = undefined
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.reading = false
      this.items = []
    }
  }
}

/** RMS and peak of PCM s16le audio over the last second, in dBFS (-Infinity: silence or nothing). */
class Level {
  private sum = 0
  private n = 0
  private peak = 0
  private since = Date.now()
  last = { rmsDb: -Infinity, peakDb: -Infinity }

  add (pcm: Uint8Array): void {
    const view = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength - (pcm.byteLength % 2))
    for (let i = 0; i < view.byteLength; i += 2) {
      const s = view.getInt16(i, true) / 32768
      this.sum += s * s
      const a = Math.abs(s)
      if (a > this.peak) this.peak = a
    }
    this.n += view.byteLength / 2
    if (Date.now() - this.since >= STATS_MS) this.roll()
  }

  /** the last full second (rolled now if it is over) */
  current (): { rmsDb: number, peakDb: number } {
    if (Date.now() - this.since >= STATS_MS) this.roll()
    return this.last
  }

  roll (): void {
    const db = (x: number): number => x > 0 ? Math.round(20 * Math.log10(x) * 10) / 10 : -Infinity
    this.last = { rmsDb: this.n > 0 ? db(Math.sqrt(this.sum / this.n)) : -Infinity, peakDb: db(this.peak) }
    this.sum = 0; this.n = 0; this.peak = 0; this.since = Date.now()
  }
}

/** What a link counted, one direction */
export interface LinkDirectionStats {
  audioFrames: number
  videoFrames: number
  bytes: number
  /** frames dropped on the way (queue full, socket backed up, nobody reading yet) */
  dropped: number
  /** audio over the last second, dBFS (null: nothing, or silence) */
  audioRmsDb: number | null
  audioPeakDb: number | null
}

/** A media link as `GET /v1/calls/media` lists it */
export interface MediaLinkInfo {
  id: string
  callId?: string
  /** the page has a camera on this link */
  camera: boolean
  /** the page's media, to the call */
  fromBrowser: LinkDirectionStats
  /** the peer's media, to the page */
  toBrowser: LinkDirectionStats
}

function direction (): { counts: { audioFrames: number, videoFrames: number, bytes: number, dropped: number }, level: Level } {
  return { counts: { audioFrames: 0, videoFrames: 0, bytes: 0, dropped: 0 }, level: new Level() }
}

function finite (x: number): number | null { return Number.isFinite(x) ? x : null }

/** One page's media socket: its frames as a call's sources, the call's remote tracks as sinks into it. */
export class BrowserMediaLink {
  readonly id: string
  readonly camera: boolean
  private readonly ws: WebSocket
  private readonly closed = new AbortController()
  private readonly audio = new LiveQueue(AUDIO_QUEUE)
  private readonly video = new LiveQueue(VIDEO_QUEUE)
  private readonly fromBrowser = direction()
  private readonly toBrowser = direction()
  private taken = false
  private call?: Call
  private idleTimer?: ReturnType<typeof setTimeout>
  private statsTimer?: ReturnType<typeof setInterval>
  private readonly onGone: (id: string) => void

  constructor (id: string, ws: WebSocket, camera: boolean, onGone: (id: string) => void) {
    this.id = id
    this.ws = ws
    this.camera = camera
    ws.on('message', (data, isBinary) => { if (isBinary) this.onFrame(data as Buffer) })
    this.onGone = onGone
    ws.on('close', () => { this.gone() })
    ws.on('error', (err) => { log('media socket %s: %e', id, err); this.gone() })
    this.idleTimer = setTimeout(() => { if (!this.taken) this.close(4000, 'no call used this media link') }, LINK_IDLE_MS)
    this.idleTimer.unref?.()
    this.send({ type: 'ready', id, audio: BROWSER_AUDIO, video: BROWSER_VIDEO, maxFrameBytes: MAX_PAYLOAD_BYTES })
  }

  /** aborts when the page's socket closes */
  get signal (): AbortSignal { return this.closed.signal }

  /** Reserve the link for one call request; a link serves one call. */
  take (): this {
    if (this.taken) throw new ApiError(`media link ${this.id} is in use by another call`, 'ERR_INVALID_INPUT')
    if (this.closed.signal.aborted) throw new ApiError(`media link ${this.id} is closed`, 'ERR_NOT_FOUND')
    this.taken = true
    clearTimeout(this.idleTimer)
    return this
  }

  /** The call's sources: the page's microphone, and its camera on a video call when the page has one. */
  sources (video: boolean): MediaSource[] {
    const source = (queue: LiveQueue, format: MediaSource['format']): MediaSource => ({
      format,
      live: true,
      frames: (signal) => queue.frames(signal, () => { this.send({ type: 'live', kind: format.kind }) }),
      close: () => { queue.end() }
    })
    const out = [source(this.audio, { ...BROWSER_AUDIO })]
    if (video && this.camera) out.push(source(this.video, { ...BROWSER_VIDEO }))
    return out
  }

  /** The call's outputs: every remote track to the page (it tells what it can play). */
  sinks (): SinkFactory {
    return (format: TrackFormat): MediaSink => {
      const kind = format.kind === 'audio' ? KIND_AUDIO : KIND_VIDEO
      const header = Buffer.from([kind, format.track])
      const pcm = format.kind === 'audio' && format.codec === 'pcm_s16le'
      this.send({ type: 'track', format })
      return {
        live: true,
        write: (payload) => {
          const d = this.toBrowser
          if (this.ws.readyState !== this.ws.OPEN || this.ws.bufferedAmount > MAX_SOCKET_BACKLOG) { d.counts.dropped++; return }
          if (kind === KIND_AUDIO) d.counts.audioFrames++
          else d.counts.videoFrames++
          d.counts.bytes += payload.byteLength
          if (pcm) d.level.add(payload)
          this.ws.send(Buffer.concat([header, payload]), { binary: true })
        },
        end: async () => { this.send({ type: 'track-end', track: format.track }) },
        close: () => { /* the socket is the link's: closed when the call ends */ }
      }
    }
  }

  /** The call this link serves: the page learns how it ends; closing the page hangs it up. */
  bind (call: Call): void {
    this.call = call
    if (this.closed.signal.aborted) {
      call.hangup().catch((err: unknown) => { log('hanging up %s: %e', call.id, err) })
      return
    }
    this.statsTimer = setInterval(() => { this.send({ type: 'stats', ...this.info() }) }, STATS_MS)
    this.statsTimer.unref?.()
    void call.ended.then((end) => {
      this.send({ type: 'ended', callId: end.callId, reason: end.reason, by: end.by, message: end.message })
      this.close(1000, 'call ended')
    })
  }

  close (code = 1000, reason = ''): void {
    clearTimeout(this.idleTimer)
    clearInterval(this.statsTimer)
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason)
  }

  info (): MediaLinkInfo {
    const dir = (d: ReturnType<typeof direction>, extraDropped: number): LinkDirectionStats => {
      const level = d.level.current()
      return { ...d.counts, dropped: d.counts.dropped + extraDropped, audioRmsDb: finite(level.rmsDb), audioPeakDb: finite(level.peakDb) }
    }
    const info: MediaLinkInfo = {
      id: this.id,
      camera: this.camera,
      fromBrowser: dir(this.fromBrowser, this.audio.dropped + this.video.dropped),
      toBrowser: dir(this.toBrowser, 0)
    }
    if (this.call != null) info.callId = this.call.id
    return info
  }

  /** The socket closed (or the node stops): no more frames; a call still up is hung up. */
  gone (): void {
    if (this.closed.signal.aborted) return
    this.closed.abort(new Error('the page closed its media socket'))
    clearTimeout(this.idleTimer)
    clearInterval(this.statsTimer)
    this.audio.end()
    this.video.end()
    this.onGone(this.id)
    const call = this.call
    if (call != null && call.state !== 'ended') {
      log('media socket of call %s closed: hanging up', call.id)
      call.hangup().catch((err: unknown) => { log('hanging up %s: %e', call.id, err) })
    }
  }

  private onFrame (data: Buffer): void {
    if (data.byteLength < 2) return
    const kind = data[0]
    const payload = data.subarray(1)
    const d = this.fromBrowser
    if (kind === KIND_AUDIO && payload.byteLength % 2 === 0 && payload.byteLength <= MAX_PAYLOAD_BYTES) {
      d.counts.audioFrames++
      d.counts.bytes += payload.byteLength
      d.level.add(payload)
      this.audio.push(payload)
    } else if (kind === KIND_VIDEO && payload.byteLength <= MAX_PAYLOAD_BYTES && payload[0] === 0xff && payload[1] === 0xd8) {
      d.counts.videoFrames++
      d.counts.bytes += payload.byteLength
      this.video.push(payload)
    } else {
      d.counts.dropped++
    }
  }

  private send (msg: object): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    this.ws.send(JSON.stringify(msg))
  }
}

/** The media links of one API server: the sockets (upgraded after the gate's checks) and their lookup by id. */
export class BrowserMediaLinks {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_PAYLOAD_BYTES + 2,
    perMessageDeflate: false,
    handleProtocols: (offered) => offered.has(MEDIA_PROTOCOL) ? MEDIA_PROTOCOL : false
  })

  private readonly links = new Map<string, BrowserMediaLink>()

  /** An upgrade of MEDIA_PATH that the gate allowed (Host, Origin, session cookie and page key, or the bearer token). */
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (this.links.size >= MAX_LINKS) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n')
      return
    }
    this.wss.handleUpgrade(req, socket, head, ws => {
      const id = randomBytes(16).toString('hex')
      try {
        this.links.set(id, new BrowserMediaLink(id, ws, url.searchParams.get('camera') === '1', (gone) => { this.links.delete(gone) }))
      } catch (err: unknown) {
        log.error('media link: %s', errorMessage(err))
        ws.terminate()
      }
    })
  }

  /** The link a call request names, reserved for it. */
  take (id: string): BrowserMediaLink {
    const link = /^[0-9a-f]{32}$/.test(id) ? this.links.get(id) : undefined
    if (link == null) throw new ApiError(`no media link ${id}: open ${MEDIA_PATH} first (it closes after ${LINK_IDLE_MS / 1000} s unused)`, 'ERR_NOT_FOUND')
    return link.take()
  }

  list (): MediaLinkInfo[] {
    return [...this.links.values()].map(l => l.info())
  }

  closeAll (): void {
    for (const l of [...this.links.values()]) {
      l.close(1001, 'node stopping')
      l.gone()
    }
    this.wss.close()
  }
}
