/**
 * Wire layer of /p2p-chat/call/2.0.0: constants, varint length-prefixed
 * framing, validation of every decoded message. Pure: no libp2p here.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { CallMessage, MediaKind, Reason } from './pb/call.js'
import { MAX_PROOFS, NONCE_BYTES, PROOF_BYTES } from './membership.js'
import { errorMessage } from '../errors.js'
import type { TrackFormat as WireTrackFormat } from './pb/call.js'
import type { DecodeOptions } from 'protons-runtime'

export const CALL_PROTOCOL = '/p2p-chat/call/2.0.0'

export const CALL_ID_BYTES = 16
/** largest media payload in one frame */
export const MAX_PAYLOAD_BYTES = 128 * 1024
/** largest encoded CallMessage (a frame with a full payload and its header) */
export const MAX_MESSAGE_BYTES = MAX_PAYLOAD_BYTES + 64
export const MAX_TRACKS = 4
export const MAX_TRACK_ID = 15
export const MAX_TEXT_BYTES = 256
const MAX_CODEC_CHARS = 32
/** a varint above 5 bytes cannot encode a length below MAX_MESSAGE_BYTES */
const MAX_VARINT_BYTES = 5

export type MediaKindName = 'audio' | 'video'

/** A track as the library sees it (the wire form uses enums). */
export interface TrackFormat {
  track: number
  kind: MediaKindName
  /** "raw" (opaque bytes), "pcm_s16le", "mpegts" */
  codec: string
  sampleRate?: number
  channels?: number
  /** nominal frame interval, ms; 0 or absent = unpaced */
  frameMs?: number
}

/** Why a call ended, as reported to both sides. */
export type CallEndReason =
  | 'hangup' | 'completed' | 'rejected' | 'busy' | 'not-a-member' | 'no-answer' | 'cancelled'
  | 'shutdown' | 'media-error' | 'connection-lost' | 'protocol-error'

const REASON_TO_WIRE: Partial<Record<CallEndReason, Reason>> = {
  hangup: Reason.HANGUP,
  completed: Reason.COMPLETED,
  rejected: Reason.DECLINED,
  busy: Reason.BUSY,
  'not-a-member': Reason.NOT_A_MEMBER,
  'no-answer': Reason.NO_ANSWER,
  cancelled: Reason.CANCELLED,
  shutdown: Reason.SHUTDOWN,
  'media-error': Reason.MEDIA_ERROR
}

const WIRE_TO_REASON: Record<Reason, CallEndReason> = {
  [Reason.REASON_UNSPECIFIED]: 'hangup',
  [Reason.HANGUP]: 'hangup',
  [Reason.COMPLETED]: 'completed',
  [Reason.DECLINED]: 'rejected',
  [Reason.BUSY]: 'busy',
  [Reason.NOT_A_MEMBER]: 'not-a-member',
  [Reason.NO_ANSWER]: 'no-answer',
  [Reason.CANCELLED]: 'cancelled',
  [Reason.SHUTDOWN]: 'shutdown',
  [Reason.MEDIA_ERROR]: 'media-error'
}

export function reasonToWire (reason: CallEndReason): Reason {
  return REASON_TO_WIRE[reason] ?? Reason.HANGUP
}

export function reasonFromWire (reason: Reason): CallEndReason {
  return WIRE_TO_REASON[reason] ?? 'hangup'
}

/** The refusals: the callee decided (or could not decide) not to take the call. */
export function isRefusal (reason: CallEndReason): boolean {
  return reason === 'rejected' || reason === 'busy' || reason === 'not-a-member' || reason === 'no-answer'
}

/** Raised for anything that does not follow the protocol; the stream is then reset. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation'
}

// ---- framing -----------------------------------------------------------------

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** Encode one message with its varint length prefix, ready for `stream.send`. */
export function encodeMessage (msg: CallMessage): Uint8ArrayList {
  const body = CallMessage.encode(msg)
  return new Uint8ArrayList(varint(body.byteLength), body)
}

