import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeOp, encodeOp, OpError } from '../src/membership/op.js'
import { fold, inviteRefusal, memberAt, rotationDue } from '../src/membership/log.js'
import { checkRequest, checkResponse, JoinResponse } from '../src/membership/join.js'
import { decodeInvite, decodeTokenInvite, encodeTokenInvite, isTokenInvite } from '../src/groups/index.js'
import { generateX25519, openSecret, randomSecret, sealSecret } from '../src/membership/box.js'
import { sortKey } from '../src/store/keys.js'
import type { LogEntry } from '../src/membership/log.js'
import type { Op } from '../src/membership/op.js'

const k = (c: string): string => c.repeat(64)
const A = k('a'); const B = k('b'); const C = k('c'); const D = k('d')
let n = 0
function e (author: string, lamport: number, op?: Op, ts = 1000): LogEntry {
  const id = (++n).toString(16).padStart(64, '0')
  return { id, author, lamport: BigInt(lamport), timestamp: BigInt(ts), epoch: 0, cursor: sortKey(BigInt(lamport), BigInt(ts), id), ...(op != null ? { op } : {}) }
}
const box = (member: string): { member: string, ephemeral: Uint8Array, sealed: Uint8Array } => ({ member, ephemeral: new Uint8Array(32), sealed: new Uint8Array(48) })

test('ops: every kind round-trips, bad ones fail clearly', () => {
  const ops: Op[] = [
    { type: 'create', admins: [B] },
    { type: 'add', member: C, x25519: D, name: 'carol', invite: k('e') },
    { type: 'add', member: C, x25519: D, name: '' },
    { type: 'remove', member: C }, { type: 'leave' }, { type: 'promote', member: B }, { type: 'demote', member: B },
    { type: 'rotate', epoch: 3, boxes: [box(A), box(B)] },
    { type: 'invite', tokenHash: k('f'), expires: 1_700_000_000_000, uses: 1 },
    { type: 'key', x25519: D }
  ]
  for (const op of ops) assert.deepEqual(decodeOp(encodeOp(op)), op.type === 'rotate' ? { ...op, boxes: op.boxes.map(b => ({ ...b })) } : op)
  assert.throws(() => decodeOp(new Uint8Array([0xff, 0xff])), OpError)
  assert.throws(() => decodeOp(new Uint8Array(0)), /not exactly one op/)
  assert.throws(() => decodeOp(encodeOp({ type: 'rotate', epoch: 0, boxes: [] })), /bad epoch/)
  assert.throws(() => decodeOp(encodeOp({ type: 'rotate', epoch: 1, boxes: [box(A), box(A)] })), /two boxes/)
})

test('fold: creator is admin; only admins add, remove, promote; anyone leaves', () => {
  const s = fold([
    e(A, 1, { type: 'create', admins: [] }),
    e(A, 2, { type: 'add', member: B, x25519: k('1'), name: 'bob' }),
    e(A, 3, { type: 'add', member: C, x25519: k('2'), name: 'carol' }),
    e(B, 4, { type: 'remove', member: C }), // B is no admin: void
    e(B, 5, { type: 'promote', member: B }), // void
    e(C, 6, { type: 'add', member: D, x25519: k('3'), name: 'dan' }), // void
    e(C, 7) // C's message: a member
  ])
  assert.equal(s.creator, A)
  assert.deepEqual([...s.members.keys()].sort(), [A, B, C])
  assert.equal(s.members.get(A)?.role, 'admin')
  assert.equal(s.void.size, 3)
  assert.ok([...s.void.values()].every(r => /admin/.test(r)))
})

test('fold: two admins removing each other: the first in history order wins', () => {
  const base = [e(A, 1, { type: 'create', admins: [B] }), e(A, 2, { type: 'add', member: C, x25519: k('1'), name: '' })]
  const rmB = e(A, 5, { type: 'remove', member: B })
  const rmA = e(B, 5, { type: 'remove', member: A })
  const s1 = fold([...base, rmB, rmA])
  const s2 = fold([rmA, ...base.reverse(), rmB])
  assert.deepEqual([...s1.members.keys()].sort(), [...s2.members.keys()].sort())
  const first = rmB.cursor < rmA.cursor ? rmB : rmA
  assert.equal(s1.void.has(first.id), false)
  assert.equal(s1.void.size, 1)
  assert.equal(s1.members.size, 2)
  assert.ok(s1.stale && rotationDue(s1))
})

test('fold: remove and a re-add of the same member: the later in history order wins; spans hide what falls between', () => {
  const s = fold([
    e(A, 1, { type: 'create', admins: [] }),
    e(A, 2, { type: 'add', member: C, x25519: k('1'), name: '' }),
    e(A, 4, { type: 'remove', member: C }),
    e(A, 6, { type: 'add', member: C, x25519: k('1'), name: '' })
  ])
  assert.ok(s.members.has(C))
  const at = (l: number): string => sortKey(BigInt(l), 1000n, 'f'.repeat(64))
  assert.equal(memberAt(s, C, at(3)), true)
  assert.equal(memberAt(s, C, at(5)), false)
  assert.equal(memberAt(s, C, at(7)), true)
})

test('fold: rotations: first valid per epoch wins, void ones are kept; legacy authors are members, the first the admin', () => {
  const s = fold([
    e(A, 1), e(B, 2), e(C, 3),
    e(A, 4, { type: 'create', admins: [] }),
    e(B, 5, { type: 'create', admins: [] }), // void: a log already
    e(A, 6, { type: 'remove', member: C }),
    e(A, 7, { type: 'rotate', epoch: 1, boxes: [box(A), box(B)] }),
    e(B, 7, { type: 'rotate', epoch: 1, boxes: [box(A), box(B)] }),
    e(C, 8) // removed: not a member
  ])
  assert.equal(s.creator, A)
  assert.equal(s.epoch, 1)
  assert.equal(s.rotations.length, 2)
  assert.equal(s.rotations.filter(r => r.valid).length, 1)
  assert.equal(s.stale, false)
  assert.equal(s.removed.get(C)?.lamport, 6n)
})

