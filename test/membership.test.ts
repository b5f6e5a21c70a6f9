import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { meshGroup, startNode, startNodes, tempDir, waitUntil } from './helpers.js'
import { exportBackup, importBackup } from '../src/backup/index.js'
import { peek, KIND_OP } from '../src/envelope/index.js'
import { outerEpoch } from '../src/envelope/seal.js'
import { decodeOp } from '../src/membership/op.js'
import { rotationDue } from '../src/membership/log.js'
import type { MembershipState } from '../src/membership/log.js'
import type { ChatNode } from '../src/index.js'
import type { GroupKeys } from '../src/envelope/index.js'
import type { Op } from '../src/membership/op.js'

/**
 * A creates a group with a log; the others join: with a revocable invite
 * each (the default), or (legacy) with the secret's invite, then A adds
 * each once its key op has arrived.
 */
async function group (t: Parameters<typeof startNodes>[0], n: number, topic: string, opts: { legacy?: boolean } = {}): Promise<ChatNode[]> {
  const nodes = await startNodes(t, n)
  const [a, ...rest] = nodes
  await a.createGroup(topic, { membership: true })
  if (opts.legacy !== true) {
    for (const x of rest) await x.joinGroup({ invite: (await a.createInvite(topic)).invite })
    await meshGroup(nodes, topic)
  } else {
    const invite = a.invite(topic)
    for (const x of rest) await x.joinGroup({ invite })
    await meshGroup(nodes, topic)
    for (const x of rest) {
      await waitUntil(`A to see the key of ${x.peerId}`, async () => { await a.sync(topic); return (a as unknown as { parts: () => { membership: { state: (g: unknown) => { keys: Map<string, string> } }, registry: { require: (t: string) => unknown } } }).parts().membership.state((a as unknown as { parts: () => { registry: { require: (t: string) => unknown } } }).parts().registry.require(topic)).keys.size >= 2 + rest.indexOf(x) })
      await a.addMember(topic, x.peerId)
    }
  }
  await waitUntil('everyone to see every member', () => nodes.every(x => x.membership(topic).members.length === n), 30_000)
  return nodes
}

test('A removes C: A and B go on in a new epoch, C reads nothing new and its sends are refused', async (t) => {
  const topic = 'mem-remove'
  const [a, b, c] = await group(t, 3, topic)
  await a.send(topic, 'before')
  await waitUntil('C to get "before"', async () => (await c.history(topic)).messages.some(m => m.text === 'before'))
  const started = Date.now()
  await a.removeMember(topic, c.peerId)
  await waitUntil('A and B on epoch 1', () => a.sealingEpoch(topic) === 1 && b.sealingEpoch(topic) === 1)
  t.diagnostic(`remove -> A and B on the new epoch: ${Date.now() - started} ms`)
  assert.equal(a.membership(topic).members.length, 2)
  await a.send(topic, 'after from A')
  await waitUntil('B to read "after from A"', async () => (await b.history(topic)).messages.some(m => m.text === 'after from A'))
  await b.send(topic, 'after from B')
  await waitUntil('A to read "after from B"', async () => (await a.history(topic)).messages.some(m => m.text === 'after from B'))
  t.diagnostic('A and B chat on')
  // C: learns of its removal but not the key
  await waitUntil('C to see its removal', () => c.membership(topic).removed.length === 1)
  assert.equal(c.sealingEpoch(topic), 0)
  t.diagnostic('C knows')
  await c.sync(topic).catch(() => undefined)
  const seenByC = (await c.history(topic)).messages.map(m => m.text)
  assert.ok(!seenByC.includes('after from A') && !seenByC.includes('after from B'))
  const rejected: string[] = []
  a.on('rejected', r => { rejected.push(r.reason) })
  await c.send(topic, 'C after removal')
  t.diagnostic('C sent')
  await waitUntil('A to refuse C', () => rejected.some(r => /not a member/.test(r)))
  await a.sync(topic).catch(() => undefined)
  await b.sync(topic).catch(() => undefined)
  for (const x of [a, b]) assert.ok(!(await x.history(topic, { limit: 200 })).messages.some(m => m.text === 'C after removal'))
})

test('B offline during the removal learns the new epoch through sync and reads everything', async (t) => {
  const topic = 'mem-offline'
  const [a, b, c] = await group(t, 3, topic, { legacy: true })
  const bDir = b.dataDir
  await b.stop()
  await a.removeMember(topic, c.peerId)
  await waitUntil('A on epoch 1', () => a.sealingEpoch(topic) === 1)
  await a.send(topic, 'while B was away')
  const b2 = await startNode(t, { dataDir: bDir })
  await b2.dial(a.addresses[0])
  await waitUntil('B to read what it missed', async () => {
    await b2.sync(topic).catch(() => undefined)
    return (await b2.history(topic)).messages.some(m => m.text === 'while B was away')
  }, 30_000)
  assert.equal(b2.sealingEpoch(topic), 1)
  assert.ok(c.membership(topic).members.length >= 2)
})

