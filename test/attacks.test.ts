/**
 * Issue 14's attacks by a member gone bad, on real nodes over 127.0.0.1: each
 * is performed and shown to fail. The member is a raw libp2p node that holds
 * the group secret and its own key, and publishes envelopes it crafts field
 * by field (test/hostile.ts craft), valid MAC and signature included.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Body, deriveGroupKeys, ed25519Signer, peek } from '../src/envelope/index.js'
import { MAX_CLOCK_SKEW_MS } from '../src/node.js'
import { formatMessage, printable, time } from '../src/cli/output.js'
import { craft, startHostile } from './hostile.js'
import { meshGroup, startNode, startNodes, tempDir, waitUntil } from './helpers.js'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportBackup, importBackup, openDataDirBackupHost } from '../src/backup/index.js'
import { InvalidBackupError } from '../src/errors.js'
import { GroupRegistry } from '../src/groups/index.js'
import type { ChatMessage, ChatNode } from '../src/index.js'

async function history (node: ChatNode, topicId: string): Promise<ChatMessage[]> {
  return (await node.history(topicId, { limit: 1000 })).messages.reverse()
}

describe('attacks by a member: envelope rules and ingest bounds', () => {
  it('lamport and timestamp overflows, backdated clocks, bad bodies and unknown kinds are refused; the group goes on', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('attacked')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'attacked')
    await a.send('attacked', 'hello before the attacks')
    await waitUntil('b to have the first message', async () => (await history(b, 'attacked')).length === 1)
    const keys = deriveGroupKeys('attacked', Buffer.from(a.secret('attacked'), 'hex'))
    const m = await startHostile(t, keys)
    await m.dial(a.addresses[0])
    await m.dial(b.addresses[0])
    await waitUntil('both and the member to see each other on the topic', () => a.isGroupPeer(m.peerId) && b.isGroupPeer(m.peerId) && m.node.services.pubsub.getSubscribers(keys.wireTopic).length >= 2)
    const mallory = ed25519Signer(randomBytes(32))
    const rejected: string[] = []
    a.on('rejected', r => rejected.push(r.reason))
    const now = BigInt(Date.now())
    const badUtf8 = Body.encode({ text: 'x', name: 'mallory' })
    badUtf8[2] = 0xff // the one text byte: not UTF-8
    const attacks: Array<{ what: string, bytes: Uint8Array, reason: string }> = [
      { what: 'lamport 2^64-1 (wraps every clock to 0)', bytes: craft(keys, mallory, { seq: 1n, lamport: (1n << 64n) - 1n, timestamp: now }), reason: 'lamport out of range' },
      { what: 'lamport 2^63', bytes: craft(keys, mallory, { seq: 2n, lamport: 1n << 63n, timestamp: now }), reason: 'lamport out of range' },
      { what: 'lamport 0', bytes: craft(keys, mallory, { seq: 3n, lamport: 0n, timestamp: now }), reason: 'lamport out of range' },
      { what: 'timestamp 1e17 (the store key kept 48 bits, the CLI threw)', bytes: craft(keys, mallory, { seq: 4n, lamport: 5n, timestamp: 100_000_000_000_000_000n }), reason: 'timestamp out of range' },
      { what: 'kind 0', bytes: craft(keys, mallory, { seq: 5n, lamport: 5n, timestamp: now, kind: 0 }), reason: 'unknown kind' },
      { what: 'kind 70000 (above the kinds a version may define)', bytes: craft(keys, mallory, { seq: 6n, lamport: 5n, timestamp: now, kind: 70_000 }), reason: 'unknown kind' },
      { what: 'kind 2 (a reaction) with a text and no target', bytes: craft(keys, mallory, { seq: 6n, lamport: 5n, timestamp: now, kind: 2 }), reason: 'field not of its kind' },
      { what: 'padding that is not zeros', bytes: craft(keys, mallory, { seq: 10n, lamport: 5n, timestamp: now, padding: Uint8Array.of(1) }), reason: 'bad padding' },
      { what: 'padded to a size that is not its bucket', bytes: craft(keys, mallory, { seq: 11n, lamport: 5n, timestamp: now, paddedTo: 1024 }), reason: 'bad padding' },
      { what: 'a prev link at seq 1', bytes: craft(keys, mallory, { seq: 1n, lamport: 5n, timestamp: now, prev: new Uint8Array(32) }), reason: 'bad link' },
      { what: 'no prev link at seq 12', bytes: craft(keys, mallory, { seq: 12n, lamport: 5n, timestamp: now, prev: new Uint8Array(0) }), reason: 'bad link' },
      { what: 'five parents', bytes: craft(keys, mallory, { seq: 13n, lamport: 5n, timestamp: now, parents: [1, 2, 3, 4, 5].map(i => new Uint8Array(32).fill(i)) }), reason: 'bad link' },
      { what: 'empty text', bytes: craft(keys, mallory, { seq: 7n, lamport: 5n, timestamp: now, text: '  ' }), reason: 'empty text' },
      { what: 'invalid UTF-8 (made history --json unparsable)', bytes: craft(keys, mallory, { seq: 8n, lamport: 5n, timestamp: now, plain: badUtf8 }), reason: 'bad body' },
      { what: 'a body not in canonical form (a field twice)', bytes: craft(keys, mallory, { seq: 9n, lamport: 5n, timestamp: now, plain: Buffer.concat([Body.encode({ text: 'a', name: 'm' }), Body.encode({ text: 'b', name: '' })]) }), reason: 'bad body' },
      { what: 'seq 0', bytes: craft(keys, mallory, { seq: 0n, lamport: 5n, timestamp: now }), reason: 'seq out of range' }
    ]
    for (const attack of attacks) {
      const seen = once(a, 'rejected', { signal: AbortSignal.timeout(20_000) })
      await m.node.services.pubsub.publish(keys.wireTopic, attack.bytes)
      const [r] = await seen as [{ reason: string }]
      assert.equal(r.reason, attack.reason, attack.what)
    }
    // within the rules, but bounded on ingest: ignored, counted, never stored
    const future = craft(keys, mallory, { seq: 20n, lamport: 5n, timestamp: now + BigInt(MAX_CLOCK_SKEW_MS) + 3_600_000n, text: 'from the future' })
    const jump = craft(keys, mallory, { seq: 21n, lamport: (1n << 62n), timestamp: now, text: 'clock poison' })
    await m.node.services.pubsub.publish(keys.wireTopic, future)
    await m.node.services.pubsub.publish(keys.wireTopic, jump)
    await waitUntil('a to ignore both', () => a.ingestCounts().future === 1 && a.ingestCounts().clockJump === 1)
    await waitUntil('b to ignore both', () => b.ingestCounts().future === 1 && b.ingestCounts().clockJump === 1)
    // the group goes on: clocks unpoisoned, history readable and in order, nothing of the attacker stored
    const next = await a.send('attacked', 'after the attacks')
    assert.ok(next.lamport < 100, `a's clock was not thrown ahead: lamport ${next.lamport}`)
    await waitUntil('b to get it', async () => (await history(b, 'attacked')).length === 2)
    assert.deepEqual((await history(b, 'attacked')).map(x => x.text), ['hello before the attacks', 'after the attacks'])
    assert.equal(rejected.length, attacks.length)
    t.diagnostic(`refused at a: ${rejected.length} by the envelope rules, ${JSON.stringify(a.ingestCounts())} by the ingest bounds`)
  })

  it('equivocation: two messages with one author and seq are both kept, flagged and counted', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('vote')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'vote')
    const keys = deriveGroupKeys('vote', Buffer.from(a.secret('vote'), 'hex'))
    const m = await startHostile(t, keys)
    await m.dial(a.addresses[0])
    await waitUntil('a and the member to see each other on the topic', () => a.isGroupPeer(m.peerId) && m.node.services.pubsub.getSubscribers(keys.wireTopic).some(p => p.toString() === a.peerId))
    const mallory = ed25519Signer(randomBytes(32))
    const now = BigInt(Date.now())
    const first = once(a, 'message', { signal: AbortSignal.timeout(20_000) })
    await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text: 'I vote YES', name: 'mallory' }))
    await first
    const flagged = once(a, 'equivocation', { signal: AbortSignal.timeout(20_000) })
    await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text: 'I vote NO', name: 'mallory' }))
    const [e] = await flagged as [{ seq: number, author: string }]
    assert.equal(e.seq, 1)
    assert.equal(a.ingestCounts().equivocations, 1)
    // both versions are kept, as evidence
    const texts = (await history(a, 'vote')).map(x => x.text).sort()
    assert.deepEqual(texts, ['I vote NO', 'I vote YES'])
  })

  it('backdating: a message that reuses an old lamport and timestamp is marked as arrived late, one whose lamport contradicts its links as misordered, on every node', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('iban')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'iban')
    const first = await a.send('iban', 'our account is XX11 GOOD')
    await waitUntil('b to have it', async () => (await history(b, 'iban')).length === 1)
    const second = await b.send('iban', 'thanks, paying today')
    await waitUntil('a to have it', async () => (await history(a, 'iban')).length === 2)
    const keys = deriveGroupKeys('iban', Buffer.from(a.secret('iban'), 'hex'))
    const m = await startHostile(t, keys)
    await m.dial(a.addresses[0])
    await m.dial(b.addresses[0])
    await waitUntil('both and the member to see each other on the topic', () => a.isGroupPeer(m.peerId) && b.isGroupPeer(m.peerId) && m.node.services.pubsub.getSubscribers(keys.wireTopic).length >= 2)
    const mallory = ed25519Signer(randomBytes(32))
    // the attack of the issue: lamport 2 and a time of an hour ago, to sit second in the conversation
    const hourAgo = BigInt(Date.now() - 3_600_000)
    await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: hourAgo, text: 'use IBAN XX00 EVIL' }))
    // and one that names the newest message as seen (a parent) yet claims a lower lamport
    await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 2n, lamport: 1n, timestamp: BigInt(Date.now()), parents: [Buffer.from(second.id, 'hex')], prev: undefined, text: 'ignore the last message' }))
    for (const n of [a, b]) {
      await waitUntil('both to be stored', async () => (await history(n, 'iban')).length === 4)
      const h = await history(n, 'iban')
      const evil = h.find(x => x.text === 'use IBAN XX00 EVIL')
      assert.ok(evil?.arrivedLate != null && evil.arrivedLate - evil.timestamp > 3_000_000, `marked as arrived late: ${JSON.stringify(evil)}`)
      const lie = h.find(x => x.text === 'ignore the last message')
      assert.equal(lie?.misordered, true, 'marked misordered: its lamport is not above its parent\'s')
      // the honest messages are neither
      assert.ok(h.filter(x => x.id === first.id || x.id === second.id).every(x => x.arrivedLate == null && x.misordered !== true))
      assert.equal(n.ingestCounts().misordered, 1)
    }
    // the marks survive a page read later, and the CLI's line says so
    const line = formatMessage((await history(a, 'iban')).find(x => x.text === 'use IBAN XX00 EVIL') as ChatMessage)
    assert.match(line, /arrived late/)
  })

  it('equivocation through links: a message naming another version of its author\'s previous message flags the author, whose messages are then marked', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('fork')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'fork')
    const keys = deriveGroupKeys('fork', Buffer.from(a.secret('fork'), 'hex'))
    const m = await startHostile(t, keys)
    await m.dial(a.addresses[0])
    await waitUntil('a and the member to see each other on the topic', () => a.isGroupPeer(m.peerId) && m.node.services.pubsub.getSubscribers(keys.wireTopic).some(p => p.toString() === a.peerId))
    const mallory = ed25519Signer(randomBytes(32))
    const now = BigInt(Date.now())
    const yes = craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text: 'I vote YES' })
    const no = craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text: 'I vote NO' })
    const noId = (() => { const p = peek(keys, no); assert.ok(p.ok); return p.message.id })()
    const got = once(a, 'message', { signal: AbortSignal.timeout(20_000) })
    await m.node.services.pubsub.publish(keys.wireTopic, yes)
    await got
    // a never sees "NO" itself: only seq 2, which links to it
    const flagged = once(a, 'equivocation', { signal: AbortSignal.timeout(20_000) })
    await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 2n, lamport: 2n, timestamp: now, prev: noId, text: 'as I said' }))
    const [e] = await flagged as [{ seq: number }]
    assert.equal(e.seq, 2)
    const h = await history(a, 'fork')
    assert.ok(h.filter(x => x.name.startsWith('mallory')).every(x => x.conflict === true), 'every message of the flagged author is marked')
    // a restart keeps the flag
    await a.stop()
    await a.start()
    assert.ok((await history(a, 'fork')).filter(x => x.name.startsWith('mallory')).every(x => x.conflict === true))
  })

  it('equivocation through sync: an author that gives one version of its last message to A and another to B, then stays silent, is found out when A and B sync', async (t) => {
    const [a, b] = await startNodes(t, 2)
    await a.createGroup('split')
    await b.joinGroup({ topicId: 'split', secret: a.secret('split') })
    const keys = deriveGroupKeys('split', Buffer.from(a.secret('split'), 'hex'))
    const mallory = ed25519Signer(randomBytes(32))
    const now = BigInt(Date.now())
    const versions: Array<[ChatNode, string]> = [[a, 'I vote YES'], [b, 'I vote NO']]
    for (const [n, text] of versions) {
      const m = await startHostile(t, keys)
      await m.dial(n.addresses[0])
      await waitUntil('the member to see the node on the topic', () => m.node.services.pubsub.getSubscribers(keys.wireTopic).some(p => p.toString() === n.peerId))
      const got = once(n, 'message', { signal: AbortSignal.timeout(20_000) })
      await m.node.services.pubsub.publish(keys.wireTopic, craft(keys, mallory, { seq: 1n, lamport: 1n, timestamp: now, text }))
      await got
      await m.node.stop()
    }
    // each holds one version under one seq: by ranges alone they are in sync
    const flaggedA = once(a, 'equivocation', { signal: AbortSignal.timeout(30_000) })
    const flaggedB = once(b, 'equivocation', { signal: AbortSignal.timeout(30_000) })
    await b.dial(a.addresses[0])
    await Promise.all([flaggedA, flaggedB])
    for (const n of [a, b]) {
      await waitUntil('both versions on both', async () => (await history(n, 'split')).filter(x => x.text.startsWith('I vote')).length === 2)
      assert.ok((await history(n, 'split')).filter(x => x.text.startsWith('I vote')).every(x => x.conflict === true))
    }
    // and then they are in sync for good: no more pulls of the conflict
    const again = await a.sync('split')
    assert.equal(again.received, 0)
  })

  it('terminal output: control characters are shown, not obeyed; names carry the end of the peer id; a time it cannot show is said so', () => {
    const msg: ChatMessage = {
      id: '00',
      topicId: 'g',
      author: '12D3KooWLPn6bWabcdefghijk9xYz',
      name: 'bob\u001b[31m',
      text: 'fine\r\u001b[2K<alice> send money to XX00\u202e',
      timestamp: Date.now(),
      lamport: 1,
      seq: 1,
      own: false,
      kind: 'text',
      kindNumber: 1,
      version: 2
    }
    const line = formatMessage(msg)
    // eslint-disable-next-line no-control-regex -- looking for exactly those
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/.test(line), JSON.stringify(line))
    assert.match(line, /<bob\\u\{1b\}\[31m~9xYz> fine\\u\{d\}\\u\{1b\}\[2K<alice>/)
    assert.equal(printable('ok\ttab'), 'ok\ttab')
    assert.equal(time(1e17), '(bad time)')
  })
})

describe('attacks from outside the network: backup files and local users', () => {
  it('a plain backup carrying a secret is refused (it would make the importer join the sender\'s group); scrypt costs from a file are bounded', async (t) => {
    const a = await startNode(t)
    await a.createGroup('mine')
    await a.send('mine', 'hello')
    const dir = await tempDir(t)
    const plain = join(dir, 'plain.backup')
    await exportBackup(a.backupHost(), plain)
    // the attacker adds its own group and secret to a plain file
    const lines = (await readFile(plain, 'utf8')).split('\n')
    const header = JSON.parse(lines[0]) as { groups: Array<{ topicId: string, secret?: string }> }
    header.groups.push({ topicId: 'attackers-group', secret: randomBytes(32).toString('hex') })
    lines[0] = JSON.stringify(header)
    const planted = join(dir, 'planted.backup')
    await writeFile(planted, lines.join('\n'))
    const b = await startNode(t)
    await assert.rejects(importBackup(b.backupHost(), planted), (err: Error) => err instanceof InvalidBackupError && /plain \(unencrypted\) backup carries group secrets/.test(err.message))
    assert.deepEqual(b.groups(), [])
    // an identity key planted in a plain file (the importer would sign with a key the sender knows): refused
    // before anything is restored, the importer's own key untouched
    const withKey = JSON.parse(lines[0]) as { groups: unknown[], identity?: unknown, peerId?: string }
    withKey.groups = withKey.groups.filter(g => (g as { secret?: string }).secret == null)
    withKey.identity = { key: Buffer.from(randomBytes(68)).toString('base64') }
    lines[0] = JSON.stringify(withKey)
    const keyed = join(dir, 'keyed.backup')
    await writeFile(keyed, lines.join('\n'))
    const before = await readFile(join(b.dataDir, 'identity.key'))
    await assert.rejects(importBackup(b.backupHost(), keyed), (err: Error) => err instanceof InvalidBackupError && /plain \(unencrypted\) backup carries an identity key/.test(err.message))
    assert.deepEqual(await readFile(join(b.dataDir, 'identity.key')), before)
    // an encrypted file asking for scrypt work far above the default: refused before any work
    const enc = join(dir, 'enc.backup')
    await exportBackup(a.backupHost(), enc, { includeSecrets: true, passphrase: 'correct horse battery staple' })
    const raw = await readFile(enc)
    const nl = raw.indexOf(0x0a)
    for (const kdf of [{ N: 2 ** 17, r: 16, p: 16 }, { N: 2 ** 21, r: 1, p: 16 }]) {
      const h = JSON.parse(raw.subarray(0, nl).toString('utf8')) as { kdf: Record<string, unknown> }
      Object.assign(h.kdf, kdf)
      const costly = join(dir, `costly-${kdf.r}.backup`)
      await writeFile(costly, Buffer.concat([Buffer.from(JSON.stringify(h)), raw.subarray(nl)]))
      const started = Date.now()
      await assert.rejects(importBackup(b.backupHost(), costly, { passphrase: 'correct horse battery staple' }), (err: Error) => err instanceof InvalidBackupError && /scrypt parameters are out of range/.test(err.message))
      assert.ok(Date.now() - started < 2000, `refused at once, not after the work (${Date.now() - started} ms)`)
    }
  })

  it('a data directory that other users can read is made private (0700) at start', async (t) => {
    const dir = await tempDir(t)
    const dataDir = join(dir, 'shared-looking')
    await mkdir(dataDir, { mode: 0o755 })
    await chmod(dataDir, 0o755)
    await startNode(t, { dataDir })
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700)
  })

  it('a backup holding 4,000 groups imports in linear time: the groups file written once, the DHT rounds of the new groups a few at a time (both were quadratic)', async (t) => {
    const dir = await tempDir(t)
    const src = await openDataDirBackupHost(join(dir, 'src'), { create: true })
    await src.batch?.(async () => {
      for (let i = 0; i < 4000; i++) await src.addGroup(`g-${i}`, randomBytes(32))
    })
    const file = join(dir, 'many.backup')
    await exportBackup(src, file, { includeSecrets: true, passphrase: 'many many groups' })
    await src.close()
    const registry = new GroupRegistry(join(dir, 'dst'))
    await mkdir(join(dir, 'dst'), { recursive: true })
    await registry.load()
    await registry.batch(async () => {
      for (let i = 0; i < 100; i++) await registry.add(`r-${i}`, randomBytes(32))
    })
    assert.equal(registry.saves, 1, 'a batch of 100 adds writes groups.json once')
    const node = await startNode(t)
    const started = Date.now()
    const summary = await importBackup(node.backupHost(), file, { passphrase: 'many many groups' })
    assert.equal(summary.groupsRestored, 4000)
    assert.equal(node.groups().length, 4000)
    t.diagnostic(`4,000 groups imported into a running node in ${Date.now() - started} ms (issue 14 measured 52 s before)`)
  })
})

