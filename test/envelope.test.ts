import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, createHmac, randomBytes } from 'node:crypto'
import { Body, Envelope, deriveGroupKeys, ed25519Signer, messageId, open, seal, KIND_DELETE, KIND_EDIT, KIND_FILE, KIND_REACTION, KIND_TEXT, MAX_ENVELOPE_BYTES, PAD_BUCKETS } from '../src/envelope/index.js'
import type { GroupKeys, Signer } from '../src/envelope/index.js'

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

  it('names a message by what its author signed: sealed twice it is one message (one id), in two wrappings', () => {
    const a = seal(keys, alice, input)
    const b = seal(keys, alice, input)
    assert.deepEqual(a.id, b.id)
    assert.notDeepEqual(a.bytes, b.bytes)
    assert.notDeepEqual(seal(keys, alice, { ...input, seq: 2n, prev: a.id }).id, a.id)
  })

  it('version 2 shows nothing of the message outside the AEAD, and only the bucket of its size', () => {
    const sizes = new Set<number>()
    for (const text of ['a', 'x'.repeat(100), 'y'.repeat(200), 'z'.repeat(1000), 'w'.repeat(4000)]) {
      const sealed = seal(keys, alice, { ...input, text })
      const outer = Envelope.decode(sealed.bytes)
      assert.equal(outer.version, 2)
      assert.equal(outer.author.byteLength, 0)
      assert.equal(outer.seq, 0n)
      assert.equal(outer.lamport, 0n)
      assert.equal(outer.timestamp, 0n)
      assert.equal(outer.kind, 0)
      assert.equal(outer.signature.byteLength, 0)
      assert.ok((PAD_BUCKETS as readonly number[]).includes(outer.ciphertext.byteLength - 16))
      sizes.add(sealed.bytes.byteLength)
    }
    // 1, 100 and 200 bytes of text: one bucket
    assert.ok(sizes.size <= 4, `sizes: ${[...sizes].join(', ')}`)
    assert.equal(seal(keys, alice, { ...input, text: 'a' }).bytes.byteLength, seal(keys, alice, { ...input, text: 'b'.repeat(100) }).bytes.byteLength)
  })

  it('still opens a legacy version 1 envelope (history, backups, old peers)', () => {
    const bytes = sealV1(keys, alice, { seq: 3n, lamport: 7n, timestamp: 1_700_000_000_000n, text: 'from an old node', name: 'old' })
    const opened = open(keys, bytes)
    assert.ok(opened.ok, opened.ok ? "" : opened.reason)
    assert.equal(opened.message.envelope.version, 1)
    assert.equal(opened.message.body.text, 'from an old node')
    assert.equal(opened.message.envelope.seq, 3n)
    assert.deepEqual(opened.message.id, messageId(bytes))
    const flipped = Uint8Array.from(bytes)
    flipped[flipped.length - 40] ^= 1
    assert.equal(open(keys, flipped).ok, false)
  })

  it('seals and opens every kind, and refuses fields that are not of their kind', () => {
    const target = seal(keys, alice, input).id
    const prev = target
    const base = { ...input, seq: 2n, lamport: 2n, prev }
    const file = { name: 'cat.png', size: 1000n, mime: 'image/png', hash: new Uint8Array(32).fill(1), manifest: new Uint8Array(32).fill(2), chunkSize: 65536, key: new Uint8Array(32).fill(3), width: 640, height: 480 }
    const cases = [
      { kind: KIND_TEXT, text: 'a reply', replyTo: target, mentions: [bob.publicKey] },
      { kind: KIND_REACTION, text: '', emoji: '👍', target },
      { kind: KIND_REACTION, text: '', emoji: '👍', target, remove: true },
      { kind: KIND_EDIT, text: 'new text', target },
      { kind: KIND_DELETE, text: '', target },
      { kind: KIND_FILE, text: 'a cat', file },
      { kind: 77, text: '' }
    ]
    for (const c of cases) {
      const opened = open(keys, seal(keys, alice, { ...base, ...c }).bytes)
      assert.ok(opened.ok, `kind ${c.kind}: ${opened.ok ? "" : opened.reason}`)
      assert.equal(opened.message.envelope.kind, c.kind)
      assert.ok(Buffer.from(opened.message.envelope.prev).equals(prev))
    }
    const bad: Array<[object, RegExp]> = [
      [{ kind: KIND_REACTION, text: 'x', emoji: '👍', target }, /field not of its kind/],
      [{ kind: KIND_REACTION, text: '', emoji: '', target }, /bad emoji/],
      [{ kind: KIND_REACTION, text: '', emoji: '👍' }, /bad target/],
      [{ kind: KIND_EDIT, text: ' ', target }, /empty text/],
      [{ kind: KIND_DELETE, text: '', target, emoji: '👍' }, /field not of its kind/],
      [{ kind: KIND_TEXT, text: 'x', target }, /field not of its kind/],
      [{ kind: KIND_FILE, text: '', file: { ...file, name: '../etc/passwd' } }, /bad file name/],
      [{ kind: KIND_FILE, text: '', file: { ...file, chunkSize: 1000 } }, /bad chunk size/],
      [{ kind: 0, text: 'x' }, /unknown kind/],
      [{ kind: KIND_TEXT, text: 'x', prev: undefined }, /bad link/]
    ]
    for (const [c, reason] of bad) assert.throws(() => seal(keys, alice, { ...base, ...c }), reason, String(reason))
  })
})

/** A version 1 envelope as the first nodes wrote it (docs/PROTOCOL.md, "Version 1") */
function sealV1 (k: GroupKeys, signer: Signer, f: { seq: bigint, lamport: bigint, timestamp: bigint, text: string, name: string }): Uint8Array {
  const topic = Buffer.from(k.wireTopic, 'utf8')
  const nonce = Uint8Array.from(randomBytes(12))
  const plain = Body.encode({ text: f.text, name: f.name, replyTo: new Uint8Array(0), target: new Uint8Array(0), emoji: '', remove: false, mentions: [] })
  const aad = Buffer.alloc(topic.byteLength + 40)
  topic.copy(aad, 0)
  aad.set(signer.publicKey, topic.byteLength)
  aad.writeBigUInt64BE(f.seq, topic.byteLength + 32)
  const cipher = createCipheriv('chacha20-poly1305', k.encKey, nonce, { authTagLength: 16 })
  cipher.setAAD(aad, { plaintextLength: plain.byteLength })
  const ciphertext = Uint8Array.from(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]))
  const env: Envelope = { version: 1, epoch: k.epoch, author: Uint8Array.from(signer.publicKey), seq: f.seq, lamport: f.lamport, timestamp: f.timestamp, kind: 1, nonce, ciphertext, signature: new Uint8Array(0), mac: new Uint8Array(0) }
  env.signature = Uint8Array.from(signer.sign(Buffer.concat([Buffer.from('p2p-chat/envelope-signature/1\n', 'utf8'), topic, Envelope.encode(env)])))
  env.mac = Uint8Array.from(createHmac('sha256', k.macKey).update(Envelope.encode(env)).digest())
  return Envelope.encode(env)
}
