// Calls from the page with the browser's microphone and camera, through the
// node (docs/API.md, "Calls from the web page"). The page captures its media
// (getUserMedia), opens a media socket to the node (/v1/calls/media, behind
// the same session and Origin checks as everything else) and places or answers
// the call with that socket's id: the node sends the page's frames as the
// call's tracks and hands the peer's frames back, which the page plays
// (WebAudio) and shows (a canvas).
//
// Formats (what the node's call protocol carries): audio is PCM s16le, 48 kHz
// mono, 20 ms a frame, both ways; the page's video is one JPEG picture a frame
// (codec "jpeg"). A CLI peer's camera sends H.264 in MPEG-TS, which the page
// says it cannot show (its audio plays).
/* global performance, MediaStream, AudioContext, AudioWorkletNode, createImageBitmap, Blob -- browser APIs of calls */
import { h } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import htm from 'htm'
import { api, socket, stream } from './api.js'

const html = htm.bind(h)

const KIND_AUDIO = 1
const KIND_VIDEO = 2
const RATE = 48_000
const FRAME_MS = 20
/** ms between pictures sent (about 15 a second) */
const VIDEO_INTERVAL_MS = 66
const VIDEO_MAX_WIDTH = 640
const JPEG_QUALITY = 0.7
/** bytes waiting in the media socket beyond which captured frames are skipped (the node or the call is slower) */
const MAX_SOCKET_BACKLOG = 256 * 1024
/** no picture from the peer for this long: its camera is off (or it sends none) */
const NO_VIDEO_MS = 2000
/** an ended call's panel stays this long */
export const ENDED_PANEL_MS = 8000

/** Gaps between audio frames (ms): how steadily the page sends and receives them */
class Gaps {
  constructor () { this.last = 0; this.max = 0; this.over60 = 0; this.n = 0 }
  add () {
    const now = performance.now()
    if (this.last > 0) {
      const gap = now - this.last
      this.max = Math.max(this.max, gap)
      if (gap > 60) this.over60++
    }
    this.n++
    this.last = now
  }
}

/**
 * What the page's calls did, for the tests and the figures of the notes:
 * counts, and the times (ms since 1970, fractional) at which a sound began
 * after silence in what was captured and in what was played.
 */
export const probe = { calls: 0, sent: { audio: 0, video: 0 }, received: { audio: 0, video: 0 }, shown: 0, sendOnsets: [], playOnsets: [], playout: undefined, gaps: { send: new Gaps(), receive: new Gaps() } }

function mark (list) {
  list.push(performance.timeOrigin + performance.now())
  if (list.length > 1000) list.shift()
}

/** An error the page explains itself (no stack, no code) */
class CallError extends Error {}

function deviceError (err, what) {
  switch (err?.name) {
    case 'NotAllowedError': case 'SecurityError':
      return `The browser refused the ${what}: allow it for this page (in the site settings next to the address bar) and try again.`
    case 'NotFoundError': case 'OverconstrainedError':
      return `No ${what} was found: connect one and try again.`
    case 'NotReadableError': case 'AbortError':
      return `The ${what} could not be opened (is another program using it?).`
    default:
      return `The ${what} could not be used: ${err?.message ?? String(err)}`
  }
}

/** How a call ended, as a sentence; `name` is the peer's */
export function endText (end, name) {
  const mine = end.by === 'local'
  switch (end.reason) {
    case 'hangup': return mine ? 'You hung up.' : `${name} hung up.`
    case 'completed': return 'The call is complete.'
    case 'rejected': return mine ? 'You declined the call.' : `${name} declined the call.`
    case 'busy': return mine ? 'You are in another call.' : `${name} is busy in another call.`
    case 'no-answer': return `${name} did not answer.`
    case 'not-a-member': return `${name} shares no group with you.`
    case 'cancelled': return 'Call cancelled.'
    case 'shutdown': return mine ? 'Your node is stopping.' : `${name}'s node stopped.`
    case 'connection-lost': return `The connection to ${name} was lost.`
    case 'media-error': return `A media error ended the call${end.message != null ? `: ${end.message}` : '.'}`
    default: return `The call ended (${end.reason}${end.message != null ? `: ${end.message}` : ''}).`
  }
}

