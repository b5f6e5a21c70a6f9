import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Envelope, deriveGroupKeys, ed25519Signer, open, seal, MAX_ENVELOPE_BYTES } from '../src/envelope/index.js'

const secret = new Uint8Array(randomBytes(32))
const keys = deriveGroupKeys('team-alpha', secret)
const alice = ed25519Signer(randomBytes(32))
const bob = ed25519Signer(randomBytes(32))
const input = { seq: 1n, lamport: 1n, timestamp: Date.now(), text: 'the plaintext secret words', name: 'alice' }

describe('envelope', () => {
  it('seals and opens a message', () => {
    const sealed = seal(keys, alice, input)
    const opened = open(keys, sealed.bytes)
    assert.equal(opened.ok, true)
    if (!opened.ok) return
    assert.equal(opened.message.body.text, input.text)
    assert.equal(opened.message.body.name, 'alice')
    assert.deepEqual(opened.message.envelope.author, alice.publicKey)
    assert.deepEqual(opened.message.id, sealed.id)
  })

  it('derives different wire topics and keys for another secret or topic id', () => {
    const other = deriveGroupKeys('team-alpha', new Uint8Array(randomBytes(32)))
    const renamed = deriveGroupKeys('team-beta', secret)
    assert.notEqual(other.wireTopic, keys.wireTopic)
    assert.notEqual(renamed.wireTopic, keys.wireTopic)
    assert.ok(!keys.wireTopic.includes('team-alpha'))
    assert.deepEqual(deriveGroupKeys('team-alpha', secret), keys)
  })

  it('does not carry the plaintext or the name in the sealed bytes', () => {
    const sealed = seal(keys, alice, input)
    const text = Buffer.from(sealed.bytes).toString('latin1')
    assert.ok(!text.includes('plaintext secret'))
    assert.ok(!text.includes('alice'))
  })

  it('rejects a message sealed with a wrong secret (MAC first)', () => {
    const wrong = deriveGroupKeys('team-alpha', new Uint8Array(randomBytes(32)))
    const sealed = seal(wrong, alice, input)
    const res = open(keys, sealed.bytes)
    assert.deepEqual(res, { ok: false, reason: 'bad mac' })
  })

  it('rejects every single-bit flip', () => {
    const sealed = seal(keys, alice, input)
    let rejected = 0
    for (let i = 0; i < sealed.bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = new Uint8Array(sealed.bytes)
        copy[i] ^= 1 << bit
        if (!open(keys, copy).ok) rejected++
      }
    }
    assert.equal(rejected, sealed.bytes.length * 8)
  })

  it('rejects a member impersonating another member (signature check)', () => {
    // bob knows the group keys, so his MAC is valid, but he claims alice's key
    const forged = seal(keys, { publicKey: alice.publicKey, sign: data => bob.sign(data) }, input)
    assert.deepEqual(open(keys, forged.bytes), { ok: false, reason: 'bad signature' })
  })

  it('rejects empty, oversized, truncated and malformed input without throwing', () => {
    const sealed = seal(keys, alice, input)
    assert.equal(open(keys, new Uint8Array(0)).ok, false)
    assert.deepEqual(open(keys, new Uint8Array(MAX_ENVELOPE_BYTES + 1)), { ok: false, reason: 'too large' })
    for (let n = 1; n < sealed.bytes.length; n += 7) assert.equal(open(keys, sealed.bytes.subarray(0, n)).ok, false)
    for (let i = 0; i < 200; i++) assert.equal(open(keys, new Uint8Array(randomBytes(1 + (i % 300)))).ok, false)
    assert.equal(open(keys, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])).ok, false)
  })

  it('rejects a non-canonical encoding of a valid envelope (unknown field appended)', () => {
    const sealed = seal(keys, alice, input)
    const padded = Buffer.concat([sealed.bytes, Buffer.from([0x78, 0x01])]) // field 15 varint 1
    assert.doesNotThrow(() => Envelope.decode(padded))
    assert.equal(open(keys, padded).ok, false)
  })

  it('gives identical texts distinct ids (random nonce)', () => {
    assert.notDeepEqual(seal(keys, alice, input).id, seal(keys, alice, input).id)
  })
})
