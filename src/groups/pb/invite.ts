import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Invite {
  topicId: string
  secret: Uint8Array<ArrayBuffer>
  addrs: string[]
  name: string
}

export namespace Invite {
  let _codec: Codec<Invite>

  export const codec = (): Codec<Invite> => {
    if (_codec == null) {
      _codec = message<Invite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.topicId != null && obj.topicId !== '')) {
          w.uint32(10)
          w.string(obj.topicId)
        }

        if ((obj.secret != null && obj.secret.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.secret)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            w.string(value)
          }
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
          secret: uint8ArrayAlloc(0),
          addrs: [],
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
              obj.secret = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
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
        const obj = {
          addrs: 0
        }

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
                field: `${prefix}.secret`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.string()
              }

              obj.addrs++

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

  export interface InviteTopicIdFieldEvent {
    field: '$.topicId'
    value: string
  }

  export interface InviteSecretFieldEvent {
    field: '$.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: string
  }

  export interface InviteNameFieldEvent {
    field: '$.name'
    value: string
  }

  export function encode (obj: Partial<Invite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Invite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Invite>): Invite {
    return decodeMessage(buf, Invite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Invite>): Generator<InviteTopicIdFieldEvent | InviteSecretFieldEvent | InviteAddrsFieldEvent | InviteNameFieldEvent> {
    return streamMessage(buf, Invite.codec(), opts)
  }
}

export interface TokenInvite {
  topicId: string
  token: Uint8Array<ArrayBuffer>
  addrs: string[]
  name: string
  expires: bigint
}

export namespace TokenInvite {
  let _codec: Codec<TokenInvite>

  export const codec = (): Codec<TokenInvite> => {
    if (_codec == null) {
      _codec = message<TokenInvite>((obj, w, opts = {}) => {
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

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            w.string(value)
          }
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(34)
          w.string(obj.name)
        }

        if ((obj.expires != null && obj.expires !== 0n)) {
          w.uint32(40)
          w.uint64(obj.expires)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          topicId: '',
          token: uint8ArrayAlloc(0),
          addrs: [],
          name: '',
          expires: 0n
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
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
              break
            }
            case 4: {
              obj.name = reader.string()
              break
            }
            case 5: {
              obj.expires = reader.uint64()
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
          addrs: 0
        }

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
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.string()
              }

              obj.addrs++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.expires`,
                value: reader.uint64()
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

  export interface TokenInviteTopicIdFieldEvent {
    field: '$.topicId'
    value: string
  }

  export interface TokenInviteTokenFieldEvent {
    field: '$.token'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TokenInviteAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: string
  }

  export interface TokenInviteNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface TokenInviteExpiresFieldEvent {
    field: '$.expires'
    value: bigint
  }

  export function encode (obj: Partial<TokenInvite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TokenInvite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenInvite>): TokenInvite {
    return decodeMessage(buf, TokenInvite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenInvite>): Generator<TokenInviteTopicIdFieldEvent | TokenInviteTokenFieldEvent | TokenInviteAddrsFieldEvent | TokenInviteNameFieldEvent | TokenInviteExpiresFieldEvent> {
    return streamMessage(buf, TokenInvite.codec(), opts)
  }
}