/** A failed call request as a sentence: the node's message names the reason in parentheses */
function failText (err, name) {
  const m = /\((rejected|busy|no-answer|not-a-member|cancelled)\)/.exec(err?.message ?? '')
  if (err?.code === 'ERR_CALL_REJECTED' && m != null) return endText({ reason: m[1], by: 'remote' }, name)
  if (err?.code === 'ERR_CALL_FAILED' && /already in a call/.test(err.message)) return 'You are already in a call: hang up first.'
  if (err?.code === 'ERR_CALL_FAILED' && /cannot reach/.test(err.message)) return `${name} cannot be reached right now.`
  return err?.message ?? String(err)
}

/** Linear resampling of one frame (the page's audio runs at the AudioContext's rate) */
function resample (input, from, to) {
  if (from === to) return input
  const n = Math.max(1, Math.round(input.length * to / from))
  const out = new Float32Array(n)
  const step = from / to
  for (let i = 0; i < n; i++) {
    const x = i * step
    const j = Math.floor(x)
    const a = input[Math.min(j, input.length - 1)]
    const b = input[Math.min(j + 1, input.length - 1)]
    out[i] = a + (b - a) * (x - j)
  }
  return out
}

/**
 * One call of this page: its media, its socket to the node, its request.
 * `ctx` is an AudioContext made in the click that started the call (a browser
 * starts audio only after a user gesture). `onChange` is called on every
 * change of state.
 */
export class BrowserCall {
  constructor ({ peerId, video, callId, ctx, nameOf, onChange }) {
    this.peerId = peerId
    this.nameOf = nameOf
    this.video = video
    this.callId = callId
    this.direction = callId != null ? 'inbound' : 'outbound'
    this.ctx = ctx
    this.onChange = onChange
    /** starting (microphone) → ringing (outbound) / connecting (inbound) → connected → ended */
    this.state = 'starting'
    this.error = undefined
    this.end = undefined
    this.notes = []
    this.muted = false
    this.hasCamera = false
    this.cameraOn = false
    this.connectedAt = undefined
    this.endedAt = undefined
    this.stats = undefined
    this.link = undefined
    this.levels = { mic: 0, peer: 0 }
    this.remoteVideo = undefined
    this.lastVideoAt = 0
    this.tracks = new Map()
    this.live = { audio: false, video: false }
    this.abort = new AbortController()
    this.maxFrameBytes = 128 * 1024
    this.selfStream = undefined
    probe.calls++
  }

  get over () { return this.state === 'ended' }

  changed () { this.onChange?.(this) }

  /** Microphone (and camera), media socket, then the call request until the call ends. */
  async start () {
    try {
      await this.capture()
      if (this.over) return
      const id = await this.openSocket()
      if (this.over) return
      this.state = this.direction === 'outbound' ? 'ringing' : 'connecting'
      this.changed()
      const end = this.direction === 'outbound'
        ? await stream('POST', '/v1/calls', { peer: this.peerId, video: this.video, media: id }, (p) => { this.progress(p) }, this.abort.signal)
        : await stream('POST', '/v1/calls/answer', { callId: this.callId, media: id }, (p) => { this.progress(p) }, this.abort.signal)
      this.finish(end)
    } catch (err) {
      if (this.over) return
      this.fail(err)
    }
  }

