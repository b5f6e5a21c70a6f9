import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pbStream, streamPair } from '@libp2p/utils'
import { deriveGroupKeys, ed25519Signer, open, peek, sealInOrder } from '../src/envelope/index.js'
import { HistoryStore, RangeSet } from '../src/store/index.js'
import { toStorable } from '../src/chat/index.js'
import {
  Admission, Claims, GapDetector, HANDSHAKES_PER_SLOT, Hello, INBOUND_SESSION_BURST, MAX_INBOUND_PER_PEER, SyncAbortedError, SyncScheduler, SyncSessionError,
  initiateSession, respondSession
} from '../src/sync/index.js'
import { tempDir, defer } from './helpers.js'
import type { SessionOptions, SessionReport, SessionResult, SyncProgress, SyncReason, SyncableGroup, Verdict } from '../src/sync/index.js'
import type { GroupKeys, Signer } from '../src/envelope/index.js'
import type { PeerId, Stream } from '@libp2p/interface'
import type { TestContext } from 'node:test'

/**
 * The parts of history sync alone: the scheduler with a fake session
 * runner, admission and gap detection with fake inputs, and whole
 * sessions between an initiator and a responder over an in-memory stream
 * pair with real stores. test/sync.test.ts runs them together on real nodes.
 */

/** a group as the chat node has it: full keys */
type TestGroup = SyncableGroup & { keys: GroupKeys }

async function peerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

function group (topicId: string, secret: Uint8Array = randomBytes(32)): TestGroup {
  return { topicId, keys: deriveGroupKeys(topicId, secret) }
}

function report (peer: PeerId, fields: Partial<SessionReport> = {}): SessionReport {
  return { status: 'synced', received: 0, sent: 0, duplicates: 0, bytesIn: 0, bytesOut: 0, peer: peer.toString(), direction: 'outbound', ms: 0, ...fields }
}

interface Call { peer: PeerId, group: TestGroup, reason: SyncReason, finish: (fields?: Partial<SessionReport>) => void }

/** A stand-in for the service's outbound sessions: each call waits until the test finishes it. */
class FakeSessions {
  readonly calls: Call[] = []
  /** from now on, sessions end as soon as they start */
  autoFinish = false
  private readonly waiters: Array<{ n: number, resolve: () => void }> = []

