import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Level } from 'level'
import { join } from 'node:path'
import { deriveGroupKeys, ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { HistoryStore } from '../src/store/index.js'
import { PRESENT } from '../src/store/keys.js'
import { tempDir, defer } from './helpers.js'
import type { StorableMessage } from '../src/store/index.js'
import type { TestContext } from 'node:test'

const keys = deriveGroupKeys('store', randomBytes(32))
const signer = ed25519Signer(randomBytes(32))

function message (seq: number, text = `message ${seq}`): StorableMessage {
  const m = sealInOrder(keys, signer, { seq: BigInt(seq), lamport: BigInt(seq), timestamp: Date.now(), text, name: 'a' })
  return { id: m.id, bytes: m.bytes, author: m.envelope.author, seq: m.envelope.seq, lamport: m.envelope.lamport, timestamp: m.envelope.timestamp }
}

async function openStore (t: TestContext): Promise<HistoryStore> {
  const store = new HistoryStore(join(await tempDir(t), 'history'))
  await store.open()
  defer(t, async () => { await store.close() })
  return store
}

describe('history store', () => {
  for (const indexed of [false, true]) {
    it(`appends are idempotent ${indexed ? 'with' : 'without'} the seq index built, also when all arrive at once`, async (t) => {
      const store = await openStore(t)
      const gid = keys.groupId
      if (indexed) await store.seqIndex(gid)
      const msgs = Array.from({ length: 20 }, (_, i) => message(i + 1))
      // all at once, each twice: every message is new exactly once
      const added = await Promise.all([...msgs, ...msgs].map(async m => store.append(gid, m)))
      assert.equal(added.filter(Boolean).length, 20)
      assert.deepEqual(added.slice(0, 20), msgs.map(() => true))
      // later: duplicates are found, a new message is not
      assert.equal(await store.append(gid, msgs[3]), false)
      assert.equal(await store.append(gid, message(21)), true)
      // a second message under a number already held (an equivocating author) is a different record
      assert.equal(await store.append(gid, message(5, 'another text under seq 5')), true)
      assert.equal(await store.count(gid), 22)
      const index = await store.seqIndex(gid)
      assert.equal(index.get(Buffer.from(signer.publicKey).toString('hex'))?.has(21n), true)
    })
  }

  it('writes no empty value: a key that is its own record holds one byte (classic-level leaks an allocation per empty value written)', async (t) => {
    const dir = join(await tempDir(t), 'history')
    const store = new HistoryStore(dir)
    await store.open()
    const gid = keys.groupId
    const [first, second, third] = [message(1), message(2), message(3)]
    await store.append(gid, { ...first, terms: ['alpha', 'beta'] })
    await store.appendMany(gid, [{ ...second, terms: ['gamma'], edits: Buffer.from(first.id).toString('hex') }])
    await store.append(gid, third)
    const cursor = (await store.history(gid)).records[0].cursor
    await store.putIndex(gid, [{ cursor, terms: ['delta'], edits: Buffer.from(first.id).toString('hex') }])
    await store.noteDelete(gid, 'ab'.repeat(32), Buffer.from(signer.publicKey).toString('hex'))
    await store.close()

    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    defer(t, async () => { await db.close() })
    const seen = new Map<string, number>()
    for await (const [key, value] of db.iterator()) {
      assert.notEqual(value.byteLength, 0, `${key} holds an empty value`)
      const kind = key.slice(0, 2)
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
      if (kind === 's!' || kind === 'e!' || kind === 'd!') assert.deepEqual(new Uint8Array(value), PRESENT)
    }
    // every writer of a presence key was exercised: 4 words, 2 edit links, 1 early delete
    assert.equal(seen.get('s!'), 4)
    assert.equal(seen.get('e!'), 2)
    assert.equal(seen.get('d!'), 1)
    assert.equal(seen.get('h!'), 3)
  })

  it('refuses appends once closing, after writing those already accepted', async (t) => {
    const store = new HistoryStore(join(await tempDir(t), 'history'))
    await store.open()
    const pending = Array.from({ length: 10 }, (_, i) => store.append(keys.groupId, message(i + 1)))
    await store.close()
    assert.deepEqual(await Promise.all(pending), Array.from({ length: 10 }, () => true))
    await assert.rejects(store.append(keys.groupId, message(11)), { code: 'ERR_NOT_STARTED' })
    await store.open()
    assert.equal(await store.count(keys.groupId), 10)
    await store.close()
  })
})