  async capture () {
    const md = navigator.mediaDevices
    if (md?.getUserMedia == null) throw new CallError('This browser gives the page no microphone here.')
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 }
    let media
    if (this.video) {
      try {
        media = await md.getUserMedia({ audio, video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } } })
      } catch (err) {
        this.notes.push(`${deviceError(err, 'camera')} The call goes on with voice only.`)
      }
    }
    if (media == null) {
      try {
        media = await md.getUserMedia({ audio })
      } catch (err) {
        throw new CallError(deviceError(err, 'microphone'))
      }
    }
    if (this.over) { media.getTracks().forEach(t => { t.stop() }); return }
    this.media = media
    const camera = media.getVideoTracks()[0]
    this.hasCamera = camera != null
    this.cameraOn = this.hasCamera
    if (camera != null) {
      this.selfStream = new MediaStream([camera])
      this.videoEl = document.createElement('video')
      this.videoEl.muted = true
      this.videoEl.playsInline = true
      this.videoEl.srcObject = this.selfStream
      await this.videoEl.play().catch(() => undefined)
    }
    await this.ctx.audioWorklet.addModule('/app/call-worklet.js')
    if (this.ctx.state === 'suspended') await this.ctx.resume().catch(() => undefined)
    const source = this.ctx.createMediaStreamSource(media)
    this.capNode = new AudioWorkletNode(this.ctx, 'p2p-capture', { processorOptions: { frameSamples: Math.round(this.ctx.sampleRate * FRAME_MS / 1000) } })
    this.capNode.port.onmessage = (e) => { this.onCaptured(e.data) }
    source.connect(this.capNode)
    this.playNode = new AudioWorkletNode(this.ctx, 'p2p-playout', { outputChannelCount: [1], processorOptions: { targetMs: 40, maxMs: 200 } })
    this.playNode.port.onmessage = (e) => {
      if (e.data.onset === true) mark(probe.playOnsets)
      else { this.levels.peer = e.data.level; this.playout = e.data; probe.playout = e.data }
    }
    this.playNode.connect(this.ctx.destination)
    this.changed()
  }

  openSocket () {
    return new Promise((resolve, reject) => {
      const ws = socket(`/v1/calls/media?camera=${this.hasCamera ? 1 : 0}`, 'p2p-chat-media')
      ws.binaryType = 'arraybuffer'
      this.ws = ws
      let ready = false
      ws.onmessage = (e) => {
        if (!ready && typeof e.data === 'string') {
          const m = JSON.parse(e.data)
          if (m.type === 'ready') {
            ready = true
            this.maxFrameBytes = m.maxFrameBytes ?? this.maxFrameBytes
            resolve(m.id)
          }
          return
        }
        this.onSocketMessage(e.data)
      }
      ws.onclose = () => {
        this.live = { audio: false, video: false }
        if (!ready) reject(new CallError('The node refused the call\'s media connection: reload the page (or run p2p-chat open again).'))
      }
    })
  }

  progress (p) {
    if (p.event === 'ringing' && this.state !== 'connected') this.state = 'ringing'
    else if (p.event === 'connected') {
      this.state = 'connected'
      this.callId = p.call.callId
      this.connectedAt = p.call.connectedAt ?? Date.now()
    } else if (p.event === 'stats') this.stats = p.stats
    this.changed()
  }

  onSocketMessage (data) {
    if (typeof data === 'string') {
      let m
      try { m = JSON.parse(data) } catch { return }
      if (m.type === 'live') {
        this.live[m.kind] = true
        if (m.kind === 'video') this.startVideo()
      } else if (m.type === 'track') {
        const f = m.format
        this.tracks.set(f.track, f)
        if (f.kind === 'video') {
          this.remoteVideo = f.codec === 'jpeg' ? 'jpeg' : 'unsupported'
          if (f.codec !== 'jpeg') this.notes.push(`The peer sends ${f.codec === 'mpegts' ? 'H.264 video (MPEG-TS, from its camera through ffmpeg)' : `video as "${f.codec}"`}, which this page cannot show; its voice plays.`)
        } else if (f.codec !== 'pcm_s16le') {
          this.notes.push(`The peer sends audio as "${f.codec}", which this page cannot play.`)
        }
        this.changed()
      } else if (m.type === 'stats') {
        this.link = m
      }
      return
    }
    const bytes = new Uint8Array(data)
    if (bytes.byteLength < 3) return
    const format = this.tracks.get(bytes[1])
    const payload = bytes.subarray(2)
    if (bytes[0] === KIND_AUDIO && format?.codec === 'pcm_s16le') this.play(payload, format)
    else if (bytes[0] === KIND_VIDEO && format?.codec === 'jpeg') void this.show(payload)
  }

  onCaptured (d) {
    if (d.onset === true) { mark(probe.sendOnsets); return }
    this.levels.mic = this.muted ? 0 : d.rms
    if (!this.live.audio) return
    let frame = new Int16Array(d.pcm)
    if (this.ctx.sampleRate !== RATE) {
      const f = resample(Float32Array.from(frame, s => s / 32768), this.ctx.sampleRate, RATE)
      frame = Int16Array.from(f, x => Math.max(-32768, Math.min(32767, Math.round(x * 32768))))
    }
    if (this.send(KIND_AUDIO, frame)) { probe.sent.audio++; probe.gaps.send.add() }
  }

  /** One frame to the node; false when the socket is not open or backed up */
  send (kind, view) {
    const ws = this.ws
    if (ws == null || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_SOCKET_BACKLOG) return false
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    const out = new Uint8Array(1 + bytes.byteLength)
    out[0] = kind
    out.set(bytes, 1)
    ws.send(out)
    return true
  }

  startVideo () {
    if (this.videoTimer != null || this.videoEl == null) return
    const canvas = document.createElement('canvas')
    this.videoTimer = setInterval(() => { void this.grab(canvas) }, VIDEO_INTERVAL_MS)
  }

  /** One picture of the camera, as JPEG, to the node */
  async grab (canvas) {
    const v = this.videoEl
    if (this.encoding || !this.cameraOn || !this.live.video || v.videoWidth === 0) return
    if (this.ws == null || this.ws.bufferedAmount > MAX_SOCKET_BACKLOG) return
    const scale = Math.min(1, VIDEO_MAX_WIDTH / v.videoWidth)
    canvas.width = Math.round(v.videoWidth * scale)
    canvas.height = Math.round(v.videoHeight * scale)
    canvas.getContext('2d').drawImage(v, 0, 0, canvas.width, canvas.height)
    this.encoding = true
    try {
      const blob = await new Promise(resolve => { canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY) })
      if (blob == null || blob.size + 1 > this.maxFrameBytes) return
      if (this.send(KIND_VIDEO, new Uint8Array(await blob.arrayBuffer()))) probe.sent.video++
    } finally {
      this.encoding = false
    }
  }

  play (payload, format) {
    if (this.playNode == null) return
    probe.received.audio++
    probe.gaps.receive.add()
    const channels = format.channels || 1
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength - (payload.byteLength % 2))
    const frames = Math.floor(view.byteLength / 2 / channels)
    let f = new Float32Array(frames)
    for (let i = 0; i < frames; i++) {
      let s = 0
      for (let c = 0; c < channels; c++) s += view.getInt16((i * channels + c) * 2, true)
      f[i] = s / channels / 32768
    }
    f = resample(f, format.sampleRate || RATE, this.ctx.sampleRate)
    this.playNode.port.postMessage(f.buffer, [f.buffer])
  }

  /** The peer's pictures, decoded one at a time: the newest waiting one is shown next, older ones are skipped */
  async show (payload) {
    probe.received.video++
    this.lastVideoAt = Date.now()
    if (this.decoding) { this.nextPicture = payload; return }
    this.decoding = true
    let next = payload
    while (next != null) {
      this.nextPicture = undefined
      try {
        const bitmap = await createImageBitmap(new Blob([next], { type: 'image/jpeg' }))
        this.draw(bitmap)
      } catch {
        // a picture that does not decode is skipped
      }
      next = this.nextPicture
    }
    this.decoding = false
  }

  draw (bitmap) {
    const c = this.canvas
    if (c != null) {
      if (c.width !== bitmap.width || c.height !== bitmap.height) { c.width = bitmap.width; c.height = bitmap.height }
      c.getContext('2d').drawImage(bitmap, 0, 0)
      probe.shown++
    }
    bitmap.close()
  }

  /** where the peer's video is drawn */
  attach (canvas) { this.canvas = canvas ?? undefined }

  setMuted (muted) {
    this.muted = muted
    // a disabled track gives silence: the frames go on (the peer hears nothing)
    this.media?.getAudioTracks().forEach(t => { t.enabled = !muted })
    this.changed()
  }

  setCamera (on) {
    this.cameraOn = on && this.hasCamera
    this.media?.getVideoTracks().forEach(t => { t.enabled = this.cameraOn })
    this.changed()
  }

  /** Hang up (connected), cancel (ringing), or give up answering */
  async hangup () {
    if (this.over) return
    if (this.state === 'connected' && this.callId != null) {
      try {
        await api('POST', '/v1/calls/hangup', { callId: this.callId })
        return // the call request's result says how it ended
      } catch {
        // the node will hang up when the media socket closes
      }
    }
    this.finish({ reason: 'cancelled', by: 'local' })
  }

  finish (end) {
    if (this.over) return
    this.end = end
    this.state = 'ended'
    this.endedAt = Date.now()
    this.cleanup()
    this.changed()
  }

  fail (err) {
    if (this.over) return
    this.error = err instanceof CallError ? err.message : failText(err, this.nameOf?.(this.peerId) ?? 'The peer')
    this.state = 'ended'
    this.endedAt = Date.now()
    this.cleanup()
    this.changed()
  }

  cleanup () {
    clearInterval(this.videoTimer)
    this.abort.abort()
    this.media?.getTracks().forEach(t => { t.stop() })
    if (this.videoEl != null) this.videoEl.srcObject = null
    this.capNode?.disconnect()
    this.playNode?.disconnect()
    if (this.ws != null && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000)
    if (this.ctx.state !== 'closed') this.ctx.close().catch(() => undefined)
  }
}

