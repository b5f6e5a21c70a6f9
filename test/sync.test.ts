import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { deriveGroupKeys, ed25519Signer, sealInOrder, MAX_ENVELOPE_BYTES } from '../src/envelope/index.js'
import { withBrokenSignature } from './hostile.js'
import { RangeSet } from '../src/store/index.js'
import {
  Auth, AuthReply, Frame, Hello, Summary, SYNC_PROTOCOL, buildSummary, digest, missing, parseSummary, parseWants, proof, syncKey, wanted, wantsToWire
} from '../src/sync/index.js'
import { startNode, startNodes, tempDir } from './helpers.js'
import { count, holdAll, ids, keysOf, meshGroup, rawNode, seesMembers, sendMany, syncOf, waitFor } from './sync-helpers.js'
import type { ChatNode } from '../src/index.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { GroupClocks } from '../src/chat/index.js'
import type { SessionReport } from '../src/sync/index.js'

describe('history sync: ranges and summaries (pure)', () => {
  it('keeps ranges merged and computes differences', () => {
    const s = new RangeSet()
    for (const n of [1n, 2n, 3n, 7n, 5n, 6n, 10n]) s.add(n)
    assert.deepEqual(s.toFlat(), [1n, 3n, 5n, 7n, 10n, 10n])
    assert.equal(s.add(2n), false)
    s.add(4n)
    assert.deepEqual(s.toFlat(), [1n, 7n, 10n, 10n])
    assert.equal(s.count(), 8n)
    assert.ok(s.coversPrefix(7n))
    assert.ok(!s.coversPrefix(8n))
    const other = RangeSet.fromFlat([2n, 3n, 6n, 12n])
    assert.deepEqual(s.minus(other).toFlat(), [1n, 1n, 4n, 5n])
    assert.deepEqual(other.minus(s).toFlat(), [8n, 9n, 11n, 12n])
    assert.deepEqual(other.minus(s, 10n).toFlat(), [8n, 9n])
    assert.ok(s.delete(3n))
    assert.deepEqual(s.toFlat(), [1n, 2n, 4n, 7n, 10n, 10n])
    s.addRange(2n, 11n)
    assert.deepEqual(s.toFlat(), [1n, 11n])
  })

  it('summaries and requests: what is not described is never offered nor served', () => {
    const a = new Map([['aa'.repeat(32), RangeSet.fromFlat([1n, 10n])], ['bb'.repeat(32), RangeSet.fromFlat([1n, 1n, 3n, 3n, 5n, 5n, 7n, 9n])]])
    const b = new Map([['aa'.repeat(32), RangeSet.fromFlat([1n, 4n])], ['cc'.repeat(32), RangeSet.fromFlat([1n, 2n])]])
    const sa = buildSummary(a, { rangesPerAuthor: 2 })
    const sb = buildSummary(b)
    // over the wire and back
    const ha = parseSummary(Summary.decode(Summary.encode(sa.summary)))
    const hb = parseSummary(Summary.decode(Summary.encode(sb.summary)))
    const aGives = missing(ha, hb)
    assert.deepEqual([...aGives.authors].map(([k, v]) => [k.slice(0, 2), v.toFlat()]), [['aa', [5n, 10n]], ['bb', [1n, 1n, 3n, 3n]]])
    assert.deepEqual(missing(sa.holdings, sb.holdings).count, aGives.count)
    const bGives = missing(hb, ha)
    assert.deepEqual([...bGives.authors].map(([k, v]) => [k.slice(0, 2), v.toFlat()]), [['cc', [1n, 2n]]])
    // what b may ask a for, checked against what a described
    const asked = parseWants(wantsToWire(wanted(ha, b).authors), sa.holdings)
    assert.deepEqual([...asked].map(([k, v]) => [k.slice(0, 2), v.toFlat()]), [['aa', [5n, 10n]], ['bb', [1n, 1n, 3n, 3n]]])
    const notOffered = wantsToWire(new Map([['bb'.repeat(32), RangeSet.fromFlat([1n, 2n])]]))
    assert.throws(() => parseWants(notOffered, sa.holdings), { code: 'ERR_SYNC_PROTOCOL' })
    const tooMany = wantsToWire(new Map([['aa'.repeat(32), RangeSet.fromFlat([1n, 5000n])]]))
    assert.throws(() => parseWants(tooMany, { authors: new Map([['aa'.repeat(32), { set: RangeSet.fromFlat([1n, 9999n]) }]]) }), { code: 'ERR_SYNC_PROTOCOL' })
    assert.throws(() => parseSummary({ authors: [{ author: new Uint8Array(32), ranges: [3n, 2n], truncated: false, head: new Uint8Array(0) }], truncated: false }), { code: 'ERR_SYNC_PROTOCOL' })
    assert.throws(() => parseSummary({ authors: [{ author: new Uint8Array(31), ranges: [1n, 2n], truncated: false, head: new Uint8Array(0) }], truncated: false }), { code: 'ERR_SYNC_PROTOCOL' })
  })
})

