/* eslint-disable require-yield */

import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MembershipOp {
  create?: Create
  add?: Add
  remove?: Member
  leave?: Leave
  promote?: Member
  demote?: Member
  rotate?: Rotate
  invite?: InviteOp
  key?: Key
}

export namespace MembershipOp {
  let _codec: Codec<MembershipOp>

  export const codec = (): Codec<MembershipOp> => {
    if (_codec == null) {
      _codec = message<MembershipOp>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.key != null) {
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.invite != null) {
          obj.key = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.rotate != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.demote != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.promote != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.leave != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.remove = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.remove != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.add = undefined
          obj.create = undefined
        }

        if (obj.add != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.create = undefined
        }

        if (obj.create != null) {
          obj.key = undefined
          obj.invite = undefined
          obj.rotate = undefined
          obj.demote = undefined
          obj.promote = undefined
          obj.leave = undefined
          obj.remove = undefined
          obj.add = undefined
        }

        if (obj.create != null) {
          w.uint32(10)
          Create.codec().encode(obj.create, w)
        }

        if (obj.add != null) {
          w.uint32(18)
          Add.codec().encode(obj.add, w)
        }

        if (obj.remove != null) {
          w.uint32(26)
          Member.codec().encode(obj.remove, w)
        }

        if (obj.leave != null) {
          w.uint32(34)
          Leave.codec().encode(obj.leave, w)
        }

        if (obj.promote != null) {
          w.uint32(42)
          Member.codec().encode(obj.promote, w)
        }

        if (obj.demote != null) {
          w.uint32(50)
          Member.codec().encode(obj.demote, w)
        }

        if (obj.rotate != null) {
          w.uint32(58)
          Rotate.codec().encode(obj.rotate, w)
        }

        if (obj.invite != null) {
          w.uint32(66)
          InviteOp.codec().encode(obj.invite, w)
        }

        if (obj.key != null) {
          w.uint32(74)
          Key.codec().encode(obj.key, w)
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
              obj.create = Create.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.create
              })
              break
            }
            case 2: {
              obj.add = Add.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.add
              })
              break
            }
            case 3: {
              obj.remove = Member.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.remove
              })
              break
            }
            case 4: {
              obj.leave = Leave.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.leave
              })
              break
            }
            case 5: {
              obj.promote = Member.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.promote
              })
              break
            }
            case 6: {
              obj.demote = Member.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.demote
              })
              break
            }
            case 7: {
              obj.rotate = Rotate.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.rotate
              })
              break
            }
            case 8: {
              obj.invite = InviteOp.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.invite
              })
              break
            }
            case 9: {
              obj.key = Key.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.key
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.key != null) {
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.invite != null) {
          delete obj.key
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.rotate != null) {
          delete obj.key
          delete obj.invite
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.demote != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.promote != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.leave
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.leave != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.remove
          delete obj.add
          delete obj.create
        }

        if (obj.remove != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.add
          delete obj.create
        }

        if (obj.add != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.create
        }

        if (obj.create != null) {
          delete obj.key
          delete obj.invite
          delete obj.rotate
          delete obj.demote
          delete obj.promote
          delete obj.leave
          delete obj.remove
          delete obj.add
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Create.codec().stream(reader, reader.uint32(), `${prefix}.create`, {
                limits: opts.limits?.create
              })

              break
            }
            case 2: {
              yield * Add.codec().stream(reader, reader.uint32(), `${prefix}.add`, {
                limits: opts.limits?.add
              })

              break
            }
            case 3: {
              yield * Member.codec().stream(reader, reader.uint32(), `${prefix}.remove`, {
                limits: opts.limits?.remove
              })

              break
            }
            case 4: {
              yield * Leave.codec().stream(reader, reader.uint32(), `${prefix}.leave`, {
                limits: opts.limits?.leave
              })

              break
            }
            case 5: {
              yield * Member.codec().stream(reader, reader.uint32(), `${prefix}.promote`, {
                limits: opts.limits?.promote
              })

              break
            }
            case 6: {
              yield * Member.codec().stream(reader, reader.uint32(), `${prefix}.demote`, {
                limits: opts.limits?.demote
              })

              break
            }
            case 7: {
              yield * Rotate.codec().stream(reader, reader.uint32(), `${prefix}.rotate`, {
                limits: opts.limits?.rotate
              })

              break
            }
            case 8: {
              yield * InviteOp.codec().stream(reader, reader.uint32(), `${prefix}.invite`, {
                limits: opts.limits?.invite
              })

              break
            }
            case 9: {
              yield * Key.codec().stream(reader, reader.uint32(), `${prefix}.key`, {
                limits: opts.limits?.key
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

  export interface MembershipOpCreateAdminsFieldEvent {
    field: '$.create.admins[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpAddMemberFieldEvent {
    field: '$.add.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpAddX25519FieldEvent {
    field: '$.add.x25519'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpAddNameFieldEvent {
    field: '$.add.name'
    value: string
  }

  export interface MembershipOpAddInviteFieldEvent {
    field: '$.add.invite'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpRemoveMemberFieldEvent {
    field: '$.remove.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpPromoteMemberFieldEvent {
    field: '$.promote.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpDemoteMemberFieldEvent {
    field: '$.demote.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpRotateEpochFieldEvent {
    field: '$.rotate.epoch'
    value: number
  }

  export interface MembershipOpRotateBoxesMemberFieldEvent {
    field: '$.rotate.boxes[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MembershipOpRotateBoxesEphemeralFieldEvent {
    field: '$.rotate.boxes[].ephemeral'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MembershipOpRotateBoxesSealedFieldEvent {
    field: '$.rotate.boxes[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MembershipOpInviteTokenHashFieldEvent {
    field: '$.invite.tokenHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipOpInviteExpiresFieldEvent {
    field: '$.invite.expires'
    value: bigint
  }

  export interface MembershipOpInviteUsesFieldEvent {
    field: '$.invite.uses'
    value: number
  }

  export interface MembershipOpKeyX25519FieldEvent {
    field: '$.key.x25519'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<MembershipOp>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MembershipOp.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MembershipOp>): MembershipOp {
    return decodeMessage(buf, MembershipOp.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MembershipOp>): Generator<MembershipOpCreateAdminsFieldEvent | MembershipOpAddMemberFieldEvent | MembershipOpAddX25519FieldEvent | MembershipOpAddNameFieldEvent | MembershipOpAddInviteFieldEvent | MembershipOpRemoveMemberFieldEvent | MembershipOpPromoteMemberFieldEvent | MembershipOpDemoteMemberFieldEvent | MembershipOpRotateEpochFieldEvent | MembershipOpRotateBoxesMemberFieldEvent | MembershipOpRotateBoxesEphemeralFieldEvent | MembershipOpRotateBoxesSealedFieldEvent | MembershipOpInviteTokenHashFieldEvent | MembershipOpInviteExpiresFieldEvent | MembershipOpInviteUsesFieldEvent | MembershipOpKeyX25519FieldEvent> {
    return streamMessage(buf, MembershipOp.codec(), opts)
  }
}

export interface Create {
  admins: Uint8Array<ArrayBuffer>[]
}

export namespace Create {
  let _codec: Codec<Create>

  export const codec = (): Codec<Create> => {
    if (_codec == null) {
      _codec = message<Create>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.admins != null && obj.admins.length > 0) {
          for (const value of obj.admins) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          admins: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.admins != null && obj.admins.length === opts.limits.admins) {
                throw new MaxLengthError('Decode error - repeated field "admins" had too many elements')
              }

              obj.admins.push(reader.bytes())
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
          admins: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.admins != null && obj.admins === opts.limits.admins) {
                throw new MaxLengthError('Streaming decode error - repeated field "admins" had too many elements')
              }

              yield {
                field: `${prefix}.admins[]`,
                index: obj.admins,
                value: reader.bytes()
              }

              obj.admins++

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

  export interface CreateAdminsFieldEvent {
    field: '$.admins[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Create>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Create.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Create>): Create {
    return decodeMessage(buf, Create.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Create>): Generator<CreateAdminsFieldEvent> {
    return streamMessage(buf, Create.codec(), opts)
  }
}

export interface Add {
  member: Uint8Array<ArrayBuffer>
  x25519: Uint8Array<ArrayBuffer>
  name: string
  invite: Uint8Array<ArrayBuffer>
}

export namespace Add {
  let _codec: Codec<Add>

  export const codec = (): Codec<Add> => {
    if (_codec == null) {
      _codec = message<Add>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.member != null && obj.member.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.member)
        }

        if ((obj.x25519 != null && obj.x25519.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.x25519)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(26)
          w.string(obj.name)
        }

        if ((obj.invite != null && obj.invite.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.invite)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          member: uint8ArrayAlloc(0),
          x25519: uint8ArrayAlloc(0),
          name: '',
          invite: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.member = reader.bytes()
              break
            }
            case 2: {
              obj.x25519 = reader.bytes()
              break
            }
            case 3: {
              obj.name = reader.string()
              break
            }
            case 4: {
              obj.invite = reader.bytes()
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
                field: `${prefix}.member`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.x25519`,
                value: reader.bytes()
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
              yield {
                field: `${prefix}.invite`,
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

  export interface AddMemberFieldEvent {
    field: '$.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AddX25519FieldEvent {
    field: '$.x25519'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AddNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface AddInviteFieldEvent {
    field: '$.invite'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Add>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Add.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Add>): Add {
    return decodeMessage(buf, Add.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Add>): Generator<AddMemberFieldEvent | AddX25519FieldEvent | AddNameFieldEvent | AddInviteFieldEvent> {
    return streamMessage(buf, Add.codec(), opts)
  }
}

export interface Member {
  member: Uint8Array<ArrayBuffer>
}

export namespace Member {
  let _codec: Codec<Member>

  export const codec = (): Codec<Member> => {
    if (_codec == null) {
      _codec = message<Member>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.member != null && obj.member.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.member)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          member: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.member = reader.bytes()
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
                field: `${prefix}.member`,
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

  export interface MemberMemberFieldEvent {
    field: '$.member'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Member>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Member.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Member>): Member {
    return decodeMessage(buf, Member.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Member>): Generator<MemberMemberFieldEvent> {
    return streamMessage(buf, Member.codec(), opts)
  }
}

export interface Leave {}

export namespace Leave {
  let _codec: Codec<Leave>

  export const codec = (): Codec<Leave> => {
    if (_codec == null) {
      _codec = message<Leave>((obj, w, opts = {}) => {
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

  export function encode (obj: Partial<Leave>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Leave.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Leave>): Leave {
    return decodeMessage(buf, Leave.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Leave>): Generator<{}> {
    return streamMessage(buf, Leave.codec(), opts)
  }
}

export interface Rotate {
  epoch: number
  boxes: Box[]
}

export namespace Rotate {
  let _codec: Codec<Rotate>

  export const codec = (): Codec<Rotate> => {
    if (_codec == null) {
      _codec = message<Rotate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(8)
          w.uint32(obj.epoch)
        }

        if (obj.boxes != null && obj.boxes.length > 0) {
          for (const value of obj.boxes) {
            w.uint32(18)
            Box.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0,
          boxes: []
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
              if (opts.limits?.boxes != null && obj.boxes.length === opts.limits.boxes) {
                throw new MaxLengthError('Decode error - repeated field "boxes" had too many elements')
              }

              obj.boxes.push(Box.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.boxes$
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
          boxes: 0
        }

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
              if (opts.limits?.boxes != null && obj.boxes === opts.limits.boxes) {
                throw new MaxLengthError('Streaming decode error - repeated field "boxes" had too many elements')
              }

              for (const evt of Box.codec().stream(reader, reader.uint32(), `${prefix}.boxes[]`, {
                limits: opts.limits?.boxes$
              })) {
                yield {
                  ...evt,
                  index: obj.boxes
                }
              }

              obj.boxes++

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

  export interface RotateEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface RotateBoxesMemberFieldEvent {
    field: '$.boxes[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RotateBoxesEphemeralFieldEvent {
    field: '$.boxes[].ephemeral'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RotateBoxesSealedFieldEvent {
    field: '$.boxes[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Rotate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Rotate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Rotate>): Rotate {
    return decodeMessage(buf, Rotate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Rotate>): Generator<RotateEpochFieldEvent | RotateBoxesMemberFieldEvent | RotateBoxesEphemeralFieldEvent | RotateBoxesSealedFieldEvent> {
    return streamMessage(buf, Rotate.codec(), opts)
  }
}

export interface Box {
  member: Uint8Array<ArrayBuffer>
  ephemeral: Uint8Array<ArrayBuffer>
  sealed: Uint8Array<ArrayBuffer>
}

export namespace Box {
  let _codec: Codec<Box>

  export const codec = (): Codec<Box> => {
    if (_codec == null) {
      _codec = message<Box>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.member != null && obj.member.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.member)
        }

        if ((obj.ephemeral != null && obj.ephemeral.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.ephemeral)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.sealed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          member: uint8ArrayAlloc(0),
          ephemeral: uint8ArrayAlloc(0),
          sealed: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.member = reader.bytes()
              break
            }
            case 2: {
              obj.ephemeral = reader.bytes()
              break
            }
            case 3: {
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
                field: `${prefix}.member`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.ephemeral`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
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

  export interface BoxMemberFieldEvent {
    field: '$.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BoxEphemeralFieldEvent {
    field: '$.ephemeral'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BoxSealedFieldEvent {
    field: '$.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Box>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Box.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Box>): Box {
    return decodeMessage(buf, Box.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Box>): Generator<BoxMemberFieldEvent | BoxEphemeralFieldEvent | BoxSealedFieldEvent> {
    return streamMessage(buf, Box.codec(), opts)
  }
}

export interface InviteOp {
  tokenHash: Uint8Array<ArrayBuffer>
  expires: bigint
  uses: number
}

export namespace InviteOp {
  let _codec: Codec<InviteOp>

  export const codec = (): Codec<InviteOp> => {
    if (_codec == null) {
      _codec = message<InviteOp>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.tokenHash != null && obj.tokenHash.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.tokenHash)
        }

        if ((obj.expires != null && obj.expires !== 0n)) {
          w.uint32(16)
          w.uint64(obj.expires)
        }

        if ((obj.uses != null && obj.uses !== 0)) {
          w.uint32(24)
          w.uint32(obj.uses)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          tokenHash: uint8ArrayAlloc(0),
          expires: 0n,
          uses: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.tokenHash = reader.bytes()
              break
            }
            case 2: {
              obj.expires = reader.uint64()
              break
            }
            case 3: {
              obj.uses = reader.uint32()
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
                field: `${prefix}.tokenHash`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.expires`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.uses`,
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

  export interface InviteOpTokenHashFieldEvent {
    field: '$.tokenHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteOpExpiresFieldEvent {
    field: '$.expires'
    value: bigint
  }

  export interface InviteOpUsesFieldEvent {
    field: '$.uses'
    value: number
  }

  export function encode (obj: Partial<InviteOp>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InviteOp.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InviteOp>): InviteOp {
    return decodeMessage(buf, InviteOp.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InviteOp>): Generator<InviteOpTokenHashFieldEvent | InviteOpExpiresFieldEvent | InviteOpUsesFieldEvent> {
    return streamMessage(buf, InviteOp.codec(), opts)
  }
}

export interface Key {
  x25519: Uint8Array<ArrayBuffer>
}

export namespace Key {
  let _codec: Codec<Key>

  export const codec = (): Codec<Key> => {
    if (_codec == null) {
      _codec = message<Key>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.x25519 != null && obj.x25519.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.x25519)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          x25519: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.x25519 = reader.bytes()
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
                field: `${prefix}.x25519`,
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

  export interface KeyX25519FieldEvent {
    field: '$.x25519'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Key>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Key.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Key>): Key {
    return decodeMessage(buf, Key.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Key>): Generator<KeyX25519FieldEvent> {
    return streamMessage(buf, Key.codec(), opts)
  }
}