/** An AudioContext for a call, at the call's rate when the browser can (made in a click: a page may start sound only after a user gesture) */
export function audioContext () {
  try {
    return new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' })
  } catch {
    return new AudioContext({ latencyHint: 'interactive' })
  }
}

/** A ring tone while an incoming call rings, if the page may play sound (the user has used it) */
function ring () {
  if (navigator.userActivation?.hasBeenActive !== true) return () => undefined
  let ctx
  try { ctx = new AudioContext() } catch { return () => undefined }
  const gain = ctx.createGain()
  gain.gain.value = 0
  gain.connect(ctx.destination)
  for (const f of [440, 480]) {
    const o = ctx.createOscillator()
    o.frequency.value = f
    o.connect(gain)
    o.start()
  }
  // 1 s on, 2 s off, as a phone rings
  const burst = () => {
    const t = ctx.currentTime
    gain.gain.setValueAtTime(0.06, t)
    gain.gain.setValueAtTime(0, t + 1)
  }
  burst()
  const timer = setInterval(burst, 3000)
  return () => { clearInterval(timer); ctx.close().catch(() => undefined) }
}

/** An incoming call ringing: accept (with the browser's microphone, and camera on a video call) or decline */
export function IncomingCall ({ call, name, onAccept, onDecline }) {
  useEffect(() => ring(), [])
  return html`<div class="banner ring" role="alert" aria-label=${`Incoming ${call.video ? 'video' : 'voice'} call`}>
    <span><span class="ring-icon" aria-hidden="true">☎</span> Incoming ${call.video ? 'video' : 'voice'} call from <strong>${name}</strong></span>
    <button type="button" class="primary" onClick=${onAccept}>Accept</button>
    <button type="button" class="danger" onClick=${onDecline}>Decline</button>
  </div>`
}

