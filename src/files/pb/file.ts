import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FileRequest {
  kind: FileRequest.Kind
  manifest: Uint8Array<ArrayBuffer>
  proof: Uint8Array<ArrayBuffer>
  start: number
  count: number
}

export namespace FileRequest {
  export enum Kind {
    OPEN = 'OPEN',
    MANIFEST = 'MANIFEST',
    CHUNKS = 'CHUNKS'
  }

  enum __KindValues {
    OPEN = 0,
    MANIFEST = 1,
    CHUNKS = 2
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<FileRequest>

  export const codec = (): Codec<FileRequest> => {
    if (_codec == null) {
      _codec = message<FileRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          FileRequest.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.manifest != null && obj.manifest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.manifest)
        }

        if ((obj.proof != null && obj.proof.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.proof)
        }

        if ((obj.start != null && obj.start !== 0)) {
          w.uint32(32)
          w.uint32(obj.start)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(40)
          w.uint32(obj.count)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.OPEN,
          manifest: uint8ArrayAlloc(0),
          proof: uint8ArrayAlloc(0),
          start: 0,
          count: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = FileRequest.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.manifest = reader.bytes()
              break
            }
            case 3: {
              obj.proof = reader.bytes()
              break
            }
            case 4: {
              obj.start = reader.uint32()
              break
            }
            case 5: {
              obj.count = reader.uint32()
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
                field: `${prefix}.kind`,
                value: FileRequest.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.proof`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.start`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.count`,
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

  export interface FileRequestKindFieldEvent {
    field: '$.kind'
    value: FileRequest.Kind
  }

  export interface FileRequestManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileRequestProofFieldEvent {
    field: '$.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileRequestStartFieldEvent {
    field: '$.start'
    value: number
  }

  export interface FileRequestCountFieldEvent {
    field: '$.count'
    value: number
  }

  export function encode (obj: Partial<FileRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FileRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileRequest>): FileRequest {
    return decodeMessage(buf, FileRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileRequest>): Generator<FileRequestKindFieldEvent | FileRequestManifestFieldEvent | FileRequestProofFieldEvent | FileRequestStartFieldEvent | FileRequestCountFieldEvent> {
    return streamMessage(buf, FileRequest.codec(), opts)
  }
}

export interface FileResponse {
  status: FileResponse.Status
  chunks: number
  have: Uint8Array<ArrayBuffer>
  hashes: Uint8Array<ArrayBuffer>
  index: number
  data: Uint8Array<ArrayBuffer>
}

export namespace FileResponse {
  export enum Status {
    OK = 'OK',
    UNKNOWN = 'UNKNOWN',
    BUSY = 'BUSY',
    MISSING = 'MISSING'
  }

  enum __StatusValues {
    OK = 0,
    UNKNOWN = 1,
    BUSY = 2,
    MISSING = 3
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<FileResponse>

  export const codec = (): Codec<FileResponse> => {
    if (_codec == null) {
      _codec = message<FileResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          FileResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.chunks != null && obj.chunks !== 0)) {
          w.uint32(16)
          w.uint32(obj.chunks)
        }

        if ((obj.have != null && obj.have.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.have)
        }

        if ((obj.hashes != null && obj.hashes.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.hashes)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(40)
          w.uint32(obj.index)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          chunks: 0,
          have: uint8ArrayAlloc(0),
          hashes: uint8ArrayAlloc(0),
          index: 0,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = FileResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.chunks = reader.uint32()
              break
            }
            case 3: {
              obj.have = reader.bytes()
              break
            }
            case 4: {
              obj.hashes = reader.bytes()
              break
            }
            case 5: {
              obj.index = reader.uint32()
              break
            }
            case 6: {
              obj.data = reader.bytes()
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
                value: FileResponse.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.chunks`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.have`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.hashes`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.data`,
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

  export interface FileResponseStatusFieldEvent {
    field: '$.status'
    value: FileResponse.Status
  }

  export interface FileResponseChunksFieldEvent {
    field: '$.chunks'
    value: number
  }

  export interface FileResponseHaveFieldEvent {
    field: '$.have'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileResponseHashesFieldEvent {
    field: '$.hashes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileResponseIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface FileResponseDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<FileResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FileResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileResponse>): FileResponse {
    return decodeMessage(buf, FileResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileResponse>): Generator<FileResponseStatusFieldEvent | FileResponseChunksFieldEvent | FileResponseHaveFieldEvent | FileResponseHashesFieldEvent | FileResponseIndexFieldEvent | FileResponseDataFieldEvent> {
    return streamMessage(buf, FileResponse.codec(), opts)
  }
}