/**
 * Splits a byte stream into length-prefixed messages. Throws
 * ProtocolViolation for an over-long varint or a length above the limit, so a
 * hostile peer cannot make it buffer more than one message.
 */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxLength: number

  constructor (maxLength = MAX_MESSAGE_BYTES) {
    this.maxLength = maxLength
  }

  get buffered (): number { return this.buffer.byteLength }

  * decode (chunk: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList> {
    this.buffer.append(chunk)
    while (true) {
      let length = 0
      let shift = 1
      let prefix = 0
      let complete = false
      const available = this.buffer.byteLength
      while (prefix < available && prefix < MAX_VARINT_BYTES) {
        const b = this.buffer.get(prefix)
        length += (b & 0x7f) * shift
        shift *= 128
        prefix++
        if ((b & 0x80) === 0) { complete = true; break }
      }
      if (!complete) {
        if (prefix >= MAX_VARINT_BYTES) throw new ProtocolViolation('length prefix too long')
        return
      }
      if (length === 0) throw new ProtocolViolation('empty message')
      if (length > this.maxLength) throw new ProtocolViolation(`message of ${length} bytes exceeds ${this.maxLength}`)
      if (available < prefix + length) return
      const msg = this.buffer.sublist(prefix, prefix + length)
      this.buffer.consume(prefix + length)
      yield msg
    }
  }
}

// ---- validation --------------------------------------------------------------

const DECODE_LIMITS: DecodeOptions<CallMessage> = { limits: { offer: { tracks: MAX_TRACKS, membership: { proofs: MAX_PROOFS } }, answer: { tracks: MAX_TRACKS } } }

/** The fields of a CallMessage, every one present. */
type Fields = { [K in keyof CallMessage]-?: NonNullable<CallMessage[K]> }

/** Which single field a message carries. */
export type MessageType = keyof Fields

/**
 * A decoded, validated message: `type` names the one field it carries, and
 * that field is present under its own name (`m.type === 'offer'` narrows to
 * `m.offer: Offer`).
 */
export type DecodedMessage = { [K in MessageType]: { type: K } & Pick<Fields, K> }[MessageType]