  readonly session = async (peer: PeerId, g: TestGroup, reason: SyncReason): Promise<SessionReport> => new Promise(resolve => {
    this.calls.push({ peer, group: g, reason, finish: fields => { resolve(report(peer, fields)) } })
    if (this.autoFinish) resolve(report(peer))
    for (const w of [...this.waiters]) {
      if (this.calls.length >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  })

  /** Resolves once `n` sessions have started. */
  async started (n: number): Promise<Call[]> {
    if (this.calls.length < n) await new Promise<void>(resolve => { this.waiters.push({ n, resolve }) })
    return this.calls
  }
}

function scheduler (sessions: FakeSessions, g: TestGroup, members: PeerId[], opts: { maxOutbound?: number, maxProbes?: number, initiates?: Set<string>, penalized?: Set<string>, proven?: Set<string>, backoffMs?: number } = {}): SyncScheduler<TestGroup> {
  const s = new SyncScheduler<TestGroup>({
    auto: true,
    ...(opts.backoffMs != null ? { failureBackoff: { min: opts.backoffMs, max: opts.backoffMs, jitter: 0 } } : {}),
    maxOutbound: opts.maxOutbound ?? 4,
    maxProbes: opts.maxProbes,
    interval: 0,
    deferredDelay: 10,
    // every member proven unless the test says which
    proven: p => opts.proven?.has(p.toString()) ?? true,
    groups: () => [g],
    subscribers: () => members,
    connected: () => true,
    penalized: p => opts.penalized?.has(p.toString()) === true,
    initiates: p => opts.initiates?.has(p.toString()) ?? true,
    session: sessions.session
  })
  s.start()
  return s
}

describe('sync scheduler', () => {
  it('runs at most maxOutbound sessions at once, queues the rest, each pair once', async () => {
    const g = group('sched')
    const peers = await Promise.all([1, 2, 3, 4].map(peerId))
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, peers, { maxOutbound: 2 })
    for (const p of peers) s.schedule(p, g, 'joined')
    s.schedule(peers[2], g, 'gap') // already waiting: not queued twice
    assert.equal(sessions.calls.length, 2)
    assert.equal(s.waiting, 2)
    assert.ok(s.current(peers[0], g) != null)
    assert.equal(s.current(peers[2], g), undefined)
    sessions.calls[0].finish()
    const calls = await sessions.started(3)
    assert.ok(calls[2].peer.equals(peers[2]))
    for (const c of calls) c.finish()
    for (const c of await sessions.started(4)) c.finish()
    await s.idle()
    assert.deepEqual(sessions.calls.map(c => c.peer.toString()), peers.map(p => p.toString()))
    assert.equal(s.waiting, 0)
  })

  it('news during a session brings one more round after it; periodic and subscribed rounds do not', async () => {
    const g = group('rerun')
    const [p] = await Promise.all([peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [p])
    s.schedule(p, g, 'joined')
    s.schedule(p, g, 'periodic')
    s.schedule(p, g, 'subscribed')
    sessions.calls[0].finish()
    await s.idle()
    assert.equal(sessions.calls.length, 1)

    s.schedule(p, g, 'joined')
    s.schedule(p, g, 'gap')
    s.schedule(p, g, 'gap')
    assert.equal(sessions.calls.length, 2)
    sessions.calls[1].finish()
    const calls = await sessions.started(3)
    assert.equal(calls[2].reason, 'rerun')
    calls[2].finish()
    await s.idle()
    assert.equal(sessions.calls.length, 3)
  })

  it('a session that brought news, or failed, is followed by sessions with the other members', async () => {
    const g = group('propagate')
    const [a, b, c] = await Promise.all([peerId(), peerId(), peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [a, b, c])
    s.schedule(a, g, 'gap')
    sessions.calls[0].finish({ received: 5 })
    const calls = await sessions.started(3)
    assert.deepEqual(calls.slice(1).map(x => [x.peer.toString(), x.reason]), [[b.toString(), 'propagate'], [c.toString(), 'propagate']])
    calls[1].finish({ status: 'failed' })
    calls[2].finish()
    // b failed: a and c may hold what b was to send
    const more = await sessions.started(5)
    assert.deepEqual(more.slice(3).map(x => x.peer.toString()).sort(), [a.toString(), c.toString()].sort())
    for (const x of more.slice(3)) x.finish()
    await s.idle()
    assert.equal(sessions.calls.length, 5)
  })

  it('two members that cannot be reached do not pass a failure back and forth without end: a failed pair waits for its backoff, one round kept', async () => {
    const g = group('storm')
    const [a, b] = await Promise.all([peerId(), peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [a, b], { backoffMs: 300 })
    s.schedule(a, g, 'gap')
    sessions.calls[0].finish({ status: 'failed' })
    // a failed: b may hold what a was to send
    const [, toB] = await sessions.started(2)
    assert.ok(toB.peer.equals(b))
    assert.equal(toB.reason, 'propagate')
    toB.finish({ status: 'failed' })
    // b failed: a would be next, but a failed less than 300 ms ago
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(sessions.calls.length, 2, 'a is held by its backoff')
    s.schedule(a, g, 'gap')
    s.schedule(a, g, 'rerun')
    // one round for a once its backoff has passed, not one per reason
    const calls = await sessions.started(3)
    assert.ok(calls[2].peer.equals(a))
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(sessions.calls.length, 3)
    calls[2].finish()
    // a new subscription clears a hold: b at once
    s.schedule(b, g, 'subscribed')
    const [fourth] = (await sessions.started(4)).slice(3)
    assert.ok(fourth.peer.equals(b))
    assert.equal(fourth.reason, 'subscribed')
    fourth.finish()
    await s.idle()
    s.stop()
  })

  it('a busy peer is asked again once the session ends; on demand bypasses the queue', async () => {
    const g = group('busy')
    const [a, b] = await Promise.all([peerId(), peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [a, b], { maxOutbound: 1 })
    s.schedule(a, g, 'joined')
    const demand = s.runOutbound(b, g, 'demand')
    assert.equal(sessions.calls.length, 2, 'on demand starts at once, beyond maxOutbound')
    const joined = s.runOutbound(b, g, 'demand')
    assert.equal(sessions.calls.length, 2, 'a second demand joins the session under way')
    sessions.calls[1].finish({ sent: 3 })
    assert.deepEqual([(await demand).sent, (await joined).sent], [3, 3])
    sessions.calls[0].finish({ status: 'busy' })
    const calls = await sessions.started(3)
    assert.deepEqual([calls[2].peer.toString(), calls[2].reason], [a.toString(), 'rerun'])
    calls[2].finish()
    await s.idle()
  })

  it('one session per pair at a time; when both ends start at once the smaller peer id\'s session goes on', async () => {
    const g = group('inbound')
    const [a, b] = await Promise.all([peerId(), peerId()])
    const sessions = new FakeSessions()
    // this node starts the rounds with a (its id is the smaller), b starts them with this node
    const s = scheduler(sessions, g, [a, b], { initiates: new Set([a.toString()]) })
    const fromA = Promise.resolve(report(a, { direction: 'inbound' }))
    assert.equal(s.beginInbound(a, g, fromA), true)
    assert.equal(s.beginInbound(a, g, fromA), false, 'one inbound session per pair')
    assert.equal(s.current(a, g), fromA)
    s.schedule(a, g, 'gap')
    assert.equal(sessions.calls.length, 0, 'no outbound session while the inbound one runs')
    s.inboundEnded(a, g, await fromA)
    const [withA] = await sessions.started(1)
    assert.equal(withA.reason, 'rerun', 'the news comes after it')
    assert.equal(s.beginInbound(a, g, fromA), false, 'this node\'s outbound session with a goes on')
    s.schedule(b, g, 'joined')
    const fromB = Promise.resolve(report(b, { direction: 'inbound' }))
    assert.equal(s.beginInbound(b, g, fromB), true, 'b\'s inbound session goes on beside this node\'s')
    for (const c of await sessions.started(2)) c.finish()
    s.inboundEnded(b, g, await fromB)
    await s.idle()
    assert.equal(sessions.calls.length, 2)
  })

  it('peers that have not proved membership run apart: they never hold up the members, and get no news', async () => {
    const g = group('probes')
    const [m1, m2, s1, s2, s3] = await Promise.all([peerId(), peerId(), peerId(), peerId(), peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [m1, m2, s1, s2, s3], { maxOutbound: 1, maxProbes: 2, proven: new Set([m1.toString(), m2.toString()]) })
    for (const p of [s1, s2, s3]) s.schedule(p, g, 'subscribed')
    assert.equal(sessions.calls.length, 2, 'two probes at once')
    s.schedule(m1, g, 'subscribed')
    assert.equal(sessions.calls.length, 3, 'the member does not wait for the probes')
    assert.ok(sessions.calls[2].peer.equals(m1))
    sessions.calls[2].finish({ received: 4 })
    // news goes to the other proven member only
    const calls = await sessions.started(4)
    assert.deepEqual([calls[3].peer.toString(), calls[3].reason], [m2.toString(), 'propagate'])
    calls[3].finish()
    // a probe fails: the third probe starts, and the news of the failure goes to m1 and m2, not to the unproven
    sessions.autoFinish = true
    sessions.calls[0].finish({ status: 'failed' })
    sessions.calls[1].finish()
    await s.idle()
    const later = sessions.calls.slice(4).map(c => [c.peer.toString(), c.reason])
    assert.deepEqual(later.filter(([, r]) => r === 'propagate').map(([p]) => p).sort(), [m1.toString(), m2.toString()].sort())
    assert.deepEqual(later.filter(([, r]) => r !== 'propagate'), [[s3.toString(), 'subscribed']])
  })

  it('a session that left seqs to another session\'s claim comes back once the claim has had its time', async () => {
    const g = group('deferred')
    const [a] = await Promise.all([peerId()])
    const sessions = new FakeSessions()
    const s = scheduler(sessions, g, [a])
    s.schedule(a, g, 'joined')
    sessions.calls[0].finish({ deferred: true })
    const calls = await sessions.started(2)
    assert.equal(calls[1].reason, 'rerun')
    calls[1].finish()
    await s.idle()
    assert.equal(sessions.calls.length, 2)
  })

  it('stopped: what waits never starts, and nothing new is queued', async () => {
    const g = group('stop')
    const [a, b, c] = await Promise.all([peerId(), peerId(), peerId()])
    const sessions = new FakeSessions()
    const penalized = new Set([c.toString()])
    const s = scheduler(sessions, g, [a, b, c], { maxOutbound: 1, penalized })
    s.schedule(c, g, 'joined')
    assert.equal(sessions.calls.length, 0, 'a penalised peer is not scheduled')
    s.schedule(a, g, 'joined')
    s.schedule(b, g, 'joined')
    s.stop()
    s.schedule(c, g, 'gap')
    sessions.calls[0].finish()
    await s.idle()
    assert.equal(sessions.calls.length, 1)
  })
})

describe('sync admission', () => {
  it('caps handshakes in all, per peer and per second; a released slot is free again', () => {
    // 2 session slots: 2 × HANDSHAKES_PER_SLOT handshakes
    const admission = new Admission({ maxInbound: 2, penalty: 60_000, sessionTimeout: 60_000 })
    assert.equal(HANDSHAKES_PER_SLOT * 2, 2 * MAX_INBOUND_PER_PEER)
    const slots = Array.from({ length: MAX_INBOUND_PER_PEER }, () => admission.admitHandshake('a'))
    assert.ok(slots.every(x => x != null))
    assert.equal(admission.admitHandshake('a'), undefined, 'per-peer cap')
    const b = Array.from({ length: MAX_INBOUND_PER_PEER }, () => admission.admitHandshake('b'))
    assert.ok(b.every(x => x != null))
    assert.equal(admission.admitHandshake('c'), undefined, 'all handshake slots taken')
    assert.equal(admission.pendingHandshakes, 8)
    b[0]?.release()
    b[0]?.release() // once only
    assert.equal(admission.pendingHandshakes, 7)
    assert.ok(admission.admitHandshake('c') != null)
    // refusals for caps spend no rate: a, b and c each spent only what they were admitted for
    assert.equal(admission.inboundRate.refused, 0)
  })

  it('session slots are apart from handshakes: pending handshakes never take one', () => {
    const admission = new Admission({ maxInbound: 2, penalty: 60_000, sessionTimeout: 60_000 })
    // strangers fill every handshake slot
    for (const p of ['x', 'y']) for (let i = 0; i < MAX_INBOUND_PER_PEER; i++) assert.ok(admission.admitHandshake(p) != null)
    assert.equal(admission.inbound, 0)
    // members that proved themselves (over handshakes taken before) still get both session slots
    const s1 = admission.admitSession('m1')
    const s2 = admission.admitSession('m2')
    assert.ok(s1 != null && s2 != null)
    assert.equal(admission.admitSession('m3'), undefined, 'all session slots taken')
    s1.release()
    assert.ok(admission.admitSession('m3') != null)
    const wide = new Admission({ maxInbound: 16, penalty: 60_000, sessionTimeout: 60_000 })
    for (let i = 0; i < MAX_INBOUND_PER_PEER; i++) assert.ok(wide.admitSession('m') != null)
    assert.equal(wide.admitSession('m'), undefined, 'per-peer cap')
  })

  it('remembers who proved membership of which group, until it is cut off', () => {
    const admission = new Admission({ maxInbound: 16, penalty: 60_000, sessionTimeout: 60_000 })
    assert.equal(admission.proven('m', 'g1'), false)
    admission.prove('m', 'g1')
    assert.equal(admission.proven('m', 'g1'), true)
    assert.equal(admission.proven('m', 'g2'), false)
    assert.equal(admission.proven('other', 'g1'), false)
    admission.penalize('m', 'forged record')
    assert.equal(admission.proven('m', 'g1'), false)
  })

  it('a peer starting sessions faster than the rate is refused beyond the burst', () => {
    const admission = new Admission({ maxInbound: 1000, penalty: 60_000, sessionTimeout: 60_000 })
    let admitted = 0
    for (let i = 0; i < INBOUND_SESSION_BURST + 20; i++) {
      const slot = admission.admitHandshake('fast')
      if (slot != null) admitted++
      slot?.release()
    }
    assert.ok(admitted >= INBOUND_SESSION_BURST && admitted < INBOUND_SESSION_BURST + 5, `admitted ${admitted}`)
    assert.ok(admission.inboundRate.refused >= 15)
    assert.ok(admission.admitHandshake('slow') != null, 'other peers are not affected')
  })

  it('a penalised peer is refused, its sessions end at once, others go on; the penalty expires', async () => {
    const penalized: Array<[string, string]> = []
    const admission = new Admission({ maxInbound: 16, penalty: 60_000, sessionTimeout: 60_000, onPenalized: (p, r) => penalized.push([p, r]) })
    const bad = admission.sessionSignal('bad')
    const good = admission.sessionSignal('good')
    const aborted = once(bad.signal, 'abort')
    admission.penalize('bad', 'forged record')
    await aborted
    assert.ok(bad.signal.reason instanceof SyncAbortedError)
    assert.equal(good.signal.aborted, false)
    assert.deepEqual(penalized, [['bad', 'forged record']])
    assert.ok((admission.penalizedUntil('bad') ?? 0) > Date.now())
    assert.equal(admission.admitHandshake('bad'), undefined)
    assert.equal(admission.admitSession('bad'), undefined)
    assert.ok(admission.admitHandshake('good') != null)
    bad.done()
    good.done()

    const brief = new Admission({ maxInbound: 16, penalty: 0, sessionTimeout: 60_000 })
    brief.penalize('bad', 'x')
    assert.equal(brief.penalizedUntil('bad'), undefined)
    assert.ok(brief.admitHandshake('bad') != null)
  })

  it('a session signal ends after the idle deadline (progress restarts it) and with any signal given', async () => {
    const admission = new Admission({ maxInbound: 16, penalty: 60_000, sessionTimeout: 80 })
    const timed = admission.sessionSignal('p')
    // progress every 40 ms for 240 ms: three times the deadline, never idle for 80 ms
    for (let i = 0; i < 6; i++) {
      await new Promise(resolve => setTimeout(resolve, 40))
      assert.equal(timed.signal.aborted, false, `aborted after ${(i + 1) * 40} ms although it made progress`)
      timed.touch()
    }
    await once(timed.signal, 'abort')
    assert.equal((timed.signal.reason as Error).name, 'SyncAbortedError')
    assert.match((timed.signal.reason as Error).message, /no progress for 80 ms/)
    timed.done()
    const caller = new AbortController()
    const withCaller = new Admission({ maxInbound: 16, penalty: 60_000, sessionTimeout: 60_000 }).sessionSignal('p', [undefined, caller.signal])
    caller.abort(new Error('client gone'))
    assert.equal((withCaller.signal.reason as Error).message, 'client gone')
    withCaller.done()
  })
})

describe('sync claims', () => {
  it('a claim keeps others away for `hold` ms, and is released by seq', () => {
    const claims = new Claims(50)
    claims.add('g', 'aa', RangeSet.fromFlat([1n, 10n]), 1000)
    claims.add('g', 'aa', RangeSet.fromFlat([20n, 30n]), 1040)
    assert.deepEqual(claims.get('g', 'aa', 1010)?.toFlat(), [1n, 10n, 20n, 30n])
    assert.deepEqual(claims.get('g', 'aa', 1060)?.toFlat(), [20n, 30n], 'the first has had its time')
    assert.equal(claims.get('g', 'aa', 1100), undefined)
    assert.equal(claims.get('g', 'bb', 1010), undefined)
    claims.release('g', new Map([['aa', RangeSet.fromFlat([1n, 25n])]]))
    assert.deepEqual(claims.get('g', 'aa', 1050)?.toFlat(), [26n, 30n])
    claims.remove('g', 'aa', RangeSet.fromFlat([26n, 30n]))
    assert.equal(claims.get('g', 'aa', 1050), undefined)
  })
})

describe('sync gap detection', () => {
  const g = group('gaps')
  const signer = ed25519Signer(randomBytes(32))
  const author = Buffer.from(signer.publicKey).toString('hex')
  const envelope = (seq: bigint): Uint8Array => sealInOrder(g.keys, signer, { seq, lamport: seq, timestamp: Date.now(), text: `m${seq}`, name: 'x' }).bytes

  /** A store whose holdsPrefix answers each call with the next of `answers` (the last one repeats). */
  function detector (answers: Array<bigint[]>, gapDelay = 20): { gaps: GapDetector<TestGroup>, found: Array<[PeerId, TestGroup]>, lookups: () => number } {
    let calls = 0
    const found: Array<[PeerId, TestGroup]> = []
    const gaps = new GapDetector<TestGroup>({
      recordKey,
      store: {
        holdsPrefix: async (_groupId, who, n) => {
          const flat = answers[Math.min(calls++, answers.length - 1)]
          return who === author && flat.length > 0 && RangeSet.fromFlat(flat).coversPrefix(n)
        }
      },
      byWireTopic: topic => topic === g.keys.wireTopic ? g : undefined,
      gapDelay,
      onGap: (peer, group) => found.push([peer, group])
    })
    gaps.start()
    return { gaps, found, lookups: () => calls }
  }

  it('a message whose predecessors are missing, still after the delay, is a gap reported for its relay', async () => {
    const from = await peerId()
    const { gaps, found, lookups } = detector([[1n, 1n]])
    assert.equal(await gaps.observe(g.keys.wireTopic, envelope(5n), from), true)
    assert.equal(found.length, 1)
    assert.ok(found[0][0].equals(from))
    assert.equal(found[0][1], g)
    assert.equal(lookups(), 2, 'checked twice: at once and after the delay')
  })

  it('no gap: the first message, predecessors held, predecessors arriving within the delay, not a group\'s, not an envelope', async () => {
    const from = await peerId()
    const held = detector([[1n, 4n]])
    assert.equal(await held.gaps.observe(g.keys.wireTopic, envelope(1n), from), false)
    assert.equal(held.lookups(), 0, 'seq 1 has no predecessors: no lookup')
    assert.equal(await held.gaps.observe(g.keys.wireTopic, envelope(5n), from), false)
    const arriving = detector([[1n, 2n], [1n, 4n]])
    assert.equal(await arriving.gaps.observe(g.keys.wireTopic, envelope(5n), from), false)
    assert.equal(arriving.lookups(), 2)
    const other = detector([[]])
    assert.equal(await other.gaps.observe('some/other/topic', envelope(5n), from), false)
    // a truncated field tag: no protobuf decoder takes it
    assert.equal(await other.gaps.observe(g.keys.wireTopic, Uint8Array.from([0xff, 0xff, 0xff]), from), false)
    for (const d of [held, arriving, other]) assert.equal(d.found.length, 0)
  })

  it('stopped or aborted during the delay: no gap reported', async () => {
    const from = await peerId()
    const { gaps, found } = detector([[]], 60_000)
    const pending = gaps.observe(g.keys.wireTopic, envelope(3n), from)
    // let the first lookup happen, then stop while the re-check waits
    await new Promise(resolve => setImmediate(resolve))
    gaps.stop()
    assert.equal(await pending, false)
    assert.equal(found.length, 0)
    assert.equal(await gaps.observe(g.keys.wireTopic, envelope(3n), from), false)

    // the same with the caller's signal
    const running = detector([[]], 60_000)
    const caller = new AbortController()
    const aborted = running.gaps.observe(g.keys.wireTopic, envelope(3n), from, { signal: caller.signal })
    await new Promise(resolve => setImmediate(resolve))
    caller.abort()
    assert.equal(await aborted, false)
    assert.equal(running.found.length, 0)
    running.gaps.stop()
  })
})

// ---- whole sessions over a stream pair ---------------------------------------

interface Member {
  id: PeerId
  store: HistoryStore
  accepted: number
}

async function member (t: TestContext, name: string): Promise<Member> {
  const dir = await tempDir(t, `p2p-chat-sync-${name}-`)
  const store = new HistoryStore(join(dir, 'history'))
  await store.open()
  defer(t, async () => { await store.close() })
  return { id: await peerId(), store, accepted: 0 }
}

/** `n` messages of one author, seqs `from`..`from + n - 1`, stored at each of `members`. */
async function write (g: TestGroup, signer: Signer, from: number, n: number, ...members: Member[]): Promise<void> {
  const msgs = Array.from({ length: n }, (_, i) => toStorable(sealInOrder(g.keys, signer, { seq: BigInt(from + i), lamport: BigInt(from + i), timestamp: Date.now(), text: `m${from + i}`, name: 'x' })))
  for (const m of members) await m.store.appendMany(g.keys.groupId, msgs)
}

/** ChatNode's recordKey: author and seq, unverified */
function recordKey (g: TestGroup, bytes: Uint8Array): { author: string, seq: bigint } | undefined {
  const p = peek(g.keys, bytes)
  return p.ok ? { author: Buffer.from(p.message.envelope.author).toString('hex'), seq: p.message.envelope.seq } : undefined
}

/** ChatNode.ingest in small: verify, store, count */
function ingestInto (m: Member): (g: TestGroup, bytes: Uint8Array) => Promise<Verdict> {
  return async (g, bytes) => {
    const opened = open(g.keys, bytes)
    if (!opened.ok) return 'reject'
    if (!await m.store.append(g.keys.groupId, toStorable(opened.message))) return 'ignore'
    m.accepted++
    return 'accept'
  }
}

function sessionOptions (stream: Stream, local: Member, remote: Member, extra: Partial<SessionOptions<TestGroup>> = {}): SessionOptions<TestGroup> {
  return { stream, local: local.id, remote: remote.id, store: local.store, ingest: ingestInto(local), recordKey, signal: AbortSignal.timeout(30_000), readTimeout: 5_000, ...extra }
}

async function heldBy (m: Member, g: TestGroup): Promise<Record<string, bigint[]>> {
  const index = await m.store.seqIndex(g.keys.groupId)
  return Object.fromEntries([...index].map(([author, set]) => [author, set.toFlat()]))
}

/** One session between `a` (initiating) and `b` over a fresh stream pair; b knows `groups`. */
async function session (a: Member, b: Member, g: TestGroup, opts: { groups?: TestGroup[], admit?: boolean, a?: Partial<SessionOptions<TestGroup>>, b?: Partial<SessionOptions<TestGroup>> } = {}): Promise<[SessionResult, SessionResult & { group?: TestGroup }]> {
  const [outbound, inbound] = await streamPair()
  const responder = respondSession<TestGroup>({
    lookup: match => (opts.groups ?? [g]).find(x => match(x.keys.macKey)),
    admit: () => opts.admit ?? true
  }, sessionOptions(inbound, b, a, opts.b))
  const initiator = initiateSession(g, sessionOptions(outbound, a, b, opts.a))
  const results = await Promise.all([initiator, responder])
  await Promise.all([outbound.close(), inbound.close()])
  return results
}

describe('sync session over a stream pair', () => {
  it('moves what each end lacks, in batches, both directions; a second session is in sync', async (t) => {
    const g = group('pair')
    const [a, b] = await Promise.all([member(t, 'a'), member(t, 'b')])
    const alice = ed25519Signer(randomBytes(32))
    const bob = ed25519Signer(randomBytes(32))
    await write(g, alice, 1, 20, a, b)
    await write(g, alice, 21, 30, a)
    await write(g, bob, 1, 300, b)
    const progress: SyncProgress[] = []
    const [ra, rb] = await session(a, b, g, { a: { batchRecords: 64, onProgress: p => progress.push(p) } })
    assert.deepEqual({ status: ra.status, received: ra.received, sent: ra.sent, duplicates: ra.duplicates }, { status: 'synced', received: 300, sent: 30, duplicates: 0 })
    assert.deepEqual({ status: rb.status, received: rb.received, sent: rb.sent }, { status: 'synced', received: 30, sent: 300 })
    assert.equal(rb.group, g)
    assert.deepEqual(await heldBy(a, g), await heldBy(b, g))
    assert.ok(ra.bytesIn > 0 && ra.bytesOut > 0)
    // 300 in batches of at most 64: at least five reports of growing counts, the last complete
    assert.ok(progress.length >= 6, `progress reports: ${progress.length}`)
    assert.ok(progress.every(p => p.expected === 300 && p.toSend === 30 && p.peer === b.id.toString()))
    assert.deepEqual(progress.map(p => p.received), progress.map(p => p.received).sort((x, y) => x - y))
    assert.equal(progress.at(-1)?.received, 300)

    const [again, againB] = await session(a, b, g)
    assert.equal(again.status, 'in-sync')
    assert.equal(againB.status, 'in-sync')
    assert.ok(again.bytesIn + again.bytesOut < 512, `in-sync round: ${again.bytesIn + again.bytesOut} bytes`)
  })

  it('a responder not in the group answers unknown; one that cannot admit it now answers busy', async (t) => {
    const g = group('pair-unknown')
    const [a, b] = await Promise.all([member(t, 'a'), member(t, 'b')])
    await write(g, ed25519Signer(randomBytes(32)), 1, 5, b)
    const [unknown, unknownB] = await session(a, b, g, { groups: [group('pair-unknown')] }) // same topic id, other secret
    assert.equal(unknown.status, 'unknown')
    assert.equal(unknownB.status, 'unknown')
    assert.equal(unknownB.group, undefined)
    const [busy, busyB] = await session(a, b, g, { admit: false })
    assert.equal(busy.status, 'busy')
    assert.equal(busyB.status, 'busy')
    assert.equal(a.accepted, 0)
  })

  it('two sessions fetching the same history at once with shared claims get each record once', async (t) => {
    const g = group('pair-claims')
    const [a, b, c] = await Promise.all([member(t, 'a'), member(t, 'b'), member(t, 'c')])
    const author = ed25519Signer(randomBytes(32))
    await write(g, author, 1, 400, b, c)
    const claims = new Claims()
    const [[fromB], [fromC]] = await Promise.all([
      session(a, b, g, { a: { claims, batchRecords: 50 } }),
      session(a, c, g, { a: { claims, batchRecords: 50 } })
    ])
    assert.equal(fromB.received + fromC.received, 400)
    assert.equal(fromB.duplicates + fromC.duplicates, 0)
    assert.equal(a.accepted, 400)
    assert.deepEqual(await heldBy(a, g), await heldBy(b, g))
    assert.equal(claims.get(g.keys.groupId, Buffer.from(author.publicKey).toString('hex')), undefined, 'every claim released')
  })

  it('a forged record ends the session with a protocol error and the stats so far; the other end just sees the stream go', async (t) => {
    const g = group('pair-forged')
    const [a, b] = await Promise.all([member(t, 'a'), member(t, 'b')])
    await write(g, ed25519Signer(randomBytes(32)), 1, 10, b)
    const [outbound, inbound] = await streamPair()
    const responder = respondSession<TestGroup>({ lookup: match => match(g.keys.macKey) ? g : undefined, admit: () => true }, sessionOptions(inbound, b, a))
    // a's ingest finds every record forged
    const initiator = initiateSession(g, sessionOptions(outbound, a, b, { ingest: async () => 'reject' }))
    const err = await initiator.then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof SyncSessionError)
    assert.equal(err.code, 'ERR_SYNC_FAILED')
    assert.equal(err.protocolError?.message, 'forged record')
    assert.equal(err.message, 'forged record')
    assert.ok(err.stats.bytesIn > 0)
    outbound.abort(err) // as the service does
    const other = await responder.then(() => undefined, (e: unknown) => e)
    assert.ok(other instanceof SyncSessionError)
    assert.equal(other.protocolError, undefined, `the responder did nothing wrong: ${other.message}`)
    assert.ok(other.cause instanceof SyncAbortedError)
  })

  it('a malformed handshake is the initiator\'s fault; a silent responder times out without blame', async (t) => {
    const g = group('pair-bad')
    const [a, b] = await Promise.all([member(t, 'a'), member(t, 'b')])
    const [outbound, inbound] = await streamPair()
    const responder = respondSession<TestGroup>({ lookup: () => g, admit: () => true }, sessionOptions(inbound, b, a))
    await pbStream(outbound).write({ nonce: Uint8Array.from([1, 2, 3]) }, Hello)
    const err = await responder.then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof SyncSessionError)
    assert.equal(err.protocolError?.message, 'bad nonce')
    inbound.abort(err)

    const [silentOut] = await streamPair() // nobody answers on the other end
    const started = Date.now()
    const timedOut = await initiateSession(g, sessionOptions(silentOut, a, b, { readTimeout: 200 })).then(() => undefined, (e: unknown) => e)
    assert.ok(timedOut instanceof SyncSessionError)
    assert.equal(timedOut.protocolError, undefined)
    assert.ok(timedOut.cause instanceof SyncAbortedError)
    assert.equal(timedOut.message, 'sync peer too slow: timed out')
    assert.ok(Date.now() - started < 5_000)
    silentOut.abort(timedOut)

    // silent from the start and past the handshake deadline: that is stalling, the peer's fault
    const [stalledOut] = await streamPair()
    const stalled = await initiateSession(g, sessionOptions(stalledOut, a, b, { handshakeTimeout: 200 })).then(() => undefined, (e: unknown) => e)
    assert.ok(stalled instanceof SyncSessionError)
    assert.equal(stalled.protocolError?.message, 'stalled before proving membership')
    stalledOut.abort(stalled)
  })

  it('seqs another session claimed are left to it while the claim is fresh, fetched here once it is not', async (t) => {
    const g = group('pair-stale')
    const [a, b] = await Promise.all([member(t, 'a'), member(t, 'b')])
    const author = ed25519Signer(randomBytes(32))
    const hex = Buffer.from(author.publicKey).toString('hex')
    await write(g, author, 1, 40, b)
    const claims = new Claims(60_000)
    // a slow session of a's holds 1..40
    claims.add(g.keys.groupId, hex, RangeSet.fromFlat([1n, 40n]))
    const [left] = await session(a, b, g, { a: { claims } })
    assert.deepEqual({ received: left.received, deferred: left.deferred }, { received: 0, deferred: true })
    // the same claim, older than the hold: it no longer keeps this session away
    const stale = new Claims(60_000)
    stale.add(g.keys.groupId, hex, RangeSet.fromFlat([1n, 40n]), Date.now() - 60_000)
    const [taken] = await session(a, b, g, { a: { claims: stale } })
    assert.equal(taken.received, 40)
    assert.equal(taken.deferred, undefined)
  })
})