describe('history sync', () => {
  it('a node offline while two others exchange 1,000 messages catches up when it returns', async (t) => {
    const cDir = await tempDir(t)
    const [a, b] = await startNodes(t, 2)
    let c = await startNode(t, { dataDir: cDir })
    const { invite } = await a.createGroup('offline')
    await b.joinGroup({ invite })
    await c.joinGroup({ invite })
    await meshGroup([a, b, c], 'offline')
    await a.send('offline', 'before')
    await holdAll('c to have the first message', [c], 'offline', 1)
    await c.stop()

    await Promise.all([sendMany(a, 'offline', 500, 'a'), sendMany(b, 'offline', 500, 'b')])
    await holdAll('a and b to converge', [a, b], 'offline', 1001)

    c = await startNode(t, { dataDir: cDir })
    await c.dial(a.addresses[0])
    await c.dial(b.addresses[0])
    await holdAll('c to catch up', [c], 'offline', 1001, 60_000)
    const expected = await ids(a, 'offline')
    assert.deepEqual(await ids(b, 'offline'), expected)
    assert.deepEqual(await ids(c, 'offline'), expected)
  })

  it('partition: {A,B} and {C,D} chat apart, then one link joins them: all four converge', async (t) => {
    const [a, b, c, d] = await startNodes(t, 4)
    await a.createGroup('split')
    const secret = a.secret('split')
    for (const n of [b, c, d]) await n.joinGroup({ topicId: 'split', secret })
    await meshGroup([a, b], 'split')
    await meshGroup([c, d], 'split')
    await Promise.all([sendMany(a, 'split', 40, 'a'), sendMany(b, 'split', 40, 'b'), sendMany(c, 'split', 40, 'c'), sendMany(d, 'split', 40, 'd')])
    await holdAll('each side to agree', [a, b, c, d], 'split', 80)

    await b.dial(c.addresses[0])
    await holdAll('all four to converge', [a, b, c, d], 'split', 160, 30_000)
    const expected = await ids(a, 'split')
    for (const n of [b, c, d]) assert.deepEqual(await ids(n, 'split'), expected)
    // a and d never connected to each other
    assert.equal(a.peers().some(p => p.peerId === d.peerId), false)
  })

  it('a late joiner receives the whole history, and a second round costs a few hundred bytes', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('late')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'late')
    await Promise.all([sendMany(a, 'late', 400, 'a'), sendMany(b, 'late', 400, 'b')])
    await holdAll('a and b to converge', [a, b], 'late', 800)

    const late = await startNode(t)
    const reports: SessionReport[] = []
    syncOf(late).on('session', r => reports.push(r))
    await late.joinGroup({ invite: a.invite('late') })
    await holdAll('the late joiner to receive the history', [late], 'late', 800, 60_000)
    assert.deepEqual(await ids(late, 'late'), await ids(a, 'late'))
    assert.ok(reports.some(r => r.received > 0), 'history came by sync')

    // on demand: nothing left to do, and it is cheap
    await seesMembers(late, 'late', 1)
    const summary = await late.sync('late')
    assert.equal(summary.received, 0)
    assert.equal(summary.failed, 0)
    assert.ok(summary.peers >= 1)
    const perPeer = (summary.bytesIn + summary.bytesOut) / summary.peers
    t.diagnostic(`in-sync round at 800 messages: ${perPeer} bytes per peer`)
    assert.ok(perPeer < 512, `in-sync round too large: ${perPeer}`)
  })

  it('on demand: reports progress and a summary, both directions in one session', async (t) => {
    const [a, b] = await startNodes(t, 2, { sync: { auto: false } })
    const { invite } = await a.createGroup('manual')
    await sendMany(a, 'manual', 600, 'a')
    await b.joinGroup({ invite })
    // both ways: a hears b's subscription over b's stream to it, the stream that carries b's messages
    await Promise.all([seesMembers(b, 'manual', 1), seesMembers(a, 'manual', 1)])
    await sendMany(b, 'manual', 5, 'b') // a is subscribed: gossip carries these
    await holdAll('a to have b\'s messages', [a], 'manual', 605)
    // b lacks a's 600; b had sent its own 5 by gossip
    const progress: Array<{ received: number, expected: number }> = []
    const summary = await b.sync('manual', { onProgress: p => progress.push({ received: p.received, expected: p.expected }) })
    assert.deepEqual({ peers: summary.peers, received: summary.received, sent: summary.sent, failed: summary.failed }, { peers: 1, received: 600, sent: 0, failed: 0 })
    assert.ok(progress.length >= 3, `progress reports: ${progress.length}`)
    assert.ok(progress.every(p => p.expected === 600))
    assert.deepEqual(progress.map(p => p.received), progress.map(p => p.received).sort((x, y) => x - y))
    assert.equal(progress.at(-1)?.received, 600)
    assert.deepEqual(await ids(b, 'manual'), await ids(a, 'manual'))

    // both directions: each holds something the other lacks
    const inner = (n: ChatNode) => (n as unknown as { running: { store: { append: (gid: string, m: unknown) => Promise<boolean> } } }).running
    const keys = keysOf(a, 'manual')
    const extra = (text: string) => {
      const m = sealInOrder(keys, ed25519Signer(randomBytes(32)), { seq: 1n, lamport: 5000n, timestamp: Date.now(), text, name: 'x' })
      return { id: m.id, bytes: m.bytes, author: m.envelope.author, seq: 1n, lamport: 5000n, timestamp: m.envelope.timestamp }
    }
    await inner(a).store.append(keys.groupId, extra('only at a'))
    await inner(b).store.append(keys.groupId, extra('only at b'))
    const both = await b.sync('manual')
    assert.deepEqual({ received: both.received, sent: both.sent }, { received: 1, sent: 1 })
    assert.deepEqual(await ids(b, 'manual'), await ids(a, 'manual'))
  })

  it('a gap in live traffic is filled from the sender', async (t) => {
    const [a, b] = await startNodes(t, 2, { sync: { interval: 0 } })
    const sessionsB: SessionReport[] = []
    syncOf(b).on('session', r => sessionsB.push(r))
    const { invite } = await a.createGroup('gaps')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'gaps')
    // count the gap sessions b starts
    const syncB = b.libp2pNode.services.sync as unknown as { schedule: (peer: unknown, group: unknown, reason: string) => void }
    const schedule = syncB.schedule.bind(syncB)
    let gapSessions = 0
    syncB.schedule = (peer, group, reason) => { if (reason === 'gap') gapSessions++; schedule(peer, group, reason) }
    // and every gap check b makes (each gossip message is checked, and checked again after gapDelay when a predecessor is missing)
    const gapsB = (syncB as unknown as { gaps: { observe: (...args: unknown[]) => Promise<boolean> } }).gaps
    const observe = gapsB.observe.bind(gapsB)
    const checks: Array<Promise<boolean>> = []
    const checked = new EventEmitter()
    gapsB.observe = async (...args) => {
      const check = observe(...args)
      checks.push(check)
      checked.emit('check')
      return check
    }
    // 200 in order at once: no gap session
    await Promise.all(Array.from({ length: 200 }, async (_, i) => a.send('gaps', `in order ${i}`)))
    await a.send('gaps', 'one')
    await holdAll('b to have the first 201', [b], 'gaps', 201)
    await waitFor('b to check the 201 for gaps', [[checked, 'check']], () => checks.length >= 201)
    assert.deepEqual((await Promise.all(checks)).filter(Boolean), [])
    assert.equal(gapSessions, 0)
    // the sessions the connection started are over: what follows can come through a gap session only
    const schedulerB = (syncB as unknown as { scheduler: { current: (peer: unknown, group: unknown) => unknown, waiting: number } }).scheduler
    const groupAtB = (b as unknown as { running: { registry: { require: (t: string) => unknown } } }).running.registry.require('gaps')
    await waitFor('the first sessions to end', [[syncOf(b), 'session']], () =>
      sessionsB.length >= 1 && schedulerB.waiting === 0 && schedulerB.current(a.libp2pNode.peerId, groupAtB) == null)
    // a message a stores but gossip never carries (a drop), then one that is carried
    const inner = (a as unknown as { running: { registry: any, store: any, clocks: GroupClocks, signer: any } }).running
    const group = inner.registry.require('gaps')
    const gid: string = group.keys.groupId
    const [{ seq, lamport }] = inner.clocks.peekNext(gid, 1)
    const dropped = sealInOrder(group.keys, inner.signer, { seq, lamport, timestamp: Date.now(), text: 'dropped', name: a.name })
    await inner.store.append(gid, { id: dropped.id, bytes: dropped.bytes, author: dropped.envelope.author, seq, lamport, timestamp: dropped.envelope.timestamp })
    inner.clocks.observe(gid, lamport, true, seq)
    await a.send('gaps', 'three')
    await holdAll('b to fill the gap', [b], 'gaps', 203)
    assert.deepEqual(await ids(b, 'gaps'), await ids(a, 'gaps'))
    assert.ok(gapSessions >= 1)
    t.diagnostic(`gap sessions at b: 0 for 201 messages in order, ${gapSessions} for one dropped`)
  })

  it('a burst of 3,000 messages at once that gossip partly drops: sync fills the holes, every node ends with every message', async (t) => {
    const BURST = 3000
    // one author sends 3,000 at once: above the per-author quota's burst (500), raised here
    const quota = { burst: 5000 }
    const [a, b, c, d] = await startNodes(t, 4, { quota })
    const { invite } = await a.createGroup('burst')
    for (const n of [b, c, d]) await n.joinGroup({ invite })
    await meshGroup([a, b, c, d], 'burst')
    // gossip at b ignores two messages in three, as an overloaded node does (its per-peer limit while its
    // peers compete, a full queue): only sync can bring them
    const pubsub = b.libp2pNode.services.pubsub
    const wire = keysOf(b, 'burst').wireTopic
    const validate = pubsub.topicValidators.get(wire)
    assert.ok(validate != null)
    let arrivals = 0
    pubsub.topicValidators.set(wire, async (from, msg) => (arrivals++ % 3 === 0 ? validate(from, msg) : TopicValidatorResult.Ignore))
    const bySync = new Map<ChatNode, number>()
    // each message a node stores is announced once: counting announcements is counting the store, cheaply
    const stored = new Map<ChatNode, number>()
    for (const n of [b, c, d]) {
      syncOf(n).on('session', (r: SessionReport) => { bySync.set(n, (bySync.get(n) ?? 0) + r.received) })
      n.on('message', () => { stored.set(n, (stored.get(n) ?? 0) + 1) })
    }
    const sends: Array<Promise<unknown>> = []
    for (let i = 0; i < BURST; i++) sends.push(a.send('burst', `burst-${i}`)) // all at once, none awaited before the next
    await Promise.all(sends)
    await waitFor('every node to hold every message', [b, c, d].map(n => [n, 'message']), () => [b, c, d].every(n => stored.get(n) === BURST), 90_000)
    for (const n of [b, c, d]) assert.equal(await count(n, 'burst'), BURST)
    const expected = await ids(a, 'burst')
    assert.equal(expected.length, BURST)
    for (const n of [b, c, d]) assert.deepEqual(await ids(n, 'burst'), expected)
    const viaSync = [b, c, d].map(n => bySync.get(n) ?? 0)
    t.diagnostic(`burst ${BURST}: records that arrived by sync at b (gossip mostly ignored), c, d: ${viaSync.join(', ')}; lost: 0`)
    assert.ok(viaSync[0] > 0, 'b received part of the burst through sync')
  })

  it('forged, oversized and malformed records from a member are refused, the sender cut off, and the honest peer still syncs', async (t) => {
    const [victim, honest] = await startNodes(t, 2, { sync: { interval: 0 } })
    const { invite } = await honest.createGroup('guarded')
    await sendMany(honest, 'guarded', 50, 'h')
    const keys = keysOf(honest, 'guarded')

    // a genuine record by some author, and versions of it that must not pass
    const author = ed25519Signer(randomBytes(32))
    const genuine = sealInOrder(keys, author, { seq: 1n, lamport: 1n, timestamp: Date.now(), text: 'genuine', name: 'x' })
    const forged = withBrokenSignature(keys, genuine.bytes) // valid MAC, bad signature
    const oversized = new Uint8Array(MAX_ENVELOPE_BYTES + 1)
    oversized.set(genuine.bytes)
    const malformed = randomBytes(300)
    // each hostile peer offers a different author, so that the victim asks each of them
    const attacks: Array<{ author: Uint8Array, records: Uint8Array[] }> = [
      { author: genuine.envelope.author, records: [forged] },
      { author: randomBytes(32), records: [oversized] },
      { author: randomBytes(32), records: [malformed] },
      // a frame far over the limit
      { author: randomBytes(32), records: [new Uint8Array(2 * 1024 * 1024)] }
    ]
    const hostiles: BaseLibp2p[] = []
    for (const { author, records } of attacks) {
      const h = await rawNode(t)
      await h.handle(SYNC_PROTOCOL, async (stream, connection) => {
        const signal = AbortSignal.timeout(10_000)
        const pb = pbStream(stream, { maxDataLength: 4 * 1024 * 1024 })
        const hello = await pb.read(Hello, { signal })
        const nonce = randomBytes(32)
        await pb.write({ nonce: Uint8Array.from(nonce) }, Hello, { signal })
        await pb.read(Auth, { signal })
        const tr = { initiator: connection.remotePeer.toMultihash().bytes, responder: h.peerId.toMultihash().bytes, initiatorNonce: hello.nonce, responderNonce: nonce }
        const summary = { authors: [{ author: Uint8Array.from(author), ranges: [1n, 2n], truncated: false, head: new Uint8Array(0) }], truncated: false, head: new Uint8Array(0) }
        await pb.write({ status: AuthReply.Status.OK, proof: Uint8Array.from(proof(syncKey(keys.macKey), 'responder', tr)), inSync: false, summary }, AuthReply, { signal })
        await pb.read(Frame, { signal }) // the victim's summary
        await pb.write({ kind: Frame.Kind.BATCH, records: records as Array<Uint8Array<ArrayBuffer>>, done: true }, Frame, { signal }).catch(() => { /* the victim resets the stream on what it refuses: expected */ })
      })
      h.services.pubsub.subscribe(keys.wireTopic)
      hostiles.push(h)
    }

    const rejected: string[] = []
    victim.on('rejected', r => rejected.push(r.reason))
    const penalized: string[] = []
    syncOf(victim).on('penalized', p => penalized.push(p.peer))
    await victim.joinGroup({ invite })
    for (const h of hostiles) await h.dial(multiaddr(victim.addresses[0]))
    await seesMembers(victim, 'guarded', hostiles.length + 1)
    const summary = await victim.sync('guarded')
    const reports: SessionReport[] = []
    syncOf(victim).on('session', r => reports.push(r))
    await waitFor('every hostile peer cut off', [[syncOf(victim), 'penalized']], () => hostiles.every(h => penalized.includes(h.peerId.toString()))).catch((err: unknown) => {
      t.diagnostic(`sessions: ${JSON.stringify(reports)}; cut off: ${penalized.join(', ')}`)
      throw err
    })
    await holdAll('the honest history to arrive', [victim], 'guarded', 50)

    const stored = await ids(victim, 'guarded')
    assert.deepEqual(stored, await ids(honest, 'guarded'))
    assert.ok(rejected.includes('bad signature'), `rejections: ${rejected.join(', ')}`)
    for (const h of hostiles) assert.ok(syncOf(victim).penalizedUntil(h.peerId.toString()) != null)
    t.diagnostic(`on-demand sync: ${JSON.stringify(summary)}; rejections: ${rejected.join(', ')}`)
  })

  it('a node that cannot prove the group key learns nothing: the same answer as for an unknown group', async (t) => {
    const a = await startNode(t)
    await a.createGroup('secret-club')
    await sendMany(a, 'secret-club', 20, 'a')
    const keys = keysOf(a, 'secret-club')
    const outsider = await rawNode(t)
    await outsider.dial(multiaddr(a.addresses[0]))

    /** The handshake as an initiator holding `macKey`: the reply and the bytes it took. */
    const ask = async (macKey: Uint8Array | undefined, badProof = false): Promise<{ reply: AuthReply, bytes: number }> => {
      const signal = AbortSignal.timeout(10_000)
      const stream = await outsider.dialProtocol(multiaddr(a.addresses[0]), SYNC_PROTOCOL, { signal })
      let bytes = 0
      stream.addEventListener('message', e => { bytes += e.data.byteLength })
      const pb = pbStream(stream)
      const nonce = randomBytes(32)
      await pb.write({ nonce: Uint8Array.from(nonce) }, Hello, { signal })
      const hello = await pb.read(Hello, { signal })
      const tr = { initiator: outsider.peerId.toMultihash().bytes, responder: a.libp2pNode.peerId.toMultihash().bytes, initiatorNonce: nonce, responderNonce: hello.nonce }
      const key = syncKey(macKey ?? randomBytes(32))
      const empty = buildSummary(new Map()).summary
      await pb.write({ proof: Uint8Array.from(badProof ? randomBytes(7) : proof(key, 'initiator', tr)), digest: Uint8Array.from(digest(key, tr, Summary.encode(empty))) }, Auth, { signal })
      const reply = await pb.read(AuthReply, { signal })
      await stream.close({ signal }).catch(() => { /* the answer is read: how the stream ends does not matter here */ })
      return { reply, bytes }
    }

    const wrongSecret = await ask(deriveGroupKeys('secret-club', randomBytes(32)).macKey)
    const unknownGroup = await ask(undefined)
    const garbage = await ask(undefined, true)
    for (const answer of [wrongSecret, unknownGroup, garbage]) {
      assert.equal(answer.reply.status, AuthReply.Status.UNKNOWN)
      assert.equal(answer.reply.summary, undefined)
      assert.equal(answer.reply.proof.byteLength, 0)
    }
    assert.deepEqual(AuthReply.encode(wrongSecret.reply), AuthReply.encode(unknownGroup.reply))
    assert.deepEqual(AuthReply.encode(wrongSecret.reply), AuthReply.encode(garbage.reply))
    assert.equal(wrongSecret.bytes, unknownGroup.bytes)

    // the same handshake with the real key is answered, with what a holds
    const member = await ask(keys.macKey)
    assert.equal(member.reply.status, AuthReply.Status.OK)
    assert.equal(member.reply.summary?.authors[0].ranges.at(-1), 20n)

    // a chat node with the topic id but the wrong secret gets nothing either
    const wrong = await startNode(t)
    await wrong.joinGroup({ topicId: 'secret-club', secret: randomBytes(32) })
    await wrong.dial(a.addresses[0])
    const summary = await wrong.sync('secret-club')
    assert.equal(summary.received, 0)
    assert.deepEqual(await ids(wrong, 'secret-club'), [])
  })
})
