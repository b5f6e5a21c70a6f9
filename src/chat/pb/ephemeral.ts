import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Ephemeral {
  version: number
  epoch: number
  nonce: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
  mac: Uint8Array<ArrayBuffer>
}

export namespace Ephemeral {
  let _codec: Codec<Ephemeral>

  export const codec = (): Codec<Ephemeral> => {
    if (_codec == null) {
      _codec = message<Ephemeral>((obj, w, opts = {}) => {
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

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.nonce)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.ciphertext)
        }

        if ((obj.mac != null && obj.mac.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.mac)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          epoch: 0,
          nonce: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0),
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
              obj.nonce = reader.bytes()
              break
            }
            case 4: {
              obj.ciphertext = reader.bytes()
              break
            }
            case 5: {
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
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.ciphertext`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
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

  export interface EphemeralVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface EphemeralEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface EphemeralNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EphemeralCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EphemeralMacFieldEvent {
    field: '$.mac'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Ephemeral>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ephemeral.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ephemeral>): Ephemeral {
    return decodeMessage(buf, Ephemeral.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ephemeral>): Generator<EphemeralVersionFieldEvent | EphemeralEpochFieldEvent | EphemeralNonceFieldEvent | EphemeralCiphertextFieldEvent | EphemeralMacFieldEvent> {
    return streamMessage(buf, Ephemeral.codec(), opts)
  }
}

export interface EphemeralSealed {
  signed: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace EphemeralSealed {
  let _codec: Codec<EphemeralSealed>

  export const codec = (): Codec<EphemeralSealed> => {
    if (_codec == null) {
      _codec = message<EphemeralSealed>((obj, w, opts = {}) => {
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

  export interface EphemeralSealedSignedFieldEvent {
    field: '$.signed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EphemeralSealedSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<EphemeralSealed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EphemeralSealed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EphemeralSealed>): EphemeralSealed {
    return decodeMessage(buf, EphemeralSealed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EphemeralSealed>): Generator<EphemeralSealedSignedFieldEvent | EphemeralSealedSignatureFieldEvent> {
    return streamMessage(buf, EphemeralSealed.codec(), opts)
  }
}

export interface EphemeralSigned {
  author: Uint8Array<ArrayBuffer>
  timestamp: bigint
  kind: number
  name: string
}

export namespace EphemeralSigned {
  let _codec: Codec<EphemeralSigned>

  export const codec = (): Codec<EphemeralSigned> => {
    if (_codec == null) {
      _codec = message<EphemeralSigned>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.author)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(16)
          w.uint64(obj.timestamp)
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(24)
          w.uint32(obj.kind)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(34)
          w.string(obj.name)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          timestamp: 0n,
          kind: 0,
          name: ''
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
              obj.timestamp = reader.uint64()
              break
            }
            case 3: {
              obj.kind = reader.uint32()
              break
            }
            case 4: {
              obj.name = reader.string()
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
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.kind`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.name`,
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

  export interface EphemeralSignedAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EphemeralSignedTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface EphemeralSignedKindFieldEvent {
    field: '$.kind'
    value: number
  }

  export interface EphemeralSignedNameFieldEvent {
    field: '$.name'
    value: string
  }

  export function encode (obj: Partial<EphemeralSigned>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EphemeralSigned.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EphemeralSigned>): EphemeralSigned {
    return decodeMessage(buf, EphemeralSigned.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EphemeralSigned>): Generator<EphemeralSignedAuthorFieldEvent | EphemeralSignedTimestampFieldEvent | EphemeralSignedKindFieldEvent | EphemeralSignedNameFieldEvent> {
    return streamMessage(buf, EphemeralSigned.codec(), opts)
  }
}
