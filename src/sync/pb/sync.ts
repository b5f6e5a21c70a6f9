import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Hello {
  nonce: Uint8Array<ArrayBuffer>
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nonce: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nonce = reader.bytes()
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
                field: `${prefix}.nonce`,
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

  export interface HelloNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Hello>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloNonceFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface Auth {
  proof: Uint8Array<ArrayBuffer>
  digest: Uint8Array<ArrayBuffer>
}

export namespace Auth {
  let _codec: Codec<Auth>

  export const codec = (): Codec<Auth> => {
    if (_codec == null) {
      _codec = message<Auth>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.proof != null && obj.proof.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.proof)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          proof: uint8ArrayAlloc(0),
          digest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.proof = reader.bytes()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
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
                field: `${prefix}.proof`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
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

  export interface AuthProofFieldEvent {
    field: '$.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AuthDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Auth>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Auth.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Auth>): Auth {
    return decodeMessage(buf, Auth.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Auth>): Generator<AuthProofFieldEvent | AuthDigestFieldEvent> {
    return streamMessage(buf, Auth.codec(), opts)
  }
}

export interface AuthReply {
  status: AuthReply.Status
  proof: Uint8Array<ArrayBuffer>
  inSync: boolean
  summary?: Summary
}

export namespace AuthReply {
  export enum Status {
    OK = 'OK',
    UNKNOWN = 'UNKNOWN',
    BUSY = 'BUSY'
  }

  enum __StatusValues {
    OK = 0,
    UNKNOWN = 1,
    BUSY = 2
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<AuthReply>

  export const codec = (): Codec<AuthReply> => {
    if (_codec == null) {
      _codec = message<AuthReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          AuthReply.Status.codec().encode(obj.status, w)
        }

        if ((obj.proof != null && obj.proof.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.proof)
        }

        if ((obj.inSync != null && obj.inSync !== false)) {
          w.uint32(24)
          w.bool(obj.inSync)
        }

        if (obj.summary != null) {
          w.uint32(34)
          Summary.codec().encode(obj.summary, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          proof: uint8ArrayAlloc(0),
          inSync: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = AuthReply.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.proof = reader.bytes()
              break
            }
            case 3: {
              obj.inSync = reader.bool()
              break
            }
            case 4: {
              obj.summary = Summary.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.summary
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
              yield {
                field: `${prefix}.status`,
                value: AuthReply.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.proof`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.inSync`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield * Summary.codec().stream(reader, reader.uint32(), `${prefix}.summary`, {
                limits: opts.limits?.summary
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

  export interface AuthReplyStatusFieldEvent {
    field: '$.status'
    value: AuthReply.Status
  }

  export interface AuthReplyProofFieldEvent {
    field: '$.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AuthReplyInSyncFieldEvent {
    field: '$.inSync'
    value: boolean
  }

  export interface AuthReplySummaryAuthorsAuthorFieldEvent {
    field: '$.summary.authors[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AuthReplySummaryAuthorsRangesFieldEvent {
    field: '$.summary.authors[].ranges[]'
    index: number
    value: bigint
  }

  export interface AuthReplySummaryAuthorsTruncatedFieldEvent {
    field: '$.summary.authors[].truncated'
    value: boolean
    index: number
  }

  export interface AuthReplySummaryAuthorsHeadFieldEvent {
    field: '$.summary.authors[].head'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AuthReplySummaryTruncatedFieldEvent {
    field: '$.summary.truncated'
    value: boolean
  }

  export function encode (obj: Partial<AuthReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AuthReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthReply>): AuthReply {
    return decodeMessage(buf, AuthReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthReply>): Generator<AuthReplyStatusFieldEvent | AuthReplyProofFieldEvent | AuthReplyInSyncFieldEvent | AuthReplySummaryAuthorsAuthorFieldEvent | AuthReplySummaryAuthorsRangesFieldEvent | AuthReplySummaryAuthorsTruncatedFieldEvent | AuthReplySummaryAuthorsHeadFieldEvent | AuthReplySummaryTruncatedFieldEvent> {
    return streamMessage(buf, AuthReply.codec(), opts)
  }
}

export interface AuthorRanges {
  author: Uint8Array<ArrayBuffer>
  ranges: bigint[]
  truncated: boolean
  head: Uint8Array<ArrayBuffer>
}

export namespace AuthorRanges {
  let _codec: Codec<AuthorRanges>

  export const codec = (): Codec<AuthorRanges> => {
    if (_codec == null) {
      _codec = message<AuthorRanges>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.author)
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(16)
            w.uint64(value)
          }
        }

        if ((obj.truncated != null && obj.truncated !== false)) {
          w.uint32(24)
          w.bool(obj.truncated)
        }

        if ((obj.head != null && obj.head.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.head)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          ranges: [],
          truncated: false,
          head: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.author = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(reader.uint64())
              break
            }
            case 3: {
              obj.truncated = reader.bool()
              break
            }
            case 4: {
              obj.head = reader.bytes()
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
          ranges: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              yield {
                field: `${prefix}.ranges[]`,
                index: obj.ranges,
                value: reader.uint64()
              }

              obj.ranges++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.truncated`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.head`,
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

  export interface AuthorRangesAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AuthorRangesRangesFieldEvent {
    field: '$.ranges[]'
    index: number
    value: bigint
  }

  export interface AuthorRangesTruncatedFieldEvent {
    field: '$.truncated'
    value: boolean
  }

  export interface AuthorRangesHeadFieldEvent {
    field: '$.head'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<AuthorRanges>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AuthorRanges.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthorRanges>): AuthorRanges {
    return decodeMessage(buf, AuthorRanges.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AuthorRanges>): Generator<AuthorRangesAuthorFieldEvent | AuthorRangesRangesFieldEvent | AuthorRangesTruncatedFieldEvent | AuthorRangesHeadFieldEvent> {
    return streamMessage(buf, AuthorRanges.codec(), opts)
  }
}

export interface Summary {
  authors: AuthorRanges[]
  truncated: boolean
}

export namespace Summary {
  let _codec: Codec<Summary>

  export const codec = (): Codec<Summary> => {
    if (_codec == null) {
      _codec = message<Summary>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.authors != null && obj.authors.length > 0) {
          for (const value of obj.authors) {
            w.uint32(10)
            AuthorRanges.codec().encode(value, w)
          }
        }

        if ((obj.truncated != null && obj.truncated !== false)) {
          w.uint32(16)
          w.bool(obj.truncated)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          authors: [],
          truncated: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.authors != null && obj.authors.length === opts.limits.authors) {
                throw new MaxLengthError('Decode error - repeated field "authors" had too many elements')
              }

              obj.authors.push(AuthorRanges.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.authors$
              }))
              break
            }
            case 2: {
              obj.truncated = reader.bool()
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
          authors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.authors != null && obj.authors === opts.limits.authors) {
                throw new MaxLengthError('Streaming decode error - repeated field "authors" had too many elements')
              }

              for (const evt of AuthorRanges.codec().stream(reader, reader.uint32(), `${prefix}.authors[]`, {
                limits: opts.limits?.authors$
              })) {
                yield {
                  ...evt,
                  index: obj.authors
                }
              }

              obj.authors++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.truncated`,
                value: reader.bool()
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

  export interface SummaryAuthorsAuthorFieldEvent {
    field: '$.authors[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SummaryAuthorsRangesFieldEvent {
    field: '$.authors[].ranges[]'
    index: number
    value: bigint
  }

  export interface SummaryAuthorsTruncatedFieldEvent {
    field: '$.authors[].truncated'
    value: boolean
    index: number
  }

  export interface SummaryAuthorsHeadFieldEvent {
    field: '$.authors[].head'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SummaryTruncatedFieldEvent {
    field: '$.truncated'
    value: boolean
  }

  export function encode (obj: Partial<Summary>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Summary.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Summary>): Summary {
    return decodeMessage(buf, Summary.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Summary>): Generator<SummaryAuthorsAuthorFieldEvent | SummaryAuthorsRangesFieldEvent | SummaryAuthorsTruncatedFieldEvent | SummaryAuthorsHeadFieldEvent | SummaryTruncatedFieldEvent> {
    return streamMessage(buf, Summary.codec(), opts)
  }
}

export interface Frame {
  kind: Frame.Kind
  summary?: Summary
  records: Uint8Array<ArrayBuffer>[]
  done: boolean
  wants: AuthorRanges[]
}

export namespace Frame {
  export enum Kind {
    NONE = 'NONE',
    SUMMARY = 'SUMMARY',
    PULL = 'PULL',
    BATCH = 'BATCH'
  }

  enum __KindValues {
    NONE = 0,
    SUMMARY = 1,
    PULL = 2,
    BATCH = 3
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          Frame.Kind.codec().encode(obj.kind, w)
        }

        if (obj.summary != null) {
          w.uint32(18)
          Summary.codec().encode(obj.summary, w)
        }

        if (obj.records != null && obj.records.length > 0) {
          for (const value of obj.records) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if ((obj.done != null && obj.done !== false)) {
          w.uint32(32)
          w.bool(obj.done)
        }

        if (obj.wants != null && obj.wants.length > 0) {
          for (const value of obj.wants) {
            w.uint32(42)
            AuthorRanges.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.NONE,
          records: [],
          done: false,
          wants: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = Frame.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.summary = Summary.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.summary
              })
              break
            }
            case 3: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - repeated field "records" had too many elements')
              }

              obj.records.push(reader.bytes())
              break
            }
            case 4: {
              obj.done = reader.bool()
              break
            }
            case 5: {
              if (opts.limits?.wants != null && obj.wants.length === opts.limits.wants) {
                throw new MaxLengthError('Decode error - repeated field "wants" had too many elements')
              }

              obj.wants.push(AuthorRanges.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.wants$
              }))
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
          records: 0,
          wants: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: Frame.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield * Summary.codec().stream(reader, reader.uint32(), `${prefix}.summary`, {
                limits: opts.limits?.summary
              })

              break
            }
            case 3: {
              if (opts.limits?.records != null && obj.records === opts.limits.records) {
                throw new MaxLengthError('Streaming decode error - repeated field "records" had too many elements')
              }

              yield {
                field: `${prefix}.records[]`,
                index: obj.records,
                value: reader.bytes()
              }

              obj.records++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.done`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              if (opts.limits?.wants != null && obj.wants === opts.limits.wants) {
                throw new MaxLengthError('Streaming decode error - repeated field "wants" had too many elements')
              }

              for (const evt of AuthorRanges.codec().stream(reader, reader.uint32(), `${prefix}.wants[]`, {
                limits: opts.limits?.wants$
              })) {
                yield {
                  ...evt,
                  index: obj.wants
                }
              }

              obj.wants++

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

  export interface FrameKindFieldEvent {
    field: '$.kind'
    value: Frame.Kind
  }

  export interface FrameSummaryAuthorsAuthorFieldEvent {
    field: '$.summary.authors[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FrameSummaryAuthorsRangesFieldEvent {
    field: '$.summary.authors[].ranges[]'
    index: number
    value: bigint
  }

  export interface FrameSummaryAuthorsTruncatedFieldEvent {
    field: '$.summary.authors[].truncated'
    value: boolean
    index: number
  }

  export interface FrameSummaryAuthorsHeadFieldEvent {
    field: '$.summary.authors[].head'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FrameSummaryTruncatedFieldEvent {
    field: '$.summary.truncated'
    value: boolean
  }

  export interface FrameRecordsFieldEvent {
    field: '$.records[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameDoneFieldEvent {
    field: '$.done'
    value: boolean
  }

  export interface FrameWantsAuthorFieldEvent {
    field: '$.wants[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FrameWantsRangesFieldEvent {
    field: '$.wants[].ranges[]'
    index: number
    value: bigint
  }

  export interface FrameWantsTruncatedFieldEvent {
    field: '$.wants[].truncated'
    value: boolean
    index: number
  }

  export interface FrameWantsHeadFieldEvent {
    field: '$.wants[].head'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameKindFieldEvent | FrameSummaryAuthorsAuthorFieldEvent | FrameSummaryAuthorsRangesFieldEvent | FrameSummaryAuthorsTruncatedFieldEvent | FrameSummaryAuthorsHeadFieldEvent | FrameSummaryTruncatedFieldEvent | FrameRecordsFieldEvent | FrameDoneFieldEvent | FrameWantsAuthorFieldEvent | FrameWantsRangesFieldEvent | FrameWantsTruncatedFieldEvent | FrameWantsHeadFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}
