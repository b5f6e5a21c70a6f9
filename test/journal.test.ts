/**
 * Issue 16: the history's journal (src/store/journal.ts). A message is in the
 * journal once its batch claims it, before LevelDB's write; a node announces,
 * forwards and publishes it then. The journal is read back when the history
 * opens, so a crash between publishing and LevelDB's write loses nothing and
 * reuses no sequence number.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { HistoryStore, Journal, decodeJournal, encodeJournal } from '../src/store/index.js'
import type { JournalEntry, StorableMessage } from '../src/store/index.js'
import { collect, nextMessage, startNode, tempDir, waitUntil, defer } from './helpers.js'

const GROUP = 'ab'.repeat(16)

function message (seq: number, extra: Partial<StorableMessage> = {}): StorableMessage {
  return { id: randomBytes(32), bytes: randomBytes(100 + seq), author: Buffer.alloc(32, 7), seq: BigInt(seq), lamport: BigInt(seq), timestamp: BigInt(1_700_000_000_000 + seq), ...extra }
}

describe('journal codec', () => {
  it('round-trips every field; a torn, corrupt or oversized frame ends the file there', () => {
    const entries: JournalEntry[] = [
      { groupId: GROUP, msg: message(1) },
      { groupId: GROUP, msg: message(2, { idempotencyKey: 'k-1', arrivedLate: 1_700_000_123_456, misordered: true, terms: ['hello', 'world'], edits: 'cd'.repeat(32) }) },
      { groupId: GROUP, msg: message(3) }
    ]
    const data = encodeJournal(entries)
    const back = decodeJournal(data)
    assert.equal(back.dropped, 0)
    assert.equal(back.entries.length, 3)
    for (let i = 0; i < 3; i++) {
      const [a, b] = [entries[i].msg, back.entries[i].msg]
      assert.equal(back.entries[i].groupId, GROUP)
      assert.deepEqual(Buffer.from(b.id), Buffer.from(a.id))
      assert.deepEqual(Buffer.from(b.bytes), Buffer.from(a.bytes))
      assert.deepEqual(Buffer.from(b.author), Buffer.from(a.author))
      assert.equal(b.seq, a.seq)
      assert.equal(b.lamport, a.lamport)
      assert.equal(b.timestamp, a.timestamp)
      assert.equal(b.idempotencyKey, a.idempotencyKey)
      assert.equal(b.arrivedLate, a.arrivedLate)
      assert.equal(b.misordered, a.misordered)
      assert.deepEqual(b.terms, a.terms)
      assert.equal(b.edits, a.edits)
    }
    const one = encodeJournal(entries.slice(0, 1)).byteLength
    const two = encodeJournal(entries.slice(0, 2)).byteLength
    // torn in the third frame: the first two are read
    const torn = decodeJournal(data.subarray(0, data.byteLength - 5))
    assert.equal(torn.entries.length, 2)
    assert.equal(torn.dropped, data.byteLength - 5 - two)
    // a flipped byte in the second record: only the first
    const corrupt = Buffer.from(data)
    corrupt[one + 8 + 3] ^= 0xff
    assert.equal(decodeJournal(corrupt).entries.length, 1)
    // a length past the bound: nothing after it
    const big = Buffer.from(data)
    big.writeUInt32LE(1 << 30, one)
    assert.equal(decodeJournal(big).entries.length, 1)
    assert.deepEqual(decodeJournal(new Uint8Array(3)), { entries: [], dropped: 3 })
  })
})

describe('journal files', () => {
  it('appends move to the other file past the rotation size; a file is emptied once all its records are in LevelDB; a failed write pins it', async (t) => {
    const dir = await tempDir(t)
    const journal = new Journal(join(dir, 'j'), { rotateBytes: 300 })
    defer(t, () => { journal.close() })
    const a = journal.append([{ groupId: GROUP, msg: message(1) }, { groupId: GROUP, msg: message(2) }])
    assert.equal(a, 0)
    assert.ok(journal.sizes()[0] >= 300, 'past the rotation size')
    const b = journal.append([{ groupId: GROUP, msg: message(3) }])
    assert.equal(b, 1, 'the next append went to the other file')
    assert.equal(journal.read().length, 3)
    journal.settled(a, 2, true)
    assert.equal(journal.sizes()[0], 0, 'all in LevelDB: emptied')
    assert.equal((await stat(join(dir, 'j.0'))).size, 0)
    // the active file is kept while small (emptying it on every write would cost a system call each)
    journal.settled(b, 1, true)
    assert.ok(journal.sizes()[1] > 0)
    assert.ok(journal.clean())
    const c = journal.append([{ groupId: GROUP, msg: message(4) }, { groupId: GROUP, msg: message(5) }])
    journal.settled(c, 2, false)
    assert.equal(journal.clean(), false, 'a failed write keeps its file')
    assert.ok(journal.sizes()[c] > 0)
    assert.equal(journal.read().length, 3, 'its records are kept')
    journal.recovered(c, 2)
    assert.ok(journal.clean(), 'written after all: nothing waits')
  })

  it('a journal holding only a torn frame is emptied when the history opens, so that the appends after it are read back', async (t) => {
    const dir = await tempDir(t)
    const path = join(dir, 'history')
    const first = new HistoryStore(path)
    await first.open()
    await first.close()
    await writeFile(`${path}.journal.0`, encodeJournal([{ groupId: GROUP, msg: message(1) }]).subarray(0, 9))
    const store = new HistoryStore(path)
    await store.open()
    assert.deepEqual([(await stat(`${path}.journal.0`)).size, (await stat(`${path}.journal.1`)).size], [0, 0])
    await store.close()
    // a crash with one record in the journal only: read back
    const journal = new Journal(`${path}.journal`)
    journal.append([{ groupId: GROUP, msg: message(2) }])
    journal.close()
    const again = new HistoryStore(path)
    await again.open()
    defer(t, async () => { await again.close() })
    assert.equal((await again.history(GROUP)).records.length, 1)
  })

  it('the history reads a journal back when it opens: what LevelDB lacks is written, duplicates skipped, the journal emptied', async (t) => {
    const dir = await tempDir(t)
    const path = join(dir, 'history')
    const store = new HistoryStore(path)
    await store.open()
    const written = message(1)
    await store.appendMany(GROUP, [written])
    await store.close()
    assert.deepEqual([(await stat(`${path}.journal.0`)).size, (await stat(`${path}.journal.1`)).size], [0, 0], 'a clean close leaves the journal empty')
    // a crash after the journal append, before LevelDB's write: the journal holds what LevelDB does not
    const journal = new Journal(`${path}.journal`)
    journal.append([{ groupId: GROUP, msg: written }, { groupId: GROUP, msg: message(2, { idempotencyKey: 'again' }) }, { groupId: GROUP, msg: message(3) }])
    journal.close()
    // and a torn last append
    const j0 = await readFile(`${path}.journal.0`)
    await writeFile(`${path}.journal.0`, Buffer.concat([j0, encodeJournal([{ groupId: GROUP, msg: message(4) }]).subarray(0, 20)]))
    const reopened = new HistoryStore(path)
    await reopened.open()
    defer(t, async () => { await reopened.close() })
    const page = await reopened.history(GROUP, { limit: 10 })
    assert.equal(page.records.length, 3, 'seqs 1-3, once each; the torn record is not read')
    assert.ok(await reopened.idempotent(GROUP, 'again') != null, 'the idempotency key came back with its message')
    assert.deepEqual([(await stat(`${path}.journal.0`)).size, (await stat(`${path}.journal.1`)).size], [0, 0], 'emptied once written')
    const index = await reopened.seqIndex(GROUP)
    assert.ok(index.get('07'.repeat(32))?.coversPrefix(3n))
  })
})

describe('journal: a LevelDB write that fails after the journal append', () => {
  it('the send fails, the record is written again a moment later, and a repeat with its idempotency key is that message, not a second one', async (t) => {
    const node = await startNode(t)
    const { topicId } = await node.createGroup('journal-retry')
    interface Batch { write: () => Promise<void> }
    const db = (node as unknown as { running: { store: { db: { batch: () => Batch } } } }).running.store.db
    const batch = db.batch.bind(db)
    let failNext = true
    db.batch = () => {
      const real = batch()
      const write = real.write.bind(real)
      real.write = async () => {
        if (failNext) { failNext = false; throw new Error('injected: disk on fire') }
        await write()
      }
      return real
    }
    await assert.rejects(node.sendIdempotent(topicId, 'kept in the journal', 'key-1'), /disk on fire/)
    const repeat = await node.sendIdempotent(topicId, 'kept in the journal', 'key-1')
    assert.equal(repeat.repeated, true, 'the repeat finds the message waiting in the journal')
    await waitUntil('the record written again', async () => (await node.history(topicId)).messages.some(m => m.id === repeat.message.id), 15_000)
    const after = await node.sendIdempotent(topicId, 'kept in the journal', 'key-1')
    assert.equal(after.repeated, true)
    assert.equal(after.message.id, repeat.message.id)
    assert.equal((await node.history(topicId)).messages.filter(m => m.text === 'kept in the journal').length, 1, 'stored once')
  })
})

describe('journal: SIGKILL right after publishing', () => {
  it('a message published while its LevelDB write is held is in history after the restart, and the next send takes the next number', async (t) => {
    const peer = await startNode(t)
    const { topicId, invite } = await peer.createGroup('journal-kill')
    const seen = collect(peer)
    const equivocations: unknown[] = []
    peer.on('equivocation', e => equivocations.push(e))
    const dataDir = await tempDir(t)
    const child = spawn(process.execPath, [fileURLToPath(new URL('./journal-child.js', import.meta.url)), dataDir, invite, peer.addresses[0], 'published, not in LevelDB'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env } })
    defer(t, () => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') })
    const lines = createInterface({ input: child.stdout })
    const [first] = await once(lines, 'line') as [string]
    assert.deepEqual(JSON.parse(first), { ready: true })
    // the child publishes once the peer sees it subscribed (its gossip stream to the peer is open then)
    await waitUntil('the peer to see the child subscribed', () => peer.groupPeers(topicId).length >= 1)
    const arriving = nextMessage(peer, m => m.text === 'published, not in LevelDB')
    child.stdin.end('send\n')
    const published = await arriving
    child.kill('SIGKILL')
    await once(child, 'exit')
    // the restarted node: the journal read back into its history
    const restarted = await startNode(t, { dataDir })
    const mine = await restarted.history(topicId)
    assert.ok(mine.messages.some(m => m.id === published.id), 'the published message is in its own history after the restart')
    await restarted.dial(peer.addresses[0])
    await waitUntil('the restarted node in the mesh again', () => restarted.groupPeers(topicId).length >= 1)
    const next = nextMessage(peer, m => m.text === 'after the restart')
    await restarted.send(topicId, 'after the restart')
    const after = await next
    assert.equal(after.seq, published.seq + 1, 'the next number, not the published one again')
    assert.equal(after.conflict, undefined)
    assert.deepEqual(equivocations, [], 'no second message under one number')
    assert.equal(seen.filter(m => m.author === published.author).length, 2)
  })
})