test('a non-admin cannot remove, add or promote', async (t) => {
  const topic = 'mem-nonadmin'
  const [a, b, c] = await group(t, 3, topic)
  await assert.rejects(b.removeMember(topic, c.peerId), /only an admin/)
  await assert.rejects(b.promote(topic, b.peerId), /only an admin/)
  assert.equal(a.membership(topic).members.filter(m => m.role === 'admin').length, 1)
})

// ---- issue 15, continued: sync admission, partitions, forged and replayed ops, backups ----

interface Internals {
  parts: () => {
    store: { iterate: (gid: string) => AsyncIterable<{ bytes: Uint8Array }> }
    registry: { require: (t: string) => { topicId: string, keys: GroupKeys & { groupId: string }, sealing?: GroupKeys } }
    membership: { append: (g: unknown, op: unknown) => Promise<void>, state: (g: unknown) => MembershipState }
    libp2p: { services: { sync: { on: (e: 'session', f: (r: { peer: string, status: string, sent: number, direction: string }) => void) => void } } }
  }
}
const internals = (n: ChatNode): ReturnType<Internals['parts']> => (n as unknown as Internals).parts()
const rawKey = (peerId: string): string => Buffer.from(peerIdFromString(peerId).publicKey?.raw ?? new Uint8Array(0)).toString('hex')

/** The stored records of a group with their outer epoch and, when an op, its decoded form */
async function records (n: ChatNode, topic: string): Promise<Array<{ bytes: Uint8Array, epoch: number, op?: Op }>> {
  const { store, registry } = internals(n)
  const g = registry.require(topic)
  const out: Array<{ bytes: Uint8Array, epoch: number, op?: Op }> = []
  for await (const r of store.iterate(g.keys.groupId)) {
    const epoch = outerEpoch(r.bytes) ?? -1
    const p = peek(g.keys, r.bytes)
    out.push({ bytes: r.bytes, epoch, ...(p.ok && p.message.envelope.kind === KIND_OP && p.message.body.op != null ? { op: decodeOp(p.message.body.op) } : {}) })
  }
  return out
}

/** Cut every connection between the two sides, and keep them cut (dials both ways refused) until heal() */
function partition (left: ChatNode[], right: ChatNode[]): { heal: () => void } {
  const blocked = new Map<ChatNode, Set<string>>()
  for (const [side, other] of [[left, right], [right, left]] as const) {
    for (const n of side) blocked.set(n, new Set(other.map(o => o.peerId)))
  }
  const restore: Array<() => void> = []
  for (const [n, set] of blocked) {
    const gater = (n as unknown as { parts: () => { libp2p: { components: { connectionGater: Record<string, unknown> } } } }).parts().libp2p.components.connectionGater
    const saved = { ...gater }
    const deny = async (peer: { toString: () => string }): Promise<boolean> => set.has(peer.toString())
    gater.denyDialPeer = deny
    gater.denyInboundEncryptedConnection = deny
    gater.denyOutboundEncryptedConnection = deny
    restore.push(() => {
      for (const k of ['denyDialPeer', 'denyInboundEncryptedConnection', 'denyOutboundEncryptedConnection']) {
        if (saved[k] != null) gater[k] = saved[k]
        else gater[k] = undefined
      }
    })
    const libp2p = (n as unknown as { parts: () => { libp2p: { hangUp: (p: unknown) => Promise<void>, getConnections: () => Array<{ remotePeer: { toString: () => string } }> } } }).parts().libp2p
    for (const c of libp2p.getConnections()) if (set.has(c.remotePeer.toString())) libp2p.hangUp(c.remotePeer).catch(() => undefined)
  }
  return { heal: () => { for (const r of restore) r() } }
}

