import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { createTopicScoreParams, createPeerScoreParams, validatePeerScoreParams, validatePeerScoreThresholds, validateTopicScoreParams } from '@libp2p/gossipsub/score'
import { peerScore, SCORE_PARAMS, SCORE_THRESHOLDS, TOPIC_SCORE_PARAMS } from '../src/libp2p.js'
import { PeerRateLimiter } from '../src/rate-limit.js'
import { ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { CALL_PROTOCOL } from '../src/calls/index.js'
import { encodeMessage as encodeCall } from '../src/calls/protocol.js'
import { Auth, Hello, SYNC_PROTOCOL } from '../src/sync/index.js'
import { collect, meshGroup, startNode, startNodes, waitUntil } from './helpers.js'
import { FORGERY_KINDS, startHostile } from './hostile.js'
import { keysOf, scale, storedCount } from './fault-helpers.js'
import type { ChatNode } from '../src/index.js'
import type { SignatureThread } from '../src/envelope/index.js'
import type { TopicValidatorFn } from '@libp2p/gossipsub'

/** Count, per sending peer, how often a node's validator for a group runs; and RPCs gossipsub drops unread. */
function instrument (node: ChatNode, topicId: string): { validations: Map<string, number>, dropped: Map<string, number> } {
  const pubsub = node.libp2pNode.services.pubsub
  const wire = keysOf(node, topicId).wireTopic
  const inner = pubsub.topicValidators.get(wire) as TopicValidatorFn
  const validations = new Map<string, number>()
  const dropped = new Map<string, number>()
  pubsub.topicValidators.set(wire, async (from, msg) => {
    validations.set(from.toString(), (validations.get(from.toString()) ?? 0) + 1)
    return inner(from, msg)
  })
  // gossipsub asks acceptFrom() before reading an RPC: false means graylisted, dropped unread
  const gs = pubsub as unknown as { acceptFrom: (id: string) => boolean }
  const acceptFrom = gs.acceptFrom.bind(gs)
  gs.acceptFrom = (id: string) => {
    const ok = acceptFrom(id)
    if (!ok) dropped.set(id, (dropped.get(id) ?? 0) + 1)
    return ok
  }
  return { validations, dropped }
}

/** One honest member sending every `every` ms until `stop` resolves; returns the ids it sent. */
async function chatter (node: ChatNode, topicId: string, every: number, stop: Promise<unknown>): Promise<string[]> {
  const ids: string[] = []
  let done = false
  void stop.finally(() => { done = true })
  let i = 0
  while (!done) {
    ids.push((await node.send(topicId, `${node.name} ${i++}`)).id)
    await Promise.race([new Promise(resolve => setTimeout(resolve, every)), stop])
  }
  return ids
}

describe('fault: hostile peers', () => {
  it('score parameters and rate limiter are valid and behave', () => {
    validateTopicScoreParams(createTopicScoreParams(TOPIC_SCORE_PARAMS))
    validatePeerScoreParams(createPeerScoreParams({ ...SCORE_PARAMS, topics: { t: createTopicScoreParams(TOPIC_SCORE_PARAMS) } }))
    validatePeerScoreThresholds(SCORE_THRESHOLDS)
    // about ten invalid messages cross the graylist threshold: one or two do not
    const w = TOPIC_SCORE_PARAMS.invalidMessageDeliveriesWeight! * TOPIC_SCORE_PARAMS.topicWeight!
    assert.ok(2 * 2 * w > SCORE_THRESHOLDS.graylistThreshold)
    assert.ok(10 * 10 * w < SCORE_THRESHOLDS.graylistThreshold)

    const limiter = new PeerRateLimiter({ rate: 10, burst: 5, maxPeers: 3 })
    const t0 = 1_000_000
    let ok = 0
    for (let i = 0; i < 20; i++) if (limiter.take('p', 1, t0)) ok++
    assert.equal(ok, 5)
    assert.equal(limiter.take('p', 1, t0 + 50), false) // half a token
    assert.equal(limiter.take('p', 1, t0 + 100), true) // one token after 100 ms at 10/s
    assert.equal(limiter.take('q', 1, t0), true) // another peer has its own bucket
    for (const p of ['r', 's', 't', 'u']) limiter.take(p, 1, t0 + 10_000)
    assert.ok(limiter.size <= 3, 'bounded memory')
    assert.equal(limiter.refused, 16)

    // work-conserving: over its rate, a peer is let through only while no other peer asks
    const shared = new PeerRateLimiter({ rate: 10, burst: 2, aloneAfterMs: 1000 })
    assert.equal([1, 2, 3, 4].filter(() => shared.take('a', 1, t0)).length, 4, 'alone: never held back')
    assert.equal(shared.alone, 2)
    assert.equal(shared.take('b', 1, t0 + 10), true) // b's own token
    assert.equal(shared.take('a', 1, t0 + 20), false, 'b asked 10 ms ago: a is held to its rate')
    assert.equal(shared.take('b', 1, t0 + 30), true)
    assert.equal(shared.take('b', 1, t0 + 40), false, 'and b to its own, a asked 20 ms ago')
    assert.equal(shared.take('a', 1, t0 + 1030), true, 'b quiet for 1 s: a alone again')
    assert.equal(shared.take('c', 1, t0 + 1040), true)
    assert.equal(shared.take('c', 1, t0 + 1050), true)
    assert.equal(shared.take('c', 1, t0 + 1060), false, 'a asked 30 ms ago')
    assert.equal(shared.refused, 3)
  })

  it('a peer flooding forgeries: honest nodes accept none, keep delivering, and graylist it', async (t) => {
    const [a, b] = await startNodes(t, 2)
    const { invite } = await a.createGroup('fortress')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'fortress')
    const keys = keysOf(a, 'fortress')
    const seenA = collect(a)
    const seenB = collect(b)
    const rejected = { a: 0, b: 0 }
    a.on('rejected', () => { rejected.a++ })
    b.on('rejected', () => { rejected.b++ })
    const genuine: Uint8Array[] = []
    for (let i = 0; i < 5; i++) await a.send('fortress', `genuine ${i}`)
    await waitUntil('the genuine messages at b', () => seenB.length === 5)
    const inner = (a as unknown as { running: { store: { history: (g: string, q: object) => Promise<{ records: Array<{ bytes: Uint8Array }> }> } } }).running
    for (const r of (await inner.store.history(keys.groupId, { limit: 5 })).records) genuine.push(r.bytes)

    const instA = instrument(a, 'fortress')
    const instB = instrument(b, 'fortress')
    const hostile = await startHostile(t, keys)
    await hostile.dial(a.addresses[0])
    await hostile.dial(b.addresses[0])
    const h = hostile.peerId.toString()
    await waitUntil('both members to see the hostile peer subscribed', () => a.groupPeers('fortress').includes(h) && b.groupPeers('fortress').includes(h))
    await waitUntil('the hostile peer to see both members', () => hostile.node.services.pubsub.getSubscribers(keys.wireTopic).length === 2)

    // honest members chat while the flood runs
    const floodMs = scale(3_000, 30_000)
    const flooding = hostile.flood({ ms: floodMs, genuine })
    const [sentA, sentB, flood] = await Promise.all([chatter(a, 'fortress', 100, flooding), chatter(b, 'fortress', 100, flooding), flooding])
    await waitUntil('every honest message at both members', () =>
      sentA.every(id => seenB.some(m => m.id === id)) && sentB.every(id => seenA.some(m => m.id === id)), 30_000)

    const graylist = SCORE_THRESHOLDS.graylistThreshold
    await waitUntil('both members to graylist the hostile peer', () => peerScore(a.libp2pNode, h) < graylist && peerScore(b.libp2pNode, h) < graylist)
    // from now on its RPCs are dropped unread: publish more, and see them dropped, not validated
    const validatedB = instB.validations.get(h) ?? 0
    const droppedB = instB.dropped.get(h) ?? 0
    const more = await hostile.flood({ count: scale(1_000, 10_000), genuine })
    await waitUntil('b to drop the later flood unread', () => (instB.dropped.get(h) ?? 0) - droppedB >= more.sent * 0.9, 30_000)
    const validatedAfter = (instB.validations.get(h) ?? 0) - validatedB

    // nothing forged was accepted, stored or announced
    for (const m of [...seenA, ...seenB]) assert.ok(m.author === a.peerId || m.author === b.peerId, `a message from ${m.author}`)
    assert.equal(await storedCount(a, 'fortress'), 5 + sentA.length + sentB.length)
    assert.equal(await storedCount(b, 'fortress'), 5 + sentA.length + sentB.length)
    assert.equal(validatedAfter, 0, 'a graylisted peer makes the node validate nothing')
    assert.ok(a.started && b.started)
    const forged = flood.sent + more.sent
    t.diagnostic(`honest sent during the flood: ${sentA.length + sentB.length}, delivered: ${sentA.length + sentB.length} (each at the other member); records held: ${await storedCount(a, 'fortress')} = 5 before + the honest ones`)
    t.diagnostic(`forged attempts: ${forged} at ${flood.rate}/s (${FORGERY_KINDS.map(k => `${k} ${flood.perKind[k] + more.perKind[k]}`).join(', ')})`)
    t.diagnostic(`rejected: a ${rejected.a}, b ${rejected.b}; validated from the hostile peer: a ${instA.validations.get(h) ?? 0}, b ${instB.validations.get(h) ?? 0}; dropped unread: a ${instA.dropped.get(h) ?? 0}, b ${instB.dropped.get(h) ?? 0}`)
    t.diagnostic(`hostile score: a ${peerScore(a.libp2pNode, h).toFixed(0)}, b ${peerScore(b.libp2pNode, h).toFixed(0)} (graylist below ${graylist}); validated after graylisting: ${validatedAfter}; accepted forgeries: 0`)
  })

  it('a member flooding valid messages while another member sends is capped per second; the excess is ignored, not processed; alone, it is not held back', async (t) => {
    const rate = 100
    const burst = 500
    // the per-peer validation limit under test, not the per-author quota (test/quota.test.ts)
    const b = await startNode(t, { validationRate: rate, validationBurst: burst, quota: { rate: 1e6, burst: 1e6 } })
    const { invite } = await b.createGroup('capped')
    const keys = keysOf(b, 'capped')
    const hostile = await startHostile(t, keys)
    await hostile.dial(b.addresses[0])
    await waitUntil('b to see the flooder subscribed', () => b.groupPeers('capped').includes(hostile.peerId.toString()))
    await waitUntil('the flooder to see b', () => hostile.node.services.pubsub.getSubscribers(keys.wireTopic).length === 1)
    const limiter = (b as unknown as { running: { subscriptions: { limiter: PeerRateLimiter } } }).running.subscriptions.limiter

    // alone: a member that is b's only busy peer is never held to the rate (the limit shares b among peers that compete)
    const lone = ed25519Signer(randomBytes(32))
    const alone = 3 * burst
    const seenAlone = collect(b)
    for (let i = 0; i < alone; i += 100) {
      await Promise.all(Array.from({ length: 100 }, async (_, j) => {
        const msg = sealInOrder(keys, lone, { seq: BigInt(i + j + 1), lamport: BigInt(i + j + 1), timestamp: Date.now(), text: `alone ${i + j}`, name: 'lone' })
        await hostile.node.services.pubsub.publish(keys.wireTopic, msg.bytes)
      }))
    }
    await waitUntil('b to take in every message of its only busy peer', () => seenAlone.length >= alone, 30_000)
    assert.equal(limiter.refused, 0, 'nothing ignored while it was alone')
    assert.ok(limiter.alone > 0, `let through over its rate: ${limiter.alone}`)
    // ingests queued up: their signatures were checked on the verification thread (with a core to spare for it)
    const signatures = (b as unknown as { running: { signatures: SignatureThread } }).running.signatures
    if (availableParallelism() > 1) assert.ok(signatures.counts.offloaded > 0, 'verified on the thread')
    t.diagnostic(`alone: ${alone} messages (${burst} burst, ${rate}/s) all taken in, ${limiter.alone} of them over the rate; signatures verified on the thread: ${signatures.counts.offloaded} in ${signatures.counts.batches} batches`)

    // another member sends all along: now the flooder is held to its rate, the other member is not hurt
    const c = await startNode(t, { name: 'carol' })
    await c.joinGroup({ invite })
    await meshGroup([b, c], 'capped')
    await new Promise(resolve => setTimeout(resolve, 1100)) // c has been seen since
    let endChatter = (): void => {}
    const honest = chatter(c, 'capped', 50, new Promise<void>(resolve => { endChatter = resolve }))
    await new Promise(resolve => setTimeout(resolve, 200))
    const seen = collect(b)
    const refusedBefore = limiter.refused
    const signer = ed25519Signer(randomBytes(32))
    const n = scale(2_000, 10_000)
    const started = Date.now()
    let sent = 0
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: 100 }, async (_, j) => {
        const msg = sealInOrder(keys, signer, { seq: BigInt(i + j + 1), lamport: BigInt(i + j + 1), timestamp: Date.now(), text: `valid ${i + j}`, name: 'flooder' })
        if ((await hostile.node.services.pubsub.publish(keys.wireTopic, msg.bytes)).recipients.length > 0) sent++
      }))
    }
    const fromFlooder = (): number => seen.filter(m => m.name === 'flooder').length
    await waitUntil('b to have processed or refused every message', () => fromFlooder() + limiter.refused - refusedBefore >= sent, 30_000)
    const elapsed = (Date.now() - started) / 1000
    endChatter()
    const honestIds = await honest
    const ceiling = burst + rate * elapsed + rate // what its bucket refilled to since, refill, slack for timing
    assert.ok(fromFlooder() <= ceiling, `${fromFlooder()} accepted in ${elapsed.toFixed(1)} s, ceiling ${ceiling}`)
    assert.ok(limiter.refused - refusedBefore > 0)
    await waitUntil('b to hold every message of the other member', async () => (await b.history('capped', { limit: 10_000 })).messages.filter(m => honestIds.includes(m.id)).length === honestIds.length, 30_000)
    t.diagnostic(`valid messages flooded while another member sent ${honestIds.length}: ${sent} in ${elapsed.toFixed(1)} s; processed: ${fromFlooder()}; ignored by the per-peer cap (${rate}/s, burst ${burst}): ${limiter.refused - refusedBefore}`)
  })

  it('junk on the sync protocol closes the stream, never the node; sessions per peer are capped', async (t) => {
    const [a, b] = await startNodes(t, 2, { sync: { readTimeout: 1_500, interval: 0 } })
    const { invite } = await a.createGroup('sync-junk')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'sync-junk')
    const keys = keysOf(a, 'sync-junk')
    const victim = b.libp2pNode.peerId
    const hello = Hello.encode({ nonce: Uint8Array.from(randomBytes(32)) })
    const lp = (bytes: Uint8Array): Uint8Array => Uint8Array.from([bytes.byteLength, ...bytes])
    const junk: Array<[string, Uint8Array[], { keepOpen?: boolean }?]> = [
      ['random bytes', [Uint8Array.from(randomBytes(200))]],
      ['an endless varint', [Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]],
      ['a length far over the handshake limit', [Uint8Array.from([0x80, 0x80, 0x40]), new Uint8Array(4096)]],
      ['a truncated hello', [Uint8Array.from([34, 0x0a, 0x20, 1, 2, 3])]],
      ['a hello, then garbage', [lp(hello), Uint8Array.from(randomBytes(100))]],
      ['a hello with a short nonce', [lp(Hello.encode({ nonce: Uint8Array.from([1, 2, 3]) }))]],
      ['a hello, then silence', [lp(hello)], { keepOpen: true }]
    ]
    let closed = 0
    let attempts = 0
    for (const [what, chunks, opts] of junk) {
      // a fresh hostile peer for each: one that broke the protocol is cut off and would only test that
      const hostile = await startHostile(t, keys)
      await hostile.dial(b.addresses[0])
      const r = await hostile.junkStream(victim, SYNC_PROTOCOL, chunks, { ...opts, timeout: 10_000 })
      attempts++
      assert.ok(r.closed, `${what}: ${r.error ?? ''}`)
      if (r.closed) closed++
    }
    // the sessions one peer may start: a valid handshake that fails to prove membership, over and over
    const prober = await startHostile(t, keys)
    await prober.dial(b.addresses[0])
    const badAuth = Auth.encode({ proof: Uint8Array.from(randomBytes(32)), digest: new Uint8Array(0) })
    const tries = 100
    const results = []
    for (let i = 0; i < tries; i++) results.push(await prober.junkStream(victim, SYNC_PROTOCOL, [lp(hello), lp(badAuth)], { timeout: 10_000 }))
    assert.ok(results.every(r => r.closed))
    const capped = (b.libp2pNode.services.sync as unknown as { admission: { inboundRate: PeerRateLimiter } }).admission.inboundRate.refused
    assert.ok(capped >= tries - 64 - 10, `refused by the per-peer cap: ${capped}`)

    // the node still serves history: a late member that reaches only b catches up from it
    for (let i = 0; i < 20; i++) await a.send('sync-junk', `after junk ${i}`)
    await waitUntil('b to hold every message', async () => await storedCount(b, 'sync-junk') === 20)
    const c = await startNode(t)
    await c.joinGroup({ topicId: 'sync-junk', secret: a.secret('sync-junk') })
    await c.dial(b.addresses[0])
    await waitUntil('the late member to catch up from b', async () => await storedCount(c, 'sync-junk') === 20)
    assert.ok(b.started)
    t.diagnostic(`junk sync streams: ${attempts}, closed by the node: ${closed}; handshakes from one peer: ${tries}, reset unread by the per-peer cap: ${capped}; a late member then synced 20 of 20 from the node`)
  })

  it('junk on the call protocol closes the stream, never the node; call attempts per peer are capped', async (t) => {
    const perMinute = 10
    const [a, b] = await startNodes(t, 2, { calls: { callAttemptsPerMinute: perMinute } })
    const { invite } = await a.createGroup('call-junk')
    await b.joinGroup({ invite })
    await meshGroup([a, b], 'call-junk')
    const keys = keysOf(a, 'call-junk')
    const hostile = await startHostile(t, keys)
    await hostile.dial(b.addresses[0])
    await waitUntil('b to count the hostile peer as a member', () => b.isGroupPeer(hostile.peerId))
    const victim = b.libp2pNode.peerId
    const junk: Uint8Array[] = [
      Uint8Array.from(randomBytes(64)),
      Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      Uint8Array.from([0]),
      encodeCall({ frame: { track: 0, seq: 0, captureMs: 1, payload: new Uint8Array(3) } }).subarray(),
      encodeCall({ offer: { callId: new Uint8Array(3), video: false, tracks: [] } }).subarray()
    ]
    const attempts = 30
    const results = []
    for (let i = 0; i < attempts; i++) results.push(await hostile.junkStream(victim, CALL_PROTOCOL, [junk[i % junk.length]], { timeout: 10_000 }))
    assert.ok(results.every(r => r.closed), JSON.stringify(results.filter(r => !r.closed)))
    const calls = (b.calls as unknown as { admission: { attempts: PeerRateLimiter } }).admission.attempts
    assert.ok(calls.refused >= attempts - perMinute - 1, `refused ${calls.refused}`)
    assert.deepEqual(b.calls.list(), [])
    // the node goes on: it chats, and an honest member can still call it
    const seen = collect(a)
    const m = await b.send('call-junk', 'still here')
    await waitUntil('a to receive it', () => seen.some(x => x.id === m.id))
    const [call] = await Promise.all([a.calls.call(b.peerId, { input: 'none', output: 'none' }), b.calls.answer({ input: 'none', output: 'none', timeout: 10_000 })])
    assert.equal(call.state, 'connected')
    await call.hangup()
    t.diagnostic(`junk call streams: ${attempts}, closed: ${results.filter(r => r.closed).length}, reset unread by the per-peer cap (${perMinute}/min): ${calls.refused}; crashes: 0`)
  })
})
