import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface JournalRecord {
  groupId: string
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array<ArrayBuffer>
  author: Uint8Array<ArrayBuffer>
  seq: bigint
  lamport: bigint
  timestamp: bigint
  idempotencyKey?: string
  arrivedLate?: bigint
  misordered: boolean
  terms: string[]
  edits?: string
}

export namespace JournalRecord {
  let _codec: Codec<JournalRecord>

  export const codec = (): Codec<JournalRecord> => {
    if (_codec == null) {
      _codec = message<JournalRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.groupId != null && obj.groupId !== '')) {
          w.uint32(10)
          w.string(obj.groupId)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.bytes != null && obj.bytes.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.bytes)
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.author)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(40)
          w.uint64(obj.seq)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(48)
          w.uint64(obj.lamport)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(56)
          w.uint64(obj.timestamp)
        }

        if (obj.idempotencyKey != null) {
          w.uint32(66)
          w.string(obj.idempotencyKey)
        }

        if (obj.arrivedLate != null) {
          w.uint32(72)
          w.uint64(obj.arrivedLate)
        }

        if ((obj.misordered != null && obj.misordered !== false)) {
          w.uint32(80)
          w.bool(obj.misordered)
        }

        if (obj.terms != null && obj.terms.length > 0) {
          for (const value of obj.terms) {
            w.uint32(90)
            w.string(value)
          }
        }

        if (obj.edits != null) {
          w.uint32(98)
          w.string(obj.edits)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          groupId: '',
          id: uint8ArrayAlloc(0),
          bytes: uint8ArrayAlloc(0),
          author: uint8ArrayAlloc(0),
          seq: 0n,
          lamport: 0n,
          timestamp: 0n,
          misordered: false,
          terms: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.groupId = reader.string()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.bytes = reader.bytes()
              break
            }
            case 4: {
              obj.author = reader.bytes()
              break
            }
            case 5: {
              obj.seq = reader.uint64()
              break
            }
            case 6: {
              obj.lamport = reader.uint64()
              break
            }
            case 7: {
              obj.timestamp = reader.uint64()
              break
            }
            case 8: {
              obj.idempotencyKey = reader.string()
              break
            }
            case 9: {
              obj.arrivedLate = reader.uint64()
              break
            }
            case 10: {
              obj.misordered = reader.bool()
              break
            }
            case 11: {
              if (opts.limits?.terms != null && obj.terms.length === opts.limits.terms) {
                throw new MaxLengthError('Decode error - repeated field "terms" had too many elements')
              }

              obj.terms.push(reader.string())
              break
            }
            case 12: {
              obj.edits = reader.string()
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
          terms: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.groupId`,
                value: reader.string()
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
                field: `${prefix}.bytes`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.idempotencyKey`,
                value: reader.string()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.arrivedLate`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.misordered`,
                value: reader.bool()
              }
              break
            }
            case 11: {
              if (opts.limits?.terms != null && obj.terms === opts.limits.terms) {
                throw new MaxLengthError('Streaming decode error - repeated field "terms" had too many elements')
              }

              yield {
                field: `${prefix}.terms[]`,
                index: obj.terms,
                value: reader.string()
              }

              obj.terms++

              break
            }
            case 12: {
              yield {
                field: `${prefix}.edits`,
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

  export interface JournalRecordGroupIdFieldEvent {
    field: '$.groupId'
    value: string
  }

  export interface JournalRecordIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JournalRecordBytesFieldEvent {
    field: '$.bytes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JournalRecordAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JournalRecordSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface JournalRecordLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface JournalRecordTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface JournalRecordIdempotencyKeyFieldEvent {
    field: '$.idempotencyKey'
    value: string
  }

  export interface JournalRecordArrivedLateFieldEvent {
    field: '$.arrivedLate'
    value: bigint
  }

  export interface JournalRecordMisorderedFieldEvent {
    field: '$.misordered'
    value: boolean
  }

  export interface JournalRecordTermsFieldEvent {
    field: '$.terms[]'
    index: number
    value: string
  }

  export interface JournalRecordEditsFieldEvent {
    field: '$.edits'
    value: string
  }

  export function encode (obj: Partial<JournalRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JournalRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JournalRecord>): JournalRecord {
    return decodeMessage(buf, JournalRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JournalRecord>): Generator<JournalRecordGroupIdFieldEvent | JournalRecordIdFieldEvent | JournalRecordBytesFieldEvent | JournalRecordAuthorFieldEvent | JournalRecordSeqFieldEvent | JournalRecordLamportFieldEvent | JournalRecordTimestampFieldEvent | JournalRecordIdempotencyKeyFieldEvent | JournalRecordArrivedLateFieldEvent | JournalRecordMisorderedFieldEvent | JournalRecordTermsFieldEvent | JournalRecordEditsFieldEvent> {
    return streamMessage(buf, JournalRecord.codec(), opts)
  }
}