test('sync admission: C, removed, gets nothing of epoch 1 or later by sync, either way', async (t) => {
  const topic = 'mem-admission'
  const [a, b, c] = await group(t, 3, topic)
  const sessions: Array<{ peer: string, status: string, sent: number, direction: string }> = []
  for (const x of [a, b]) internals(x).libp2p.services.sync.on('session', r => { if (r.peer === c.peerId) sessions.push(r) })
  await a.removeMember(topic, c.peerId)
  await waitUntil('A and B on epoch 1', () => a.sealingEpoch(topic) === 1 && b.sealingEpoch(topic) === 1)
  for (let i = 0; i < 5; i++) await a.send(topic, `epoch 1 #${i}`)
  await waitUntil('B to read epoch 1', async () => (await b.history(topic)).messages.filter(m => m.text.startsWith('epoch 1')).length === 5)
  await waitUntil('C to see its removal', () => c.membership(topic).removed.length === 1)
  sessions.length = 0
  // C asks (A and B answer as for a group they are not in); A and B ask C (refused before a stream opens)
  const summary = await c.sync(topic).catch(() => undefined)
  await a.sync(topic)
  await b.sync(topic)
  t.diagnostic(`C's sync: ${JSON.stringify(summary)}; sessions with C: ${JSON.stringify(sessions)}`)
  assert.ok(sessions.length >= 2, 'sessions with C were tried')
  for (const s of sessions) {
    assert.equal(s.status === 'synced' || s.status === 'in-sync', false, `no session with C runs (${s.direction}: ${s.status})`)
    assert.equal(s.sent, 0)
  }
  assert.equal(summary?.received ?? 0, 0)
  const held = await records(c, topic)
  assert.equal(held.filter(r => r.epoch >= 1).length, 0, 'C holds no record of epoch 1 or later')
  // A and B still sync with each other
  const ab = await a.sync(topic)
  assert.ok(ab.peers >= 1)
})

test('partition: two admins remove different members apart; after healing one membership, one epoch, nothing lost', async (t) => {
  const topic = 'mem-partition'
  const nodes = await group(t, 5, topic)
  const [a, b, c, d, e] = nodes
  await a.promote(topic, b.peerId)
  await waitUntil('everyone to see B an admin', () => nodes.every(x => x.membership(topic).members.filter(m => m.role === 'admin').length === 2))
  const { heal } = partition([a, c, e], [b, d])
  await waitUntil('the sides apart', () => a.groupPeers(topic).length === 2 && b.groupPeers(topic).length === 1, 30_000)
  // each side: its admin removes a member of the other side, then both sides chat
  await a.removeMember(topic, d.peerId)
  await b.removeMember(topic, c.peerId)
  await waitUntil('each admin on a new epoch', () => a.sealingEpoch(topic) >= 1 && b.sealingEpoch(topic) >= 1, 30_000)
  const sent: string[] = []
  for (let i = 0; i < 3; i++) {
    sent.push((await a.send(topic, `left side #${i}`)).text, (await e.send(topic, `left side E #${i}`)).text, (await b.send(topic, `right side #${i}`)).text)
  }
  heal()
  for (const [x, y] of [[a, b], [e, b]] as const) await x.dial(y.addresses[0])
  const remaining = [a, b, e]
  // membership, epoch, the rotate op the fold chose and the wire topic sealed to: the same on A, B and E, and no new epoch due
  const key = (x: ChatNode): string => {
    const m = x.membership(topic)
    const g = internals(x).registry.require(topic)
    const st = internals(x).membership.state(g)
    return `${m.epoch}|${st.epochId ?? ''}|${rotationDue(st) ? 'due' : ''}|${g.sealing?.wireTopic ?? ''}|${m.members.map(z => `${z.peerId}:${z.role}`).sort().join(',')}`
  }
  await waitUntil('A, B and E to agree on membership and epoch, and to read everything', async () => {
    for (const x of remaining) await x.sync(topic).catch(() => undefined)
    if (new Set(remaining.map(key)).size !== 1 || key(a).includes('|due|') || a.membership(topic).epoch < 1) return false
    for (const x of remaining) {
      const texts = new Set((await x.history(topic, { limit: 200 })).messages.map(m => m.text))
      if (!sent.every(s => texts.has(s))) return false
    }
    return true
  }, 90_000)
  const m = a.membership(topic)
  t.diagnostic(`after healing: epoch ${m.epoch}, ${m.members.length} members, removed ${m.removed.length}`)
  assert.deepEqual(new Set(m.members.map(x => x.peerId)), new Set(remaining.map(x => x.peerId)))
  assert.equal(m.removed.length, 2)
  // the rotate the fold chose has no box for a removed member (each side's own rotate had one for the member the other side removed)
  const st = internals(a).membership.state(internals(a).registry.require(topic))
  const chosen = st.rotations.find(r => r.id === st.epochId)
  assert.ok(chosen != null)
  assert.deepEqual(new Set(chosen.boxes.map(x => x.member)), new Set(remaining.map(x => rawKey(x.peerId))))
  t.diagnostic(`rotations: ${st.rotations.length} (${st.rotations.filter(r => !r.valid).length} void)`)
  // and they talk on
  await a.send(topic, 'healed')
  await waitUntil('B and E to read "healed"', async () => {
    for (const x of [b, e]) if (!(await x.history(topic)).messages.some(z => z.text === 'healed')) return false
    return true
  })
  for (const x of [c, d]) {
    await x.sync(topic).catch(() => undefined)
    assert.ok(!(await x.history(topic)).messages.some(z => z.text === 'healed'), 'a removed member reads nothing of the merged epoch')
  }
})