test('fold: the last admin leaving makes the earliest member an admin; invites count their uses', () => {
  const s = fold([
    e(A, 1, { type: 'create', admins: [] }),
    e(A, 2, { type: 'add', member: B, x25519: k('1'), name: '' }),
    e(A, 3, { type: 'invite', tokenHash: k('9'), expires: 5000, uses: 1 }),
    e(B, 4, { type: 'add', member: C, x25519: k('2'), name: '', invite: k('9') }),
    e(B, 5, { type: 'add', member: D, x25519: k('3'), name: '', invite: k('9') }), // used up
    e(A, 6, { type: 'leave' })
  ])
  assert.equal(s.members.get(B)?.role, 'admin')
  assert.ok(s.members.has(C) && !s.members.has(D))
  assert.match([...s.void.values()][0], /invite used/)
})

test('fold: an admin\'s add naming an invite is checked too; a remove revokes every invite made before it; expiry by the add\'s time', () => {
  const s = fold([
    e(A, 1, { type: 'create', admins: [] }),
    e(A, 2, { type: 'invite', tokenHash: k('9'), expires: 5000, uses: 1 }),
    e(A, 3, { type: 'add', member: B, x25519: k('1'), name: '', invite: k('9') }),
    e(A, 4, { type: 'add', member: C, x25519: k('2'), name: '', invite: k('9') }), // used, though by an admin
    e(A, 5, { type: 'invite', tokenHash: k('8'), expires: 5000, uses: 3 }),
    e(A, 6, { type: 'remove', member: B }),
    e(A, 7, { type: 'add', member: D, x25519: k('3'), name: '', invite: k('8') }), // revoked by the remove
    e(A, 8, { type: 'invite', tokenHash: k('7'), expires: 5000, uses: 3 }),
    e(A, 9, { type: 'add', member: B, x25519: k('1'), name: '', invite: k('7') }) // B was removed: only a plain admin add re-admits
  ])
  assert.ok(s.members.has(A) && !s.members.has(B) && !s.members.has(C) && !s.members.has(D))
  assert.deepEqual([...s.void.values()], ['invite used', 'invite revoked', 'invite removed'])
  assert.equal(inviteRefusal(s, k('7'), 1000, D), undefined)
  assert.equal(inviteRefusal(s, k('7'), 6000, D), 'expired')
  assert.equal(inviteRefusal(s, k('6'), 1000, D), 'unknown')
  assert.equal(inviteRefusal(s, k('8'), 1000, D), 'revoked')
})

test('box: a sealed epoch secret opens with the recipient key and the same context only', () => {
  const r = generateX25519()
  const other = generateX25519()
  const secret = randomSecret()
  const ctx = Buffer.from('ctx')
  const { ephemeral, sealed } = sealSecret(r.publicKey, secret, ctx)
  assert.equal(sealed.byteLength, 48)
  assert.deepEqual(openSecret(r, ephemeral, sealed, ctx), secret)
  assert.equal(openSecret(other, ephemeral, sealed, ctx), undefined)
  assert.equal(openSecret(r, ephemeral, sealed, Buffer.from('other')), undefined)
})

test('join codec: request and response lengths checked; p2pchat2 codes decode strictly and hold no secret', () => {
  const ok = { topicId: 'g', token: new Uint8Array(32), x25519: new Uint8Array(32), name: 'ana' }
  assert.equal(checkRequest(ok), undefined)
  assert.equal(checkRequest({ ...ok, token: new Uint8Array(31) }), 'token length')
  assert.equal(checkRequest({ ...ok, name: 'x'.repeat(65) }), 'name length')
  const box = { epoch: 0, id: new Uint8Array(0), ephemeral: new Uint8Array(32), sealed: new Uint8Array(48) }
  assert.equal(checkResponse({ status: JoinResponse.Status.OK, message: '', name: '', secrets: [box] }), undefined)
  assert.equal(checkResponse({ status: JoinResponse.Status.OK, message: '', name: '', secrets: [] }), 'no group secret')
  assert.equal(checkResponse({ status: JoinResponse.Status.OK, message: '', name: '', secrets: [box, { ...box, epoch: 1 }] }), 'box id')
  assert.equal(checkResponse({ status: JoinResponse.Status.USED_UP, message: 'x'.repeat(201), name: '', secrets: [] }), 'message length')
  const code = encodeTokenInvite({ topicId: 'team', token: new Uint8Array(32).fill(1), addrs: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGkR6ZyEqS9WL1h7X4bWyqbUPNwqxnxALWQvoXpHPi8Pd'], expires: 1_900_000_000_000 })
  assert.ok(isTokenInvite(code))
  assert.deepEqual(new Uint8Array(decodeTokenInvite(code).token), new Uint8Array(32).fill(1))
  assert.throws(() => decodeInvite(code), /revocable invite/)
  assert.throws(() => decodeTokenInvite(code.slice(0, -6)), /damaged|token/)
  assert.throws(() => decodeTokenInvite(encodeTokenInvite({ topicId: 'team', token: new Uint8Array(32), addrs: [], expires: 1 })), /names no member/)
  assert.throws(() => decodeTokenInvite('p2pchat2!!'), /base64url/)
})