const two = (n) => String(n).padStart(2, '0')
export function duration (ms) {
  const s = Math.max(0, Math.floor(ms / 1000))
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`
}

/** RMS 0..1 to a meter's 0..1 (-60 dBFS .. 0) */
const meterValue = (rms) => rms > 0 ? Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 60)) : 0

function stateText (call, name) {
  switch (call.state) {
    case 'starting': return call.video ? 'Starting your microphone and camera…' : 'Starting your microphone…'
    case 'ringing': return `Calling ${name}…`
    case 'connecting': return `Connecting to ${name}…`
    case 'connected': return `In a ${call.video ? 'video' : 'voice'} call with ${name}`
    default:
      if (call.connectedAt != null) return `Call ended${call.end != null ? `: ${endText(call.end, name)}` : '.'}`
      if (call.end != null) return endText(call.end, name)
      return call.direction === 'outbound' ? `The call to ${name} did not go through.` : `The call from ${name} was not answered.`
  }
}

/** The call of this page: state, duration, the peer's video and one's own, levels, mute, camera, hang up */
export function CallPanel ({ call, name, onClose }) {
  const [, tick] = useState(0)
  const canvas = useRef(null)
  const self = useRef(null)
  useEffect(() => {
    const timer = setInterval(() => { tick(x => x + 1) }, 250)
    return () => { clearInterval(timer) }
  }, [])
  useEffect(() => { call.attach(canvas.current) })
  useEffect(() => {
    if (self.current != null && self.current.srcObject !== (call.selfStream ?? null)) self.current.srcObject = call.selfStream ?? null
  })
  const connected = call.state === 'connected'
  const ended = call.state === 'ended'
  const since = call.connectedAt != null ? (ended ? call.endedAt : Date.now()) - call.connectedAt : undefined
  const s = call.stats
  const link = call.link
  const noVideo = connected && call.remoteVideo === 'jpeg' && Date.now() - call.lastVideoAt > NO_VIDEO_MS
  const showVideo = call.video && !ended
  return html`<section class=${`callpanel${showVideo ? ' video' : ''}`} aria-label=${`Call with ${name}`}>
    <div class="call-head">
      <p class="call-state" role="status">${stateText(call, name)}</p>
      ${since != null ? html`<span class="call-duration" role="timer" aria-label="Call duration">${duration(since)}</span>` : null}
    </div>
    ${call.error != null ? html`<p class="call-error" role="alert">${call.error}</p>` : null}
    ${call.notes.map(n => html`<p class="muted call-note" key=${n}>${n}</p>`)}
    ${showVideo
      ? html`<div class="call-videos">
        <div class="remote-video">
          <canvas ref=${canvas} width="640" height="480" role="img" aria-label=${`Video from ${name}`}></canvas>
          ${call.remoteVideo !== 'jpeg' || noVideo ? html`<p class="no-video">${call.remoteVideo === 'unsupported' ? 'Video in a format this page cannot show' : connected ? `No video from ${name}` : 'Waiting for video…'}</p>` : null}
        </div>
        ${call.hasCamera ? html`<video ref=${self} class=${`self-view${call.cameraOn ? '' : ' off'}`} muted autoplay playsinline aria-label="Your camera"></video>` : null}
      </div>`
      : null}
    ${!ended
      ? html`<div class="call-levels">
        <label>You <meter min="0" max="1" value=${meterValue(call.levels.mic)} aria-label="Your microphone level"></meter></label>
        <label>${name} <meter min="0" max="1" value=${meterValue(call.levels.peer)} aria-label=${`Audio level of ${name}`}></meter></label>
      </div>`
      : null}
    ${connected && (s != null || link != null)
      ? html`<p class="muted call-stats">
        ${s != null ? `round trip ${s.rttMs != null ? `${s.rttMs.toFixed(1)} ms` : '–'} · in ${Math.round(s.receiveBitrate / 1000)} kbit/s · out ${Math.round(s.sendBitrate / 1000)} kbit/s · lost ${s.framesLost}` : ''}
        ${link != null ? ` · frames sent ${link.fromBrowser.audioFrames + link.fromBrowser.videoFrames}, received ${link.toBrowser.audioFrames + link.toBrowser.videoFrames}` : ''}
      </p>`
      : null}
    <div class="call-controls">
      ${!ended
        ? html`
          <button type="button" class="toggle" aria-pressed=${call.muted ? 'true' : 'false'} disabled=${call.media == null} onClick=${() => { call.setMuted(!call.muted) }}>Mute</button>
          ${call.hasCamera ? html`<button type="button" class="toggle" aria-pressed=${call.cameraOn ? 'false' : 'true'} onClick=${() => { call.setCamera(!call.cameraOn) }}>Camera off</button>` : null}
          <button type="button" class="danger" onClick=${() => { void call.hangup() }}>Hang up</button>`
        : html`<button type="button" onClick=${onClose}>Close</button>`}
    </div>
  </section>`
}