test('a forged op (signed by a non-admin) and a replayed op are rejected', async (t) => {
  const topic = 'mem-forged'
  const [a, b, c] = await group(t, 3, topic)
  const rejected: string[] = []
  a.on('rejected', r => { rejected.push(r.reason) })
  // B signs a remove of C with its own key: a valid envelope, not an admin's op
  const bg = internals(b).registry.require(topic)
  await internals(b).membership.append(bg, { type: 'remove', member: rawKey(c.peerId) })
  await internals(b).membership.append(bg, { type: 'promote', member: rawKey(b.peerId) })
  await waitUntil('A to refuse B\'s ops', () => rejected.filter(r => /no admin/.test(r)).length >= 2)
  await a.sync(topic)
  assert.equal(a.membership(topic).members.length, 3)
  assert.equal(a.membership(topic).members.find(m => m.peerId === b.peerId)?.role, 'member')
  assert.equal((await records(a, topic)).filter(r => r.op != null && (r.op.type === 'remove' || r.op.type === 'promote')).length, 0, 'never stored')
  // a genuine remove, C re-added, then the remove replayed: a duplicate, nothing changes
  await a.removeMember(topic, c.peerId)
  await waitUntil('B to see C removed', () => b.membership(topic).removed.length === 1)
  await a.addMember(topic, c.peerId)
  await waitUntil('B to see C back', () => b.membership(topic).members.length === 3)
  const removeOp = (await records(a, topic)).find(r => r.op?.type === 'remove')
  assert.ok(removeOp != null)
  const bgroup = internals(b).registry.require(topic)
  assert.equal(await b.ingest(bgroup as never, removeOp.bytes, a.peerId, 'gossip'), 'ignore')
  assert.equal(b.membership(topic).members.length, 3)
  // replayed into another group (same members, another secret): the MAC does not hold
  await a.createGroup('mem-forged-2', { membership: true })
  const other = internals(a).registry.require('mem-forged-2')
  assert.equal(await a.ingest(other as never, removeOp.bytes, b.peerId, 'gossip'), 'reject')
  assert.ok(rejected.some(r => /mac|epoch/.test(r)))
})

test('backup: a group with several epochs, restored on a fresh node, reads every epoch\'s messages', async (t) => {
  const topic = 'mem-backup'
  const [a, b, c, d] = await group(t, 4, topic)
  await a.send(topic, 'epoch 0 text')
  await a.removeMember(topic, c.peerId)
  await waitUntil('A and B on epoch 1', () => a.sealingEpoch(topic) === 1 && b.sealingEpoch(topic) === 1)
  await b.send(topic, 'epoch 1 text')
  await a.removeMember(topic, d.peerId)
  await waitUntil('A and B on epoch 2', () => a.sealingEpoch(topic) === 2 && b.sealingEpoch(topic) === 2)
  await b.send(topic, 'epoch 2 text')
  await waitUntil('A to read all three', async () => (await a.history(topic)).messages.filter(m => / text$/.test(m.text)).length === 3)
  const dir = await tempDir(t)
  const file = join(dir, 'epochs.backup')
  const exported = await exportBackup(a.backupHost(), file, { includeSecrets: true, passphrase: 'epochs and epochs' })
  t.diagnostic(`exported ${exported.records} records`)
  const fresh = await startNode(t)
  const summary = await importBackup(fresh.backupHost(), file, { passphrase: 'epochs and epochs' })
  assert.equal(summary.rejected, 0)
  assert.equal(summary.imported, exported.records)
  const texts = (await fresh.history(topic)).messages.map(m => m.text)
  for (const s of ['epoch 0 text', 'epoch 1 text', 'epoch 2 text']) assert.ok(texts.includes(s), `${s} readable after restore (${texts.join(', ')})`)
  assert.equal(fresh.membership(topic).epoch, 2)
  // a plain backup never carries them
  const plain = join(dir, 'plain.backup')
  await exportBackup(a.backupHost(), plain)
  assert.ok(!(await readFile(plain, 'utf8')).includes('"epochs"'))
})
