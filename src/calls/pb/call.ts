/* eslint-disable require-yield */

import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface CallMessage {
  offer?: Offer
  answer?: Answer
  hangup?: Hangup
  frame?: Frame
  endOfTrack?: EndOfTrack
  ping?: Ping
  pong?: Pong
  mediaDone?: MediaDone
}

export namespace CallMessage {
  let _codec: Codec<CallMessage>

  export const codec = (): Codec<CallMessage> => {
    if (_codec == null) {
      _codec = message<CallMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.offer != null) {
          w.uint32(10)
          Offer.codec().encode(obj.offer, w)
        }

        if (obj.answer != null) {
          w.uint32(18)
          Answer.codec().encode(obj.answer, w)
        }

        if (obj.hangup != null) {
          w.uint32(26)
          Hangup.codec().encode(obj.hangup, w)
        }

        if (obj.frame != null) {
          w.uint32(34)
          Frame.codec().encode(obj.frame, w)
        }

        if (obj.endOfTrack != null) {
          w.uint32(42)
          EndOfTrack.codec().encode(obj.endOfTrack, w)
        }

        if (obj.ping != null) {
          w.uint32(50)
          Ping.codec().encode(obj.ping, w)
        }

        if (obj.pong != null) {
          w.uint32(58)
          Pong.codec().encode(obj.pong, w)
        }

        if (obj.mediaDone != null) {
          w.uint32(66)
          MediaDone.codec().encode(obj.mediaDone, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offer = Offer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offer
              })
              break
            }
            case 2: {
              obj.answer = Answer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.answer
              })
              break
            }
            case 3: {
              obj.hangup = Hangup.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hangup
              })
              break
            }
            case 4: {
              obj.frame = Frame.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.frame
              })
              break
            }
            case 5: {
              obj.endOfTrack = EndOfTrack.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.endOfTrack
              })
              break
            }
            case 6: {
              obj.ping = Ping.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ping
              })
              break
            }
            case 7: {
              obj.pong = Pong.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pong
              })
              break
            }
            case 8: {
              obj.mediaDone = MediaDone.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.mediaDone
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Offer.codec().stream(reader, reader.uint32(), `${prefix}.offer`, {
                limits: opts.limits?.offer
              })

              break
            }
            case 2: {
              yield * Answer.codec().stream(reader, reader.uint32(), `${prefix}.answer`, {
                limits: opts.limits?.answer
              })

              break
            }
            case 3: {
              yield * Hangup.codec().stream(reader, reader.uint32(), `${prefix}.hangup`, {
                limits: opts.limits?.hangup
              })

              break
            }
            case 4: {
              yield * Frame.codec().stream(reader, reader.uint32(), `${prefix}.frame`, {
                limits: opts.limits?.frame
              })

              break
            }
            case 5: {
              yield * EndOfTrack.codec().stream(reader, reader.uint32(), `${prefix}.endOfTrack`, {
                limits: opts.limits?.endOfTrack
              })

              break
            }
            case 6: {
              yield * Ping.codec().stream(reader, reader.uint32(), `${prefix}.ping`, {
                limits: opts.limits?.ping
              })

              break
            }
            case 7: {
              yield * Pong.codec().stream(reader, reader.uint32(), `${prefix}.pong`, {
                limits: opts.limits?.pong
              })

              break
            }
            case 8: {
              yield * MediaDone.codec().stream(reader, reader.uint32(), `${prefix}.mediaDone`, {
                limits: opts.limits?.mediaDone
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CallMessageOfferCallIdFieldEvent {
    field: '$.offer.callId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CallMessageOfferVideoFieldEvent {
    field: '$.offer.video'
    value: boolean
  }

  export interface CallMessageOfferTracksTrackFieldEvent {
    field: '$.offer.tracks[].track'
    value: number
    index: number
  }

  export interface CallMessageOfferTracksKindFieldEvent {
    field: '$.offer.tracks[].kind'
    value: MediaKind
    index: number
  }

  export interface CallMessageOfferTracksCodecFieldEvent {
    field: '$.offer.tracks[].codec'
    value: string
    index: number
  }

  export interface CallMessageOfferTracksSampleRateFieldEvent {
    field: '$.offer.tracks[].sampleRate'
    value: number
    index: number
  }

  export interface CallMessageOfferTracksChannelsFieldEvent {
    field: '$.offer.tracks[].channels'
    value: number
    index: number
  }

  export interface CallMessageOfferTracksFrameMsFieldEvent {
    field: '$.offer.tracks[].frameMs'
    value: number
    index: number
  }

  export interface CallMessageOfferMembershipNonceFieldEvent {
    field: '$.offer.membership.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CallMessageOfferMembershipProofsFieldEvent {
    field: '$.offer.membership.proofs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CallMessageAnswerAcceptFieldEvent {
    field: '$.answer.accept'
    value: boolean
  }

  export interface CallMessageAnswerReasonFieldEvent {
    field: '$.answer.reason'
    value: Reason
  }

  export interface CallMessageAnswerMessageFieldEvent {
    field: '$.answer.message'
    value: string
  }

  export interface CallMessageAnswerTracksTrackFieldEvent {
    field: '$.answer.tracks[].track'
    value: number
    index: number
  }

  export interface CallMessageAnswerTracksKindFieldEvent {
    field: '$.answer.tracks[].kind'
    value: MediaKind
    index: number
  }

  export interface CallMessageAnswerTracksCodecFieldEvent {
    field: '$.answer.tracks[].codec'
    value: string
    index: number
  }

  export interface CallMessageAnswerTracksSampleRateFieldEvent {
    field: '$.answer.tracks[].sampleRate'
    value: number
    index: number
  }

  export interface CallMessageAnswerTracksChannelsFieldEvent {
    field: '$.answer.tracks[].channels'
    value: number
    index: number
  }

  export interface CallMessageAnswerTracksFrameMsFieldEvent {
    field: '$.answer.tracks[].frameMs'
    value: number
    index: number
  }

  export interface CallMessageAnswerProofFieldEvent {
    field: '$.answer.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CallMessageHangupReasonFieldEvent {
    field: '$.hangup.reason'
    value: Reason
  }

  export interface CallMessageHangupMessageFieldEvent {
    field: '$.hangup.message'
    value: string
  }

  export interface CallMessageFrameTrackFieldEvent {
    field: '$.frame.track'
    value: number
  }

  export interface CallMessageFrameSeqFieldEvent {
    field: '$.frame.seq'
    value: number
  }

  export interface CallMessageFrameCaptureMsFieldEvent {
    field: '$.frame.captureMs'
    value: number
  }

  export interface CallMessageFramePayloadFieldEvent {
    field: '$.frame.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CallMessageEndOfTrackTrackFieldEvent {
    field: '$.endOfTrack.track'
    value: number
  }

  export interface CallMessageEndOfTrackFramesFieldEvent {
    field: '$.endOfTrack.frames'
    value: number
  }

  export interface CallMessagePingIdFieldEvent {
    field: '$.ping.id'
    value: number
  }

  export interface CallMessagePingSentMsFieldEvent {
    field: '$.ping.sentMs'
    value: number
  }

  export interface CallMessagePongIdFieldEvent {
    field: '$.pong.id'
    value: number
  }

  export interface CallMessagePongPingSentMsFieldEvent {
    field: '$.pong.pingSentMs'
    value: number
  }

  export interface CallMessagePongReceivedMsFieldEvent {
    field: '$.pong.receivedMs'
    value: number
  }

  export interface CallMessagePongSentMsFieldEvent {
    field: '$.pong.sentMs'
    value: number
  }

  export function encode (obj: Partial<CallMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CallMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CallMessage>): CallMessage {
    return decodeMessage(buf, CallMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CallMessage>): Generator<CallMessageOfferCallIdFieldEvent | CallMessageOfferVideoFieldEvent | CallMessageOfferTracksTrackFieldEvent | CallMessageOfferTracksKindFieldEvent | CallMessageOfferTracksCodecFieldEvent | CallMessageOfferTracksSampleRateFieldEvent | CallMessageOfferTracksChannelsFieldEvent | CallMessageOfferTracksFrameMsFieldEvent | CallMessageOfferMembershipNonceFieldEvent | CallMessageOfferMembershipProofsFieldEvent | CallMessageAnswerAcceptFieldEvent | CallMessageAnswerReasonFieldEvent | CallMessageAnswerMessageFieldEvent | CallMessageAnswerTracksTrackFieldEvent | CallMessageAnswerTracksKindFieldEvent | CallMessageAnswerTracksCodecFieldEvent | CallMessageAnswerTracksSampleRateFieldEvent | CallMessageAnswerTracksChannelsFieldEvent | CallMessageAnswerTracksFrameMsFieldEvent | CallMessageAnswerProofFieldEvent | CallMessageHangupReasonFieldEvent | CallMessageHangupMessageFieldEvent | CallMessageFrameTrackFieldEvent | CallMessageFrameSeqFieldEvent | CallMessageFrameCaptureMsFieldEvent | CallMessageFramePayloadFieldEvent | CallMessageEndOfTrackTrackFieldEvent | CallMessageEndOfTrackFramesFieldEvent | CallMessagePingIdFieldEvent | CallMessagePingSentMsFieldEvent | CallMessagePongIdFieldEvent | CallMessagePongPingSentMsFieldEvent | CallMessagePongReceivedMsFieldEvent | CallMessagePongSentMsFieldEvent> {
    return streamMessage(buf, CallMessage.codec(), opts)
  }
}

export enum MediaKind {
  KIND_UNSPECIFIED = 'KIND_UNSPECIFIED',
  AUDIO = 'AUDIO',
  VIDEO = 'VIDEO'
}

enum __MediaKindValues {
  KIND_UNSPECIFIED = 0,
  AUDIO = 1,
  VIDEO = 2
}

export namespace MediaKind {
  export const codec = (): Codec<MediaKind> => {
    return enumeration<MediaKind>(__MediaKindValues)
  }
}

export enum Reason {
  REASON_UNSPECIFIED = 'REASON_UNSPECIFIED',
  HANGUP = 'HANGUP',
  COMPLETED = 'COMPLETED',
  DECLINED = 'DECLINED',
  BUSY = 'BUSY',
  NOT_A_MEMBER = 'NOT_A_MEMBER',
  NO_ANSWER = 'NO_ANSWER',
  CANCELLED = 'CANCELLED',
  SHUTDOWN = 'SHUTDOWN',
  MEDIA_ERROR = 'MEDIA_ERROR'
}

enum __ReasonValues {
  REASON_UNSPECIFIED = 0,
  HANGUP = 1,
  COMPLETED = 2,
  DECLINED = 3,
  BUSY = 4,
  NOT_A_MEMBER = 5,
  NO_ANSWER = 6,
  CANCELLED = 7,
  SHUTDOWN = 8,
  MEDIA_ERROR = 9
}

export namespace Reason {
  export const codec = (): Codec<Reason> => {
    return enumeration<Reason>(__ReasonValues)
  }
}

export interface TrackFormat {
  track: number
  kind: MediaKind
  codec: string
  sampleRate: number
  channels: number
  frameMs: number
}

export namespace TrackFormat {
  let _codec: Codec<TrackFormat>

  export const codec = (): Codec<TrackFormat> => {
    if (_codec == null) {
      _codec = message<TrackFormat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.track != null && obj.track !== 0)) {
          w.uint32(8)
          w.uint32(obj.track)
        }

        if (obj.kind != null && __MediaKindValues[obj.kind] !== 0) {
          w.uint32(16)
          MediaKind.codec().encode(obj.kind, w)
        }

        if ((obj.codec != null && obj.codec !== '')) {
          w.uint32(26)
          w.string(obj.codec)
        }

        if ((obj.sampleRate != null && obj.sampleRate !== 0)) {
          w.uint32(32)
          w.uint32(obj.sampleRate)
        }

        if ((obj.channels != null && obj.channels !== 0)) {
          w.uint32(40)
          w.uint32(obj.channels)
        }

        if ((obj.frameMs != null && obj.frameMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.frameMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          track: 0,
          kind: MediaKind.KIND_UNSPECIFIED,
          codec: '',
          sampleRate: 0,
          channels: 0,
          frameMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.track = reader.uint32()
              break
            }
            case 2: {
              obj.kind = MediaKind.codec().decode(reader)
              break
            }
            case 3: {
              obj.codec = reader.string()
              break
            }
            case 4: {
              obj.sampleRate = reader.uint32()
              break
            }
            case 5: {
              obj.channels = reader.uint32()
              break
            }
            case 6: {
              obj.frameMs = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.track`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.kind`,
                value: MediaKind.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.codec`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sampleRate`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.channels`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.frameMs`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TrackFormatTrackFieldEvent {
    field: '$.track'
    value: number
  }

  export interface TrackFormatKindFieldEvent {
    field: '$.kind'
    value: MediaKind
  }

  export interface TrackFormatCodecFieldEvent {
    field: '$.codec'
    value: string
  }

  export interface TrackFormatSampleRateFieldEvent {
    field: '$.sampleRate'
    value: number
  }

  export interface TrackFormatChannelsFieldEvent {
    field: '$.channels'
    value: number
  }

  export interface TrackFormatFrameMsFieldEvent {
    field: '$.frameMs'
    value: number
  }

  export function encode (obj: Partial<TrackFormat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TrackFormat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TrackFormat>): TrackFormat {
    return decodeMessage(buf, TrackFormat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TrackFormat>): Generator<TrackFormatTrackFieldEvent | TrackFormatKindFieldEvent | TrackFormatCodecFieldEvent | TrackFormatSampleRateFieldEvent | TrackFormatChannelsFieldEvent | TrackFormatFrameMsFieldEvent> {
    return streamMessage(buf, TrackFormat.codec(), opts)
  }
}

export interface Membership {
  nonce: Uint8Array<ArrayBuffer>
  proofs: Uint8Array<ArrayBuffer>[]
}

export namespace Membership {
  let _codec: Codec<Membership>

  export const codec = (): Codec<Membership> => {
    if (_codec == null) {
      _codec = message<Membership>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.nonce)
        }

        if (obj.proofs != null && obj.proofs.length > 0) {
          for (const value of obj.proofs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nonce: uint8ArrayAlloc(0),
          proofs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nonce = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.proofs != null && obj.proofs.length === opts.limits.proofs) {
                throw new MaxLengthError('Decode error - repeated field "proofs" had too many elements')
              }

              obj.proofs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          proofs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.proofs != null && obj.proofs === opts.limits.proofs) {
                throw new MaxLengthError('Streaming decode error - repeated field "proofs" had too many elements')
              }

              yield {
                field: `${prefix}.proofs[]`,
                index: obj.proofs,
                value: reader.bytes()
              }

              obj.proofs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface MembershipNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipProofsFieldEvent {
    field: '$.proofs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Membership>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Membership.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Membership>): Membership {
    return decodeMessage(buf, Membership.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Membership>): Generator<MembershipNonceFieldEvent | MembershipProofsFieldEvent> {
    return streamMessage(buf, Membership.codec(), opts)
  }
}

export interface Offer {
  callId: Uint8Array<ArrayBuffer>
  video: boolean
  tracks: TrackFormat[]
  membership?: Membership
}

export namespace Offer {
  let _codec: Codec<Offer>

  export const codec = (): Codec<Offer> => {
    if (_codec == null) {
      _codec = message<Offer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.callId != null && obj.callId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.callId)
        }

        if ((obj.video != null && obj.video !== false)) {
          w.uint32(16)
          w.bool(obj.video)
        }

        if (obj.tracks != null && obj.tracks.length > 0) {
          for (const value of obj.tracks) {
            w.uint32(26)
            TrackFormat.codec().encode(value, w)
          }
        }

        if (obj.membership != null) {
          w.uint32(34)
          Membership.codec().encode(obj.membership, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          callId: uint8ArrayAlloc(0),
          video: false,
          tracks: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.callId = reader.bytes()
              break
            }
            case 2: {
              obj.video = reader.bool()
              break
            }
            case 3: {
              if (opts.limits?.tracks != null && obj.tracks.length === opts.limits.tracks) {
                throw new MaxLengthError('Decode error - repeated field "tracks" had too many elements')
              }

              obj.tracks.push(TrackFormat.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tracks$
              }))
              break
            }
            case 4: {
              obj.membership = Membership.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.membership
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tracks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.callId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.video`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              if (opts.limits?.tracks != null && obj.tracks === opts.limits.tracks) {
                throw new MaxLengthError('Streaming decode error - repeated field "tracks" had too many elements')
              }

              for (const evt of TrackFormat.codec().stream(reader, reader.uint32(), `${prefix}.tracks[]`, {
                limits: opts.limits?.tracks$
              })) {
                yield {
                  ...evt,
                  index: obj.tracks
                }
              }

              obj.tracks++

              break
            }
            case 4: {
              yield * Membership.codec().stream(reader, reader.uint32(), `${prefix}.membership`, {
                limits: opts.limits?.membership
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OfferCallIdFieldEvent {
    field: '$.callId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferVideoFieldEvent {
    field: '$.video'
    value: boolean
  }

  export interface OfferTracksTrackFieldEvent {
    field: '$.tracks[].track'
    value: number
    index: number
  }

  export interface OfferTracksKindFieldEvent {
    field: '$.tracks[].kind'
    value: MediaKind
    index: number
  }

  export interface OfferTracksCodecFieldEvent {
    field: '$.tracks[].codec'
    value: string
    index: number
  }

  export interface OfferTracksSampleRateFieldEvent {
    field: '$.tracks[].sampleRate'
    value: number
    index: number
  }

  export interface OfferTracksChannelsFieldEvent {
    field: '$.tracks[].channels'
    value: number
    index: number
  }

  export interface OfferTracksFrameMsFieldEvent {
    field: '$.tracks[].frameMs'
    value: number
    index: number
  }

  export interface OfferMembershipNonceFieldEvent {
    field: '$.membership.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferMembershipProofsFieldEvent {
    field: '$.membership.proofs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Offer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Offer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Offer {
    return decodeMessage(buf, Offer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Generator<OfferCallIdFieldEvent | OfferVideoFieldEvent | OfferTracksTrackFieldEvent | OfferTracksKindFieldEvent | OfferTracksCodecFieldEvent | OfferTracksSampleRateFieldEvent | OfferTracksChannelsFieldEvent | OfferTracksFrameMsFieldEvent | OfferMembershipNonceFieldEvent | OfferMembershipProofsFieldEvent> {
    return streamMessage(buf, Offer.codec(), opts)
  }
}

export interface Answer {
  accept: boolean
  reason: Reason
  message: string
  tracks: TrackFormat[]
  proof?: Uint8Array<ArrayBuffer>
}

export namespace Answer {
  let _codec: Codec<Answer>

  export const codec = (): Codec<Answer> => {
    if (_codec == null) {
      _codec = message<Answer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.accept != null && obj.accept !== false)) {
          w.uint32(8)
          w.bool(obj.accept)
        }

        if (obj.reason != null && __ReasonValues[obj.reason] !== 0) {
          w.uint32(16)
          Reason.codec().encode(obj.reason, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (obj.tracks != null && obj.tracks.length > 0) {
          for (const value of obj.tracks) {
            w.uint32(34)
            TrackFormat.codec().encode(value, w)
          }
        }

        if (obj.proof != null) {
          w.uint32(42)
          w.bytes(obj.proof)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accept: false,
          reason: Reason.REASON_UNSPECIFIED,
          message: '',
          tracks: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accept = reader.bool()
              break
            }
            case 2: {
              obj.reason = Reason.codec().decode(reader)
              break
            }
            case 3: {
              obj.message = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.tracks != null && obj.tracks.length === opts.limits.tracks) {
                throw new MaxLengthError('Decode error - repeated field "tracks" had too many elements')
              }

              obj.tracks.push(TrackFormat.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tracks$
              }))
              break
            }
            case 5: {
              obj.proof = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tracks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.accept`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: Reason.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.tracks != null && obj.tracks === opts.limits.tracks) {
                throw new MaxLengthError('Streaming decode error - repeated field "tracks" had too many elements')
              }

              for (const evt of TrackFormat.codec().stream(reader, reader.uint32(), `${prefix}.tracks[]`, {
                limits: opts.limits?.tracks$
              })) {
                yield {
                  ...evt,
                  index: obj.tracks
                }
              }

              obj.tracks++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.proof`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AnswerAcceptFieldEvent {
    field: '$.accept'
    value: boolean
  }

  export interface AnswerReasonFieldEvent {
    field: '$.reason'
    value: Reason
  }

  export interface AnswerMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface AnswerTracksTrackFieldEvent {
    field: '$.tracks[].track'
    value: number
    index: number
  }

  export interface AnswerTracksKindFieldEvent {
    field: '$.tracks[].kind'
    value: MediaKind
    index: number
  }

  export interface AnswerTracksCodecFieldEvent {
    field: '$.tracks[].codec'
    value: string
    index: number
  }

  export interface AnswerTracksSampleRateFieldEvent {
    field: '$.tracks[].sampleRate'
    value: number
    index: number
  }

  export interface AnswerTracksChannelsFieldEvent {
    field: '$.tracks[].channels'
    value: number
    index: number
  }

  export interface AnswerTracksFrameMsFieldEvent {
    field: '$.tracks[].frameMs'
    value: number
    index: number
  }

  export interface AnswerProofFieldEvent {
    field: '$.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Answer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Answer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Answer>): Answer {
    return decodeMessage(buf, Answer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Answer>): Generator<AnswerAcceptFieldEvent | AnswerReasonFieldEvent | AnswerMessageFieldEvent | AnswerTracksTrackFieldEvent | AnswerTracksKindFieldEvent | AnswerTracksCodecFieldEvent | AnswerTracksSampleRateFieldEvent | AnswerTracksChannelsFieldEvent | AnswerTracksFrameMsFieldEvent | AnswerProofFieldEvent> {
    return streamMessage(buf, Answer.codec(), opts)
  }
}

export interface Hangup {
  reason: Reason
  message: string
}

export namespace Hangup {
  let _codec: Codec<Hangup>

  export const codec = (): Codec<Hangup> => {
    if (_codec == null) {
      _codec = message<Hangup>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.reason != null && __ReasonValues[obj.reason] !== 0) {
          w.uint32(8)
          Reason.codec().encode(obj.reason, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reason: Reason.REASON_UNSPECIFIED,
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.reason = Reason.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.reason`,
                value: Reason.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HangupReasonFieldEvent {
    field: '$.reason'
    value: Reason
  }

  export interface HangupMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Hangup>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hangup.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hangup>): Hangup {
    return decodeMessage(buf, Hangup.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hangup>): Generator<HangupReasonFieldEvent | HangupMessageFieldEvent> {
    return streamMessage(buf, Hangup.codec(), opts)
  }
}

export interface Frame {
  track: number
  seq: number
  captureMs: number
  payload: Uint8Array<ArrayBuffer>
}

export namespace Frame {
  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.track != null && obj.track !== 0)) {
          w.uint32(8)
          w.uint32(obj.track)
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(16)
          w.uint32(obj.seq)
        }

        if ((obj.captureMs != null && obj.captureMs !== 0)) {
          w.uint32(25)
          w.double(obj.captureMs)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.payload)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          track: 0,
          seq: 0,
          captureMs: 0,
          payload: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.track = reader.uint32()
              break
            }
            case 2: {
              obj.seq = reader.uint32()
              break
            }
            case 3: {
              obj.captureMs = reader.double()
              break
            }
            case 4: {
              obj.payload = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.track`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.captureMs`,
                value: reader.double()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface FrameTrackFieldEvent {
    field: '$.track'
    value: number
  }

  export interface FrameSeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export interface FrameCaptureMsFieldEvent {
    field: '$.captureMs'
    value: number
  }

  export interface FramePayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameTrackFieldEvent | FrameSeqFieldEvent | FrameCaptureMsFieldEvent | FramePayloadFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}

export interface EndOfTrack {
  track: number
  frames: number
}

export namespace EndOfTrack {
  let _codec: Codec<EndOfTrack>

  export const codec = (): Codec<EndOfTrack> => {
    if (_codec == null) {
      _codec = message<EndOfTrack>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.track != null && obj.track !== 0)) {
          w.uint32(8)
          w.uint32(obj.track)
        }

        if ((obj.frames != null && obj.frames !== 0)) {
          w.uint32(16)
          w.uint32(obj.frames)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          track: 0,
          frames: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.track = reader.uint32()
              break
            }
            case 2: {
              obj.frames = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.track`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.frames`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EndOfTrackTrackFieldEvent {
    field: '$.track'
    value: number
  }

  export interface EndOfTrackFramesFieldEvent {
    field: '$.frames'
    value: number
  }

  export function encode (obj: Partial<EndOfTrack>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EndOfTrack.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndOfTrack>): EndOfTrack {
    return decodeMessage(buf, EndOfTrack.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndOfTrack>): Generator<EndOfTrackTrackFieldEvent | EndOfTrackFramesFieldEvent> {
    return streamMessage(buf, EndOfTrack.codec(), opts)
  }
}

export interface MediaDone {}

export namespace MediaDone {
  let _codec: Codec<MediaDone>

  export const codec = (): Codec<MediaDone> => {
    if (_codec == null) {
      _codec = message<MediaDone>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export function encode (obj: Partial<MediaDone>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MediaDone.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MediaDone>): MediaDone {
    return decodeMessage(buf, MediaDone.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MediaDone>): Generator<{}> {
    return streamMessage(buf, MediaDone.codec(), opts)
  }
}

export interface Ping {
  id: number
  sentMs: number
}

export namespace Ping {
  let _codec: Codec<Ping>

  export const codec = (): Codec<Ping> => {
    if (_codec == null) {
      _codec = message<Ping>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if ((obj.sentMs != null && obj.sentMs !== 0)) {
          w.uint32(17)
          w.double(obj.sentMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          sentMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.sentMs = reader.double()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sentMs`,
                value: reader.double()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PingIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface PingSentMsFieldEvent {
    field: '$.sentMs'
    value: number
  }

  export function encode (obj: Partial<Ping>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ping.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ping>): Ping {
    return decodeMessage(buf, Ping.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ping>): Generator<PingIdFieldEvent | PingSentMsFieldEvent> {
    return streamMessage(buf, Ping.codec(), opts)
  }
}

export interface Pong {
  id: number
  pingSentMs: number
  receivedMs: number
  sentMs: number
}

export namespace Pong {
  let _codec: Codec<Pong>

  export const codec = (): Codec<Pong> => {
    if (_codec == null) {
      _codec = message<Pong>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if ((obj.pingSentMs != null && obj.pingSentMs !== 0)) {
          w.uint32(17)
          w.double(obj.pingSentMs)
        }

        if ((obj.receivedMs != null && obj.receivedMs !== 0)) {
          w.uint32(25)
          w.double(obj.receivedMs)
        }

        if ((obj.sentMs != null && obj.sentMs !== 0)) {
          w.uint32(33)
          w.double(obj.sentMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          pingSentMs: 0,
          receivedMs: 0,
          sentMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.pingSentMs = reader.double()
              break
            }
            case 3: {
              obj.receivedMs = reader.double()
              break
            }
            case 4: {
              obj.sentMs = reader.double()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.pingSentMs`,
                value: reader.double()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.receivedMs`,
                value: reader.double()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sentMs`,
                value: reader.double()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PongIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface PongPingSentMsFieldEvent {
    field: '$.pingSentMs'
    value: number
  }

  export interface PongReceivedMsFieldEvent {
    field: '$.receivedMs'
    value: number
  }

  export interface PongSentMsFieldEvent {
    field: '$.sentMs'
    value: number
  }

  export function encode (obj: Partial<Pong>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Pong.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pong>): Pong {
    return decodeMessage(buf, Pong.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pong>): Generator<PongIdFieldEvent | PongPingSentMsFieldEvent | PongReceivedMsFieldEvent | PongSentMsFieldEvent> {
    return streamMessage(buf, Pong.codec(), opts)
  }
}