/** Decode and validate one message. Throws ProtocolViolation when it is malformed. */
export function decodeMessage (bytes: Uint8Array | Uint8ArrayList): DecodedMessage {
  let msg: CallMessage
  try {
    msg = CallMessage.decode(bytes, DECODE_LIMITS)
  } catch (err: unknown) {
    throw new ProtocolViolation(`undecodable message: ${errorMessage(err)}`)
  }
  const set: DecodedMessage[] = []
  if (msg.offer != null) set.push({ type: 'offer', offer: msg.offer })
  if (msg.answer != null) set.push({ type: 'answer', answer: msg.answer })
  if (msg.hangup != null) set.push({ type: 'hangup', hangup: msg.hangup })
  if (msg.frame != null) set.push({ type: 'frame', frame: msg.frame })
  if (msg.endOfTrack != null) set.push({ type: 'endOfTrack', endOfTrack: msg.endOfTrack })
  if (msg.ping != null) set.push({ type: 'ping', ping: msg.ping })
  if (msg.pong != null) set.push({ type: 'pong', pong: msg.pong })
  if (msg.mediaDone != null) set.push({ type: 'mediaDone', mediaDone: msg.mediaDone })
  if (set.length !== 1) throw new ProtocolViolation(`a message must carry exactly one field, got ${set.length}`)
  const m = set[0]
  switch (m.type) {
    case 'offer': {
      const o = m.offer
      if (o.callId.byteLength !== CALL_ID_BYTES) throw new ProtocolViolation('offer: call id must be 16 bytes')
      checkTracks(o.tracks)
      // an offer without membership is well formed: the callee refuses it as not a member
      if (o.membership != null) {
        if (o.membership.nonce.byteLength !== NONCE_BYTES) throw new ProtocolViolation(`offer: nonce must be ${NONCE_BYTES} bytes`)
        if (o.membership.proofs.length > MAX_PROOFS) throw new ProtocolViolation(`offer: more than ${MAX_PROOFS} proofs`)
        if (o.membership.proofs.some(p => p.byteLength !== PROOF_BYTES)) throw new ProtocolViolation(`offer: a proof must be ${PROOF_BYTES} bytes`)
      }
      break
    }
    case 'answer': {
      const a = m.answer
      checkText(a.message, 'answer message')
      if (a.accept) {
        checkTracks(a.tracks)
        if (a.proof != null && a.proof.byteLength !== PROOF_BYTES) throw new ProtocolViolation(`answer: a proof must be ${PROOF_BYTES} bytes`)
      } else if (a.tracks.length > 0 || a.proof != null) throw new ProtocolViolation('answer: a refusal carries no tracks nor proof')
      break
    }
    case 'hangup':
      checkText(m.hangup.message, 'hangup message')
      break
    case 'frame':
      if (!Number.isFinite(m.frame.captureMs)) throw new ProtocolViolation('frame: capture time is not a number')
      if (m.frame.payload.byteLength > MAX_PAYLOAD_BYTES) throw new ProtocolViolation('frame: payload too large')
      break
    case 'ping':
      if (!Number.isFinite(m.ping.sentMs)) throw new ProtocolViolation('ping: time is not a number')
      break
    case 'pong':
      if (![m.pong.pingSentMs, m.pong.receivedMs, m.pong.sentMs].every(Number.isFinite)) throw new ProtocolViolation('pong: time is not a number')
      break
    case 'endOfTrack':
    case 'mediaDone':
      break
  }
  return m
}

function checkText (text: string, what: string): void {
  if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw new ProtocolViolation(`${what} longer than ${MAX_TEXT_BYTES} bytes`)
}

function checkTracks (tracks: WireTrackFormat[]): void {
  if (tracks.length > MAX_TRACKS) throw new ProtocolViolation(`more than ${MAX_TRACKS} tracks`)
  const seen = new Set<number>()
  for (const t of tracks) {
    if (t.track > MAX_TRACK_ID || seen.has(t.track)) throw new ProtocolViolation(`bad or duplicate track id ${t.track}`)
    seen.add(t.track)
    if (t.kind !== MediaKind.AUDIO && t.kind !== MediaKind.VIDEO) throw new ProtocolViolation('track kind must be audio or video')
    if (t.codec.length === 0 || t.codec.length > MAX_CODEC_CHARS || !/^[a-z0-9_.-]+$/i.test(t.codec)) throw new ProtocolViolation('bad codec name')
    if (t.sampleRate > 384_000 || t.channels > 8 || t.frameMs > 1000) throw new ProtocolViolation('track parameters out of range')
  }
}

export function trackToWire (t: TrackFormat): WireTrackFormat {
  return {
    track: t.track,
    kind: t.kind === 'video' ? MediaKind.VIDEO : MediaKind.AUDIO,
    codec: t.codec,
    sampleRate: t.sampleRate ?? 0,
    channels: t.channels ?? 0,
    frameMs: t.frameMs ?? 0
  }
}

export function trackFromWire (t: WireTrackFormat): TrackFormat {
  const out: TrackFormat = { track: t.track, kind: t.kind === MediaKind.VIDEO ? 'video' : 'audio', codec: t.codec }
  if (t.sampleRate > 0) out.sampleRate = t.sampleRate
  if (t.channels > 0) out.channels = t.channels
  if (t.frameMs > 0) out.frameMs = t.frameMs
  return out
}

/** Wall clock with sub-millisecond resolution, ms since 1970: capture timestamps and pings. */
export function nowMs (): number {
  return performance.timeOrigin + performance.now()
}
