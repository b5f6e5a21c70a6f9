import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { access, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { ChatNode, ChatError, InvalidBackupError, WrongPassphraseError } from '../src/index.js'
import { exportBackup, importBackup, inspectBackup, openDataDirBackupHost } from '../src/backup/index.js'
import { deriveGroupKeys, ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { withBrokenSignature } from './hostile.js'
import { GroupRegistry } from '../src/groups/index.js'
import { HistoryStore } from '../src/store/index.js'
import { meshGroup, nextMessage, startNode, startNodes, tempDir, waitUntil, defer } from './helpers.js'
import type { TestContext } from 'node:test'
import type { BackupHost, ImportSummary } from '../src/backup/index.js'
import type { Signer } from '../src/envelope/index.js'

const PASSPHRASE = 'correct horse battery staple'

/** Every stored record of every group, as base64, oldest first */
async function snapshot (host: BackupHost): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const g of host.groups()) {
    const records: string[] = []
    for await (const r of host.records(g)) records.push(Buffer.from(r).toString('base64'))
    out.set(g.topicId, records)
  }
  return out
}

async function openHost (t: TestContext, dataDir: string, create = false): Promise<Awaited<ReturnType<typeof openDataDirBackupHost>>> {
  const host = await openDataDirBackupHost(dataDir, { create })
  defer(t, async () => { await host.close() })
  return host
}

async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

interface SeedGroup { topicId: string, records: number, secret?: Uint8Array, name?: string }

/**
 * Fill a data directory (no node) with sealed records written by a few
 * authors, as a node would have stored them. Returns the secrets and the
 * records in export order.
 */
async function seed (dataDir: string, groups: SeedGroup[], authors: Signer[] = [0, 1, 2].map(() => ed25519Signer(randomBytes(32)))): Promise<Map<string, { secret: Uint8Array, texts: string[] }>> {
  const registry = new GroupRegistry(dataDir)
  await registry.load()
  const store = new HistoryStore(join(dataDir, 'history'))
  await store.open()
  const out = new Map<string, { secret: Uint8Array, texts: string[] }>()
  try {
    for (const g of groups) {
      const secret = g.secret ?? new Uint8Array(randomBytes(32))
      const [group] = await registry.add(g.topicId, secret, g.name)
      const seqs = authors.map(() => 0n)
      let lamport = await store.lastLamport(group.keys.groupId)
      const texts: string[] = []
      let batch = []
      for (let i = 0; i < g.records; i++) {
        const a = i % authors.length
        const text = `${g.topicId} plaintext message ${i} ${randomBytes(4).toString('hex')}`
        texts.push(text)
        const msg = sealInOrder(group.keys, authors[a], { seq: ++seqs[a], lamport: ++lamport, timestamp: 1_700_000_000_000 + i, text, name: `author-${a}` })
        const e = msg.envelope
        batch.push({ id: msg.id, bytes: msg.bytes, author: e.author, seq: e.seq, lamport: e.lamport, timestamp: e.timestamp })
        if (batch.length === 500) { await store.appendMany(group.keys.groupId, batch); batch = [] }
      }
      await store.appendMany(group.keys.groupId, batch)
      out.set(g.topicId, { secret, texts })
    }
  } finally {
    await store.close()
  }
  return out
}

function lines (file: Buffer): string[] {
  return file.toString('utf8').split('\n')
}

/** The envelope with only its signature wrong (MAC and encryption redone) */
function withBadSignature (bytes: Buffer, secret: Uint8Array, topicId: string): Buffer {
  return Buffer.from(withBrokenSignature(deriveGroupKeys(topicId, secret), bytes))
}

