import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Envelope {
  version: number
  epoch: number
  author: Uint8Array<ArrayBuffer>
  seq: bigint
  lamport: bigint
  timestamp: bigint
  kind: number
  nonce: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
  mac: Uint8Array<ArrayBuffer>
}

export namespace Envelope {
  let _codec: Codec<Envelope>

  export const codec = (): Codec<Envelope> => {
    if (_codec == null) {
      _codec = message<Envelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(16)
          w.uint32(obj.epoch)
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.author)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(32)
          w.uint64(obj.seq)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(40)
          w.uint64(obj.lamport)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(48)
          w.uint64(obj.timestamp)
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(56)
          w.uint32(obj.kind)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.nonce)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(74)
          w.bytes(obj.ciphertext)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.signature)
        }

        if ((obj.mac != null && obj.mac.byteLength > 0)) {
          w.uint32(90)
          w.bytes(obj.mac)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          epoch: 0,
          author: uint8ArrayAlloc(0),
          seq: 0n,
          lamport: 0n,
          timestamp: 0n,
          kind: 0,
          nonce: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0),
          mac: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.epoch = reader.uint32()
              break
            }
            case 3: {
              obj.author = reader.bytes()
              break
            }
            case 4: {
              obj.seq = reader.uint64()
              break
            }
            case 5: {
              obj.lamport = reader.uint64()
              break
            }
            case 6: {
              obj.timestamp = reader.uint64()
              break
            }
            case 7: {
              obj.kind = reader.uint32()
              break
            }
            case 8: {
              obj.nonce = reader.bytes()
              break
            }
            case 9: {
              obj.ciphertext = reader.bytes()
              break
            }
            case 10: {
              obj.signature = reader.bytes()
              break
            }
            case 11: {
              obj.mac = reader.bytes()
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
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.kind`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.ciphertext`,
                value: reader.bytes()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.mac`,
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

  export interface EnvelopeVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface EnvelopeEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface EnvelopeAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface EnvelopeLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface EnvelopeTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface EnvelopeKindFieldEvent {
    field: '$.kind'
    value: number
  }

  export interface EnvelopeNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeMacFieldEvent {
    field: '$.mac'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Envelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Envelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Envelope {
    return decodeMessage(buf, Envelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Generator<EnvelopeVersionFieldEvent | EnvelopeEpochFieldEvent | EnvelopeAuthorFieldEvent | EnvelopeSeqFieldEvent | EnvelopeLamportFieldEvent | EnvelopeTimestampFieldEvent | EnvelopeKindFieldEvent | EnvelopeNonceFieldEvent | EnvelopeCiphertextFieldEvent | EnvelopeSignatureFieldEvent | EnvelopeMacFieldEvent> {
    return streamMessage(buf, Envelope.codec(), opts)
  }
}

export interface Sealed {
  signed: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace Sealed {
  let _codec: Codec<Sealed>

  export const codec = (): Codec<Sealed> => {
    if (_codec == null) {
      _codec = message<Sealed>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.signed != null && obj.signed.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.signed)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          signed: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.signed = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.signed`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
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

  export interface SealedSignedFieldEvent {
    field: '$.signed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SealedSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Sealed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Sealed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Sealed>): Sealed {
    return decodeMessage(buf, Sealed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Sealed>): Generator<SealedSignedFieldEvent | SealedSignatureFieldEvent> {
    return streamMessage(buf, Sealed.codec(), opts)
  }
}

export interface Signed {
  author: Uint8Array<ArrayBuffer>
  seq: bigint
  lamport: bigint
  timestamp: bigint
  kind: number
  prev: Uint8Array<ArrayBuffer>
  parents: Uint8Array<ArrayBuffer>[]
  body?: Body
}

export namespace Signed {
  let _codec: Codec<Signed>

  export const codec = (): Codec<Signed> => {
    if (_codec == null) {
      _codec = message<Signed>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.author)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(16)
          w.uint64(obj.seq)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(24)
          w.uint64(obj.lamport)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(32)
          w.uint64(obj.timestamp)
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(40)
          w.uint32(obj.kind)
        }

        if ((obj.prev != null && obj.prev.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.prev)
        }

        if (obj.parents != null && obj.parents.length > 0) {
          for (const value of obj.parents) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if (obj.body != null) {
          w.uint32(66)
          Body.codec().encode(obj.body, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          seq: 0n,
          lamport: 0n,
          timestamp: 0n,
          kind: 0,
          prev: uint8ArrayAlloc(0),
          parents: []
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
              obj.seq = reader.uint64()
              break
            }
            case 3: {
              obj.lamport = reader.uint64()
              break
            }
            case 4: {
              obj.timestamp = reader.uint64()
              break
            }
            case 5: {
              obj.kind = reader.uint32()
              break
            }
            case 6: {
              obj.prev = reader.bytes()
              break
            }
            case 7: {
              if (opts.limits?.parents != null && obj.parents.length === opts.limits.parents) {
                throw new MaxLengthError('Decode error - repeated field "parents" had too many elements')
              }

              obj.parents.push(reader.bytes())
              break
            }
            case 8: {
              obj.body = Body.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.body
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
          parents: 0
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
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.kind`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.prev`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              if (opts.limits?.parents != null && obj.parents === opts.limits.parents) {
                throw new MaxLengthError('Streaming decode error - repeated field "parents" had too many elements')
              }

              yield {
                field: `${prefix}.parents[]`,
                index: obj.parents,
                value: reader.bytes()
              }

              obj.parents++

              break
            }
            case 8: {
              yield * Body.codec().stream(reader, reader.uint32(), `${prefix}.body`, {
                limits: opts.limits?.body
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

  export interface SignedAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface SignedLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface SignedTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface SignedKindFieldEvent {
    field: '$.kind'
    value: number
  }

  export interface SignedPrevFieldEvent {
    field: '$.prev'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedParentsFieldEvent {
    field: '$.parents[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyTextFieldEvent {
    field: '$.body.text'
    value: string
  }

  export interface SignedBodyNameFieldEvent {
    field: '$.body.name'
    value: string
  }

  export interface SignedBodyReplyToFieldEvent {
    field: '$.body.replyTo'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyTargetFieldEvent {
    field: '$.body.target'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyEmojiFieldEvent {
    field: '$.body.emoji'
    value: string
  }

  export interface SignedBodyRemoveFieldEvent {
    field: '$.body.remove'
    value: boolean
  }

  export interface SignedBodyFileNameFieldEvent {
    field: '$.body.file.name'
    value: string
  }

  export interface SignedBodyFileSizeFieldEvent {
    field: '$.body.file.size'
    value: bigint
  }

  export interface SignedBodyFileMimeFieldEvent {
    field: '$.body.file.mime'
    value: string
  }

  export interface SignedBodyFileHashFieldEvent {
    field: '$.body.file.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyFileManifestFieldEvent {
    field: '$.body.file.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyFileChunkSizeFieldEvent {
    field: '$.body.file.chunkSize'
    value: number
  }

  export interface SignedBodyFileKeyFieldEvent {
    field: '$.body.file.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyFileWidthFieldEvent {
    field: '$.body.file.width'
    value: number
  }

  export interface SignedBodyFileHeightFieldEvent {
    field: '$.body.file.height'
    value: number
  }

  export interface SignedBodyMentionsFieldEvent {
    field: '$.body.mentions[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedBodyOpFieldEvent {
    field: '$.body.op'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Signed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Signed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Signed>): Signed {
    return decodeMessage(buf, Signed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Signed>): Generator<SignedAuthorFieldEvent | SignedSeqFieldEvent | SignedLamportFieldEvent | SignedTimestampFieldEvent | SignedKindFieldEvent | SignedPrevFieldEvent | SignedParentsFieldEvent | SignedBodyTextFieldEvent | SignedBodyNameFieldEvent | SignedBodyReplyToFieldEvent | SignedBodyTargetFieldEvent | SignedBodyEmojiFieldEvent | SignedBodyRemoveFieldEvent | SignedBodyFileNameFieldEvent | SignedBodyFileSizeFieldEvent | SignedBodyFileMimeFieldEvent | SignedBodyFileHashFieldEvent | SignedBodyFileManifestFieldEvent | SignedBodyFileChunkSizeFieldEvent | SignedBodyFileKeyFieldEvent | SignedBodyFileWidthFieldEvent | SignedBodyFileHeightFieldEvent | SignedBodyMentionsFieldEvent | SignedBodyOpFieldEvent> {
    return streamMessage(buf, Signed.codec(), opts)
  }
}

export interface Body {
  text: string
  name: string
  replyTo: Uint8Array<ArrayBuffer>
  target: Uint8Array<ArrayBuffer>
  emoji: string
  remove: boolean
  file?: FileRef
  mentions: Uint8Array<ArrayBuffer>[]
  op?: Uint8Array<ArrayBuffer>
}

export namespace Body {
  let _codec: Codec<Body>

  export const codec = (): Codec<Body> => {
    if (_codec == null) {
      _codec = message<Body>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(10)
          w.string(obj.text)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if ((obj.replyTo != null && obj.replyTo.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.replyTo)
        }

        if ((obj.target != null && obj.target.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.target)
        }

        if ((obj.emoji != null && obj.emoji !== '')) {
          w.uint32(42)
          w.string(obj.emoji)
        }

        if ((obj.remove != null && obj.remove !== false)) {
          w.uint32(48)
          w.bool(obj.remove)
        }

        if (obj.file != null) {
          w.uint32(58)
          FileRef.codec().encode(obj.file, w)
        }

        if (obj.mentions != null && obj.mentions.length > 0) {
          for (const value of obj.mentions) {
            w.uint32(66)
            w.bytes(value)
          }
        }

        if (obj.op != null) {
          w.uint32(74)
          w.bytes(obj.op)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          text: '',
          name: '',
          replyTo: uint8ArrayAlloc(0),
          target: uint8ArrayAlloc(0),
          emoji: '',
          remove: false,
          mentions: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.text = reader.string()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.replyTo = reader.bytes()
              break
            }
            case 4: {
              obj.target = reader.bytes()
              break
            }
            case 5: {
              obj.emoji = reader.string()
              break
            }
            case 6: {
              obj.remove = reader.bool()
              break
            }
            case 7: {
              obj.file = FileRef.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.file
              })
              break
            }
            case 8: {
              if (opts.limits?.mentions != null && obj.mentions.length === opts.limits.mentions) {
                throw new MaxLengthError('Decode error - repeated field "mentions" had too many elements')
              }

              obj.mentions.push(reader.bytes())
              break
            }
            case 9: {
              obj.op = reader.bytes()
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
          mentions: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.replyTo`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.target`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.emoji`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.remove`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield * FileRef.codec().stream(reader, reader.uint32(), `${prefix}.file`, {
                limits: opts.limits?.file
              })

              break
            }
            case 8: {
              if (opts.limits?.mentions != null && obj.mentions === opts.limits.mentions) {
                throw new MaxLengthError('Streaming decode error - repeated field "mentions" had too many elements')
              }

              yield {
                field: `${prefix}.mentions[]`,
                index: obj.mentions,
                value: reader.bytes()
              }

              obj.mentions++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.op`,
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

  export interface BodyTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface BodyNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface BodyReplyToFieldEvent {
    field: '$.replyTo'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyTargetFieldEvent {
    field: '$.target'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyEmojiFieldEvent {
    field: '$.emoji'
    value: string
  }

  export interface BodyRemoveFieldEvent {
    field: '$.remove'
    value: boolean
  }

  export interface BodyFileNameFieldEvent {
    field: '$.file.name'
    value: string
  }

  export interface BodyFileSizeFieldEvent {
    field: '$.file.size'
    value: bigint
  }

  export interface BodyFileMimeFieldEvent {
    field: '$.file.mime'
    value: string
  }

  export interface BodyFileHashFieldEvent {
    field: '$.file.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyFileManifestFieldEvent {
    field: '$.file.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyFileChunkSizeFieldEvent {
    field: '$.file.chunkSize'
    value: number
  }

  export interface BodyFileKeyFieldEvent {
    field: '$.file.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyFileWidthFieldEvent {
    field: '$.file.width'
    value: number
  }

  export interface BodyFileHeightFieldEvent {
    field: '$.file.height'
    value: number
  }

  export interface BodyMentionsFieldEvent {
    field: '$.mentions[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BodyOpFieldEvent {
    field: '$.op'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Body>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Body.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Body>): Body {
    return decodeMessage(buf, Body.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Body>): Generator<BodyTextFieldEvent | BodyNameFieldEvent | BodyReplyToFieldEvent | BodyTargetFieldEvent | BodyEmojiFieldEvent | BodyRemoveFieldEvent | BodyFileNameFieldEvent | BodyFileSizeFieldEvent | BodyFileMimeFieldEvent | BodyFileHashFieldEvent | BodyFileManifestFieldEvent | BodyFileChunkSizeFieldEvent | BodyFileKeyFieldEvent | BodyFileWidthFieldEvent | BodyFileHeightFieldEvent | BodyMentionsFieldEvent | BodyOpFieldEvent> {
    return streamMessage(buf, Body.codec(), opts)
  }
}

export interface FileRef {
  name: string
  size: bigint
  mime: string
  hash: Uint8Array<ArrayBuffer>
  manifest: Uint8Array<ArrayBuffer>
  chunkSize: number
  key: Uint8Array<ArrayBuffer>
  width: number
  height: number
}

export namespace FileRef {
  let _codec: Codec<FileRef>

  export const codec = (): Codec<FileRef> => {
    if (_codec == null) {
      _codec = message<FileRef>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if ((obj.mime != null && obj.mime !== '')) {
          w.uint32(26)
          w.string(obj.mime)
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.hash)
        }

        if ((obj.manifest != null && obj.manifest.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.manifest)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(48)
          w.uint32(obj.chunkSize)
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.key)
        }

        if ((obj.width != null && obj.width !== 0)) {
          w.uint32(64)
          w.uint32(obj.width)
        }

        if ((obj.height != null && obj.height !== 0)) {
          w.uint32(72)
          w.uint32(obj.height)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          size: 0n,
          mime: '',
          hash: uint8ArrayAlloc(0),
          manifest: uint8ArrayAlloc(0),
          chunkSize: 0,
          key: uint8ArrayAlloc(0),
          width: 0,
          height: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.size = reader.uint64()
              break
            }
            case 3: {
              obj.mime = reader.string()
              break
            }
            case 4: {
              obj.hash = reader.bytes()
              break
            }
            case 5: {
              obj.manifest = reader.bytes()
              break
            }
            case 6: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 7: {
              obj.key = reader.bytes()
              break
            }
            case 8: {
              obj.width = reader.uint32()
              break
            }
            case 9: {
              obj.height = reader.uint32()
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
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.mime`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.hash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.chunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.width`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.height`,
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

  export interface FileRefNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface FileRefSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface FileRefMimeFieldEvent {
    field: '$.mime'
    value: string
  }

  export interface FileRefHashFieldEvent {
    field: '$.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileRefManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileRefChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  export interface FileRefKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileRefWidthFieldEvent {
    field: '$.width'
    value: number
  }

  export interface FileRefHeightFieldEvent {
    field: '$.height'
    value: number
  }

  export function encode (obj: Partial<FileRef>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FileRef.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileRef>): FileRef {
    return decodeMessage(buf, FileRef.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileRef>): Generator<FileRefNameFieldEvent | FileRefSizeFieldEvent | FileRefMimeFieldEvent | FileRefHashFieldEvent | FileRefManifestFieldEvent | FileRefChunkSizeFieldEvent | FileRefKeyFieldEvent | FileRefWidthFieldEvent | FileRefHeightFieldEvent> {
    return streamMessage(buf, FileRef.codec(), opts)
  }
}
