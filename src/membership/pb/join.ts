import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface JoinRequest {
  topicId: string
  token: Uint8Array<ArrayBuffer>
  x25519: Uint8Array<ArrayBuffer>
  name: string
}

export namespace JoinRequest {
  let _codec: Codec<JoinRequest>

  export const codec = (): Codec<JoinRequest> => {
    if (_codec == null) {
      _codec = message<JoinRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.topicId != null && obj.topicId !== '')) {
          w.uint32(10)
          w.string(obj.topicId)
        }

        if ((obj.token != null && obj.token.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.token)
        }

        if ((obj.x25519 != null && obj.x25519.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.x25519)
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
          topicId: '',
          token: uint8ArrayAlloc(0),
          x25519: uint8ArrayAlloc(0),
          name: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.topicId = reader.string()
              break
            }
            case 2: {
              obj.token = reader.bytes()
              break
            }
            case 3: {
              obj.x25519 = reader.bytes()
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
                field: `${prefix}.topicId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.token`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.x25519`,
                value: reader.bytes()
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

  export interface JoinRequestTopicIdFieldEvent {
    field: '$.topicId'
    value: string
  }

  export interface JoinRequestTokenFieldEvent {
    field: '$.token'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JoinRequestX25519FieldEvent {
    field: '$.x25519'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JoinRequestNameFieldEvent {
    field: '$.name'
    value: string
  }

  export function encode (obj: Partial<JoinRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JoinRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinRequest>): JoinRequest {
    return decodeMessage(buf, JoinRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinRequest>): Generator<JoinRequestTopicIdFieldEvent | JoinRequestTokenFieldEvent | JoinRequestX25519FieldEvent | JoinRequestNameFieldEvent> {
    return streamMessage(buf, JoinRequest.codec(), opts)
  }
}

export interface JoinResponse {
  status: JoinResponse.Status
  message: string
  name: string
  secrets: SecretBox[]
}

export namespace JoinResponse {
  export enum Status {
    OK = 'OK',
    UNKNOWN_GROUP = 'UNKNOWN_GROUP',
    UNKNOWN_INVITE = 'UNKNOWN_INVITE',
    EXPIRED = 'EXPIRED',
    USED_UP = 'USED_UP',
    REVOKED = 'REVOKED',
    REMOVED = 'REMOVED',
    BUSY = 'BUSY',
    FAILED = 'FAILED'
  }

  enum __StatusValues {
    OK = 0,
    UNKNOWN_GROUP = 1,
    UNKNOWN_INVITE = 2,
    EXPIRED = 3,
    USED_UP = 4,
    REVOKED = 5,
    REMOVED = 6,
    BUSY = 7,
    FAILED = 8
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<JoinResponse>

  export const codec = (): Codec<JoinResponse> => {
    if (_codec == null) {
      _codec = message<JoinResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          JoinResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(26)
          w.string(obj.name)
        }

        if (obj.secrets != null && obj.secrets.length > 0) {
          for (const value of obj.secrets) {
            w.uint32(34)
            SecretBox.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          message: '',
          name: '',
          secrets: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = JoinResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              obj.name = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.secrets != null && obj.secrets.length === opts.limits.secrets) {
                throw new MaxLengthError('Decode error - repeated field "secrets" had too many elements')
              }

              obj.secrets.push(SecretBox.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.secrets$
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
          secrets: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: JoinResponse.Status.codec().decode(reader)
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
            case 3: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.secrets != null && obj.secrets === opts.limits.secrets) {
                throw new MaxLengthError('Streaming decode error - repeated field "secrets" had too many elements')
              }

              for (const evt of SecretBox.codec().stream(reader, reader.uint32(), `${prefix}.secrets[]`, {
                limits: opts.limits?.secrets$
              })) {
                yield {
                  ...evt,
                  index: obj.secrets
                }
              }

              obj.secrets++

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

  export interface JoinResponseStatusFieldEvent {
    field: '$.status'
    value: JoinResponse.Status
  }

  export interface JoinResponseMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface JoinResponseNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface JoinResponseSecretsEpochFieldEvent {
    field: '$.secrets[].epoch'
    value: number
    index: number
  }

  export interface JoinResponseSecretsIdFieldEvent {
    field: '$.secrets[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface JoinResponseSecretsEphemeralFieldEvent {
    field: '$.secrets[].ephemeral'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface JoinResponseSecretsSealedFieldEvent {
    field: '$.secrets[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<JoinResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JoinResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinResponse>): JoinResponse {
    return decodeMessage(buf, JoinResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JoinResponse>): Generator<JoinResponseStatusFieldEvent | JoinResponseMessageFieldEvent | JoinResponseNameFieldEvent | JoinResponseSecretsEpochFieldEvent | JoinResponseSecretsIdFieldEvent | JoinResponseSecretsEphemeralFieldEvent | JoinResponseSecretsSealedFieldEvent> {
    return streamMessage(buf, JoinResponse.codec(), opts)
  }
}

export interface SecretBox {
  epoch: number
  id: Uint8Array<ArrayBuffer>
  ephemeral: Uint8Array<ArrayBuffer>
  sealed: Uint8Array<ArrayBuffer>
}

export namespace SecretBox {
  let _codec: Codec<SecretBox>

  export const codec = (): Codec<SecretBox> => {
    if (_codec == null) {
      _codec = message<SecretBox>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(8)
          w.uint32(obj.epoch)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.ephemeral != null && obj.ephemeral.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.ephemeral)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.sealed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0,
          id: uint8ArrayAlloc(0),
          ephemeral: uint8ArrayAlloc(0),
          sealed: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint32()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.ephemeral = reader.bytes()
              break
            }
            case 4: {
              obj.sealed = reader.bytes()
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
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.ephemeral`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sealed`,
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

  export interface SecretBoxEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface SecretBoxIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SecretBoxEphemeralFieldEvent {
    field: '$.ephemeral'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SecretBoxSealedFieldEvent {
    field: '$.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SecretBox>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SecretBox.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SecretBox>): SecretBox {
    return decodeMessage(buf, SecretBox.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SecretBox>): Generator<SecretBoxEpochFieldEvent | SecretBoxIdFieldEvent | SecretBoxEphemeralFieldEvent | SecretBoxSealedFieldEvent> {
    return streamMessage(buf, SecretBox.codec(), opts)
  }
}