describe('backup', () => {
  it('export on node A, import on a fresh node B: same history record for record, and the chat goes on', async (t) => {
    const [a, c] = await startNodes(t, 2)
    const { invite } = await a.createGroup('team', { name: 'The Team' })
    await a.createGroup('side')
    await c.joinGroup({ invite })
    await meshGroup([a, c], 'team')
    for (let i = 0; i < 10; i++) await a.send('team', `from a ${i}`)
    for (let i = 0; i < 5; i++) await c.send('team', `from c ${i}`)
    for (let i = 0; i < 3; i++) await a.send('side', `side ${i}`)
    await waitUntil('a to hold c\'s messages', async () => (await a.history('team', { limit: 100 })).messages.length === 15)

    const dir = await tempDir(t)
    const file = join(dir, 'backup.json')
    const exported = await exportBackup(a.backupHost(), file, { includeSecrets: true, passphrase: PASSPHRASE })
    assert.equal(exported.records, 18)
    assert.deepEqual(exported.groups.sort(), ['side', 'team'])

    const b = await startNode(t)
    const summary = await importBackup(b.backupHost(), file, { passphrase: PASSPHRASE })
    assert.deepEqual({ ...summary, backup: undefined }, {
      imported: 18, duplicates: 0, rejected: 0, groupsRestored: 2, records: 18, complete: true, encrypted: true, unknownGroups: [], errors: [], errorsOmitted: 0, backup: undefined
    })
    assert.equal(summary.backup.peerId, a.peerId)
    // record for record: the same sealed bytes in the same order
    assert.deepEqual(await snapshot(b.backupHost()), await snapshot(a.backupHost()))
    for (const topic of ['team', 'side']) {
      const atA = (await a.history(topic, { limit: 100 })).messages
      const atB = (await b.history(topic, { limit: 100 })).messages
      assert.deepEqual(atB.map(m => [m.id, m.cursor, m.author, m.text]), atA.map(m => [m.id, m.cursor, m.author, m.text]))
    }
    assert.equal(b.group('team').name, 'The Team')
    assert.equal(b.secret('team'), a.secret('team'))

    // importing twice adds nothing
    const again = await importBackup(b.backupHost(), file, { passphrase: PASSPHRASE })
    assert.equal(again.imported, 0)
    assert.equal(again.duplicates, 18)
    assert.equal(again.groupsRestored, 0)
    assert.equal((await b.history('team', { limit: 100 })).messages.length, 15)

    // B keeps chatting: its clock is past the imported history
    const maxLamport = Math.max(...(await a.history('team', { limit: 100 })).messages.map(m => m.lamport))
    const own = await b.send('team', 'b is back')
    assert.equal(own.lamport, maxLamport + 1, 'the clock follows the imported history')
    await meshGroup([a, b], 'team')
    const fromA = a.send('team', 'hello b')
    const atB = await nextMessage(b, m => m.text === 'hello b')
    assert.equal(atB.id, (await fromA).id)
    const fromB = await b.send('team', 'hello a')
    await waitUntil('a to get b\'s message', async () => (await a.history('team', { limit: 3 })).messages.some(m => m.id === fromB.id))
  })

  it('imports a plain backup into a node that joined by secret, merging with what it has', async (t) => {
    const a = await startNode(t)
    await a.createGroup('merge')
    for (let i = 0; i < 6; i++) await a.send('merge', `a ${i}`)
    const dir = await tempDir(t)
    const file = join(dir, 'plain.json')
    const exported = await exportBackup(a.backupHost(), file)
    assert.equal(exported.encrypted, false)
    assert.equal((await inspectBackup(file)).header?.groups[0].hasSecret, false)

    const b = await startNode(t)
    await b.joinGroup({ topicId: 'merge', secret: a.secret('merge') })
    await b.send('merge', 'b before the import')
    const summary = await importBackup(b.backupHost(), file)
    assert.equal(summary.imported, 6)
    assert.equal(summary.groupsRestored, 0)
    const texts = (await b.history('merge', { limit: 100 })).messages.map(m => m.text)
    assert.equal(texts.length, 7)
    assert.ok(texts.includes('b before the import'))
    for (let i = 0; i < 6; i++) assert.ok(texts.includes(`a ${i}`))
    const next = await b.send('merge', 'after')
    assert.equal(next.seq, 2)
    assert.ok(next.lamport > 6)
  })

  it('exports and imports directly on data directories with no node running', async (t) => {
    const dirA = await tempDir(t)
    const first = new ChatNode({ dataDir: dirA, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    defer(t, async () => { await first.stop() })
    await first.start()
    await first.createGroup('offline', { name: 'Offline group' })
    for (let i = 0; i < 12; i++) await first.send('offline', `offline ${i}`)
    const peerId = first.peerId
    const secret = first.secret('offline')
    // while the node runs, its data directory is locked
    await assert.rejects(openDataDirBackupHost(dirA), { code: 'ERR_DATA_DIR', message: /node running/ })
    await first.stop()

    const out = await tempDir(t)
    const hostA = await openHost(t, dirA)
    assert.equal(hostA.peerId, peerId)
    const plainFile = join(out, 'plain.json')
    const sealedFile = join(out, 'secret.backup')
    await exportBackup(hostA, plainFile)
    await exportBackup(hostA, sealedFile, { includeSecrets: true, passphrase: PASSPHRASE })
    const recordsA = await snapshot(hostA)
    await hostA.close()

    const dirB = join(await tempDir(t), 'fresh')
    await assert.rejects(openDataDirBackupHost(dirB), { code: 'ERR_DATA_DIR' })
    const hostB = await openHost(t, dirB, true)
    const summary = await importBackup(hostB, sealedFile, { passphrase: PASSPHRASE })
    assert.equal(summary.imported, 12)
    assert.equal(summary.groupsRestored, 1)
    assert.deepEqual(await snapshot(hostB), recordsA)
    // the plain backup on top: all duplicates
    const plain = await importBackup(hostB, plainFile)
    assert.equal(plain.duplicates, 12)
    assert.equal(plain.imported, 0)
    await hostB.close()

    // a node started on the restored directory has the group and its history
    const b = await startNode(t, { dataDir: dirB })
    assert.equal(b.secret('offline'), secret)
    assert.equal(b.group('offline').name, 'Offline group')
    assert.deepEqual((await b.history('offline', { limit: 100 })).messages.map(m => m.text).reverse(), Array.from({ length: 12 }, (_, i) => `offline ${i}`))
  })

  it('never writes secrets in the clear; an encrypted backup hides secrets and text and restores the groups', async (t) => {
    const src = await tempDir(t)
    const seeded = await seed(src, [{ topicId: 'hidden-topic', records: 30, name: 'Hidden' }, { topicId: 'other-hidden', records: 5 }])
    const host = await openHost(t, src)
    const out = await tempDir(t)
    const file = join(out, 'b.backup')
    await assert.rejects(exportBackup(host, file, { includeSecrets: true }), { code: 'ERR_INVALID_INPUT' })
    assert.equal(await exists(file), false)
    const summary = await exportBackup(host, file, { includeSecrets: true, passphrase: PASSPHRASE })
    assert.equal(summary.encrypted, true)
    assert.equal(summary.includesSecrets, true)

    const bytes = await readFile(file)
    const text = bytes.toString('latin1')
    for (const [topicId, { secret, texts }] of seeded) {
      assert.equal(bytes.includes(Buffer.from(secret)), false)
      assert.equal(text.includes(Buffer.from(secret).toString('hex')), false)
      assert.equal(text.includes(Buffer.from(secret).toString('base64')), false)
      assert.equal(text.includes(topicId), false)
      for (const m of texts) assert.equal(text.includes(m), false)
    }
    assert.equal(text.includes('Hidden'), false)
    assert.deepEqual(await inspectBackup(file), { encrypted: true })
    const info = await inspectBackup(file, { passphrase: PASSPHRASE })
    assert.deepEqual(info.header?.groups.map(g => g.hasSecret), [true, true])

    const fresh = await openHost(t, await tempDir(t), true)
    const restored = await importBackup(fresh, file, { passphrase: PASSPHRASE })
    assert.equal(restored.groupsRestored, 2)
    assert.equal(restored.imported, 35)
    assert.deepEqual(fresh.groups().map(g => [g.topicId, Buffer.from(g.secret).toString('hex'), g.name]).sort(),
      [...seeded].map(([topicId, { secret }]) => [topicId, Buffer.from(secret).toString('hex'), topicId === 'hidden-topic' ? 'Hidden' : undefined]).sort())
    assert.deepEqual(await snapshot(fresh), await snapshot(host))
  })

  describe('bad input: clear errors naming the record, tampered records never stored, existing history kept', () => {
    interface Fixture {
      src: string
      plain: Buffer
      encrypted: Buffer
      secret: Uint8Array
      /** export-order base64 of the backup's 'bad' records */
      records: string[]
    }

    async function fixture (t: TestContext): Promise<Fixture> {
      const src = await tempDir(t)
      const seeded = await seed(src, [{ topicId: 'bad', records: 20 }, { topicId: 'secretless', records: 3 }])
      const host = await openHost(t, src)
      const dir = await tempDir(t)
      await exportBackup(host, join(dir, 'plain'))
      await exportBackup(host, join(dir, 'enc'), { passphrase: PASSPHRASE })
      const records = (await snapshot(host)).get('bad') ?? []
      await host.close()
      return { src, plain: await readFile(join(dir, 'plain')), encrypted: await readFile(join(dir, 'enc')), secret: seeded.get('bad')!.secret, records }
    }

    /** A data directory in group 'bad' (not 'secretless') with 5 records of its own */
    async function target (t: TestContext, f: Fixture): Promise<{ host: BackupHost, before: Map<string, string[]> }> {
      const dir = await tempDir(t)
      await seed(dir, [{ topicId: 'bad', records: 5, secret: f.secret }])
      const host = await openHost(t, dir)
      return { host, before: await snapshot(host) }
    }

    async function importBytes (t: TestContext, host: BackupHost, bytes: Buffer | string, passphrase?: string): Promise<ImportSummary> {
      const file = join(await tempDir(t), 'input')
      await writeFile(file, bytes)
      return importBackup(host, file, { passphrase })
    }

    /** Existing records all still there, and what was added is exactly `added` (indexes into the backup's records) */
    async function assertHistory (host: BackupHost, before: Map<string, string[]>, f: Fixture, added: number[]): Promise<void> {
      const after = await snapshot(host)
      const expected = new Set([...before.get('bad') ?? [], ...added.map(i => f.records[i])])
      assert.deepEqual(new Set(after.get('bad')), expected)
      assert.equal(after.get('bad')?.length, expected.size)
      assert.deepEqual([...after.keys()], [...before.keys()])
    }

    const range = (from: number, to: number, except: number[] = []): number[] => Array.from({ length: to - from }, (_, i) => from + i).filter(i => !except.includes(i))

    it('a file that is not JSON, an unknown version, a wrong or missing passphrase: nothing imported', async (t) => {
      const f = await fixture(t)
      const { host, before } = await target(t, f)
      await assert.rejects(importBytes(t, host, 'this is not json\n{"end":true}\n'), (err: any) => {
        assert.ok(err instanceof InvalidBackupError)
        assert.match(err.message, /line 1 is not JSON/)
        return true
      })
      await assert.rejects(importBytes(t, host, randomBytes(100_000)), InvalidBackupError)
      await assert.rejects(importBytes(t, host, ''), { code: 'ERR_INVALID_BACKUP', message: /empty/ })
      await assert.rejects(importBytes(t, host, '{"format":"something-else","version":1}\n'), { code: 'ERR_INVALID_BACKUP', message: /unknown format/ })
      const v2 = f.plain.toString('utf8').replace('"version":1', '"version":2')
      await assert.rejects(importBytes(t, host, v2), { code: 'ERR_INVALID_BACKUP', message: /unknown backup format version 2/ })
      await assert.rejects(importBytes(t, host, f.encrypted, 'not the passphrase'), (err: any) => {
        assert.ok(err instanceof WrongPassphraseError)
        assert.equal(err.code, 'ERR_WRONG_PASSPHRASE')
        return true
      })
      await assert.rejects(importBytes(t, host, f.encrypted), { code: 'ERR_INVALID_INPUT', message: /encrypted/ })
      await assert.rejects(importBackup(host, join(f.src, 'no-such-file')), { code: 'ERR_INVALID_INPUT', message: /no such file/ })
      await assertHistory(host, before, f, [])
    })

    it('records with a broken MAC or a bad signature are rejected by index; the valid ones are imported', async (t) => {
      const f = await fixture(t)
      const { host, before } = await target(t, f)
      const text = lines(f.plain)
      // line = index + 2 (line 1 is the header)
      const mac = JSON.parse(text[7 + 2 - 1])
      const macBytes = Buffer.from(mac.envelope, 'base64')
      macBytes[macBytes.length - 1] ^= 0x40
      text[7 + 2 - 1] = JSON.stringify({ topicId: 'bad', envelope: macBytes.toString('base64') })
      const sig = JSON.parse(text[9 + 2 - 1])
      text[9 + 2 - 1] = JSON.stringify({ topicId: 'bad', envelope: withBadSignature(Buffer.from(sig.envelope, 'base64'), f.secret, 'bad').toString('base64') })
      const summary = await importBytes(t, host, text.join('\n'))
      assert.equal(summary.complete, true)
      assert.equal(summary.imported, 18)
      assert.equal(summary.rejected, 2 + 3) // and the 3 of 'secretless'
      assert.deepEqual(summary.errors.slice(0, 2).map(e => [e.index, e.line, e.topicId, e.reason]), [[7, 9, 'bad', 'bad mac'], [9, 11, 'bad', 'bad signature']])
      assert.match(summary.errors[0].message, /^record 7 \(line 9\) of group "bad": bad mac/)
      assert.match(summary.errors[1].message, /^record 9 \(line 11\) of group "bad": bad signature/)
      await assertHistory(host, before, f, range(0, 20, [7, 9]))

      // the same with verification on worker threads, in jobs of 256: the same result, in the same order
      const other = await target(t, f)
      const file = join(await tempDir(t), 'tampered')
      await writeFile(file, text.join('\n'))
      const threaded = await importBackup(other.host, file, { verifyThreads: 2 })
      assert.deepEqual(threaded, summary)
      await assertHistory(other.host, other.before, f, range(0, 20, [7, 9]))
    })

    it('records of a group whose secret is unknown are rejected and counted', async (t) => {
      const f = await fixture(t)
      const { host, before } = await target(t, f)
      const summary = await importBytes(t, host, f.plain)
      assert.equal(summary.complete, true)
      assert.equal(summary.imported, 20)
      assert.equal(summary.rejected, 3)
      assert.deepEqual(summary.unknownGroups, ['secretless'])
      assert.deepEqual(summary.errors.map(e => [e.index, e.reason]), [[20, 'unknown group'], [21, 'unknown group'], [22, 'unknown group']])
      assert.match(summary.errors[0].message, /record 20 \(line 22\) of group "secretless": unknown group/)
      await assertHistory(host, before, f, range(0, 20))
    })

    it('a truncated file: the valid records before the cut are imported, the summary says where it stops', async (t) => {
      const f = await fixture(t)
      const { host, before } = await target(t, f)
      // cut in the middle of record 10 (line 12)
      const text = lines(f.plain)
      const cut = Buffer.byteLength(text.slice(0, 11).join('\n') + '\n') + 40
      const summary = await importBytes(t, host, f.plain.subarray(0, cut))
      assert.equal(summary.complete, false)
      assert.equal(summary.imported, 10)
      assert.equal(summary.rejected, 0)
      assert.deepEqual(summary.errors.map(e => [e.line, e.reason]), [[12, 'truncated']])
      assert.match(summary.errors[0].message, /truncated: line 12 \(record 10\) is cut short/)
      await assertHistory(host, before, f, range(0, 10))

      // cut at a line end: only the end line is missing
      const noEnd = await importBytes(t, host, text.slice(0, -2).join('\n') + '\n')
      assert.equal(noEnd.complete, false)
      assert.equal(noEnd.errors.at(-1)?.reason, 'truncated')
      // a record line removed: the count in the end line does not match
      const removed = await importBytes(t, host, [...text.slice(0, 5), ...text.slice(6)].join('\n'))
      assert.equal(removed.complete, false)
      assert.equal(removed.errors.at(-1)?.reason, 'record count mismatch')
      await assertHistory(host, before, f, range(0, 20))

      // a line that is not JSON in the middle is one rejected record; reading goes on
      const other = await target(t, f)
      const garbled = [...text]
      garbled[4] = '{"topicId":"bad","envelo'
      const g = await importBytes(t, other.host, garbled.join('\n'))
      assert.equal(g.complete, true)
      assert.deepEqual(g.errors.slice(0, 1).map(e => [e.index, e.line, e.reason]), [[3, 5, 'not JSON']])
      assert.match(g.errors[0].message, /^record 3 \(line 5\): not JSON/)
      await assertHistory(other.host, other.before, f, range(0, 20, [3]))
    })

    it('an encrypted file altered or cut: nothing is read past the damage', async (t) => {
      const f = await fixture(t)
      const { host, before } = await target(t, f)
      const altered = Buffer.from(f.encrypted)
      altered[altered.length - 100] ^= 0x01
      // the whole backup is one chunk here: the header cannot be read, nothing is imported
      await assert.rejects(importBytes(t, host, altered, PASSPHRASE), { code: 'ERR_INVALID_BACKUP', message: /chunk 0 fails authentication/ })
      await assert.rejects(importBytes(t, host, f.encrypted.subarray(0, f.encrypted.length - 10), PASSPHRASE), { code: 'ERR_INVALID_BACKUP', message: /truncated/ })
      await assertHistory(host, before, f, [])
      const ok = await importBytes(t, host, f.encrypted, PASSPHRASE)
      assert.equal(ok.imported, 20)
    })
  })

  it('2,000 records: streams with progress, survives a cut encrypted file up to the last whole chunk', async (t) => {
    const N = 2000
    const src = await tempDir(t)
    await seed(src, [{ topicId: 'many', records: N }])
    const host = await openHost(t, src)
    const out = await tempDir(t)
    const file = join(out, 'many.backup')
    const exportProgress: Array<[number, number | undefined]> = []
    const exported = await exportBackup(host, file, { includeSecrets: true, passphrase: PASSPHRASE, onProgress: p => exportProgress.push([p.done, p.total]) })
    assert.equal(exported.records, N)
    assert.deepEqual(exportProgress.at(-1), [N, N])
    assert.ok(exportProgress.length >= 3)
    assert.ok(exportProgress.every(([d], i) => i === 0 || d >= exportProgress[i - 1][0]))

    const fresh = await openHost(t, await tempDir(t), true)
    const importProgress: number[] = []
    const summary = await importBackup(fresh, file, { passphrase: PASSPHRASE, batchSize: 300, verifyThreads: 2, onProgress: p => importProgress.push(p.done) })
    assert.equal(summary.imported, N)
    assert.equal(importProgress.at(-1), N)
    const all = (await snapshot(host)).get('many') ?? []
    assert.deepEqual((await snapshot(fresh)).get('many'), all)

    // cut the encrypted file in half: the records of the whole chunks before the cut come in
    const bytes = await readFile(file)
    assert.ok(bytes.length > 4 * 64 * 1024, 'several chunks')
    const half = join(out, 'half.backup')
    await writeFile(half, bytes.subarray(0, Math.floor(bytes.length / 2)))
    const partial = await openHost(t, await tempDir(t), true)
    const cut = await importBackup(partial, half, { passphrase: PASSPHRASE, verifyThreads: 1 })
    assert.equal(cut.complete, false)
    assert.equal(cut.rejected, 0)
    assert.equal(cut.errors.at(-1)?.reason, 'truncated')
    assert.ok(cut.imported > N / 4 && cut.imported < N / 2 + 200, `imported ${cut.imported}`)
    assert.deepEqual((await snapshot(partial)).get('many'), all.slice(0, cut.imported))
  })

  it('exports to a stream it does not end and imports from a stream (stdout, stdin)', async (t) => {
    const src = await tempDir(t)
    await seed(src, [{ topicId: 'streamed', records: 50 }])
    const host = await openHost(t, src)
    const chunks: Buffer[] = []
    const out = new PassThrough()
    out.on('data', (c: Buffer) => chunks.push(c))
    const summary = await exportBackup(host, out, { passphrase: PASSPHRASE, includeSecrets: true })
    assert.equal(out.writableEnded, false)
    const bytes = Buffer.concat(chunks)
    assert.equal(bytes.length, summary.bytes)
    const fresh = await openHost(t, await tempDir(t), true)
    // delivered in small pieces, as a pipe would
    const pieces = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) => bytes.subarray(i * 1000, (i + 1) * 1000))
    const result = await importBackup(fresh, Readable.from(pieces), { passphrase: PASSPHRASE })
    assert.equal(result.imported, 50)
    assert.equal(result.complete, true)
    assert.deepEqual(await snapshot(fresh), await snapshot(host))
  })

  it('exports chosen groups; an unknown one is a typed error; an aborted export leaves nothing', async (t) => {
    const src = await tempDir(t)
    await seed(src, [{ topicId: 'known', records: 1 }])
    const host = await openHost(t, src)
    await assert.rejects(exportBackup(host, join(src, 'x'), { topicIds: ['nope'] }), (err: any) => err instanceof ChatError && err.code === 'ERR_UNKNOWN_GROUP')
    const one = await exportBackup(host, join(src, 'y'), { topicIds: ['known'] })
    assert.equal(one.records, 1)
    // an aborted export leaves no file behind, not even a partial one
    const out = await tempDir(t)
    await assert.rejects(exportBackup(host, join(out, 'aborted'), { signal: AbortSignal.abort() }), { name: 'AbortError' })
    assert.deepEqual(await readdir(out), [])
  })
})
