import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { AuthorQuota, DEFAULT_QUOTA_BURST, DEFAULT_QUOTA_BYTES, DEFAULT_QUOTA_RATE, authorPeerId } from '../src/chat/index.js'
import { deriveGroupKeys, ed25519Signer, sealInOrder } from '../src/envelope/index.js'
import { collect, meshGroup, startNodes, waitUntil } from './helpers.js'

const G = 'group-a'
const ALICE = 'aa'.repeat(32)
const BOB = 'bb'.repeat(32)
const KIB4 = 4096 + 300 // a 4 KiB text sealed: about the largest envelope

/** takes `n` messages at `now`; how many were admitted */
function takeN (q: AuthorQuota, n: number, now: number, author = ALICE, bytes = 300, group = G, rate = true): number {
  let ok = 0
  for (let i = 0; i < n; i++) if (q.take(group, author, bytes, now, { rate })) ok++
  return ok
}

describe('per-author quota (src/chat/quota.ts)', () => {
  it('defaults: 20 a second, bursts of 500, 64 MiB a day', () => {
    const q = new AuthorQuota()
    assert.equal(q.rate, DEFAULT_QUOTA_RATE)
    assert.equal(q.rate, 20)
    assert.equal(q.burst, DEFAULT_QUOTA_BURST)
    assert.equal(q.burst, 500)
    assert.equal(q.bytes, DEFAULT_QUOTA_BYTES)
    assert.equal(q.bytes, 64 * 1024 * 1024)
    assert.equal(q.windowMs, 86_400_000)
  })

  it('the flood of issue 14 (20,000 messages of 4 KiB in 20 s, live) is cut to the burst plus the rate', () => {
    const q = new AuthorQuota()
    const t0 = 1_700_000_000_000
    let stored = 0
    // 1,000 a second, spread over each millisecond
    for (let i = 0; i < 20_000; i++) if (q.take(G, ALICE, KIB4, t0 + i)) stored++
    // burst 500 + 20/s over the 20 s (the last message comes at 19.999 s)
    assert.ok(stored >= 500 + 19 * 20 && stored <= 500 + 20 * 20, `stored ${stored}`)
    const c = q.counts()
    assert.equal(c.taken, stored)
    assert.equal(c.refusedRate, 20_000 - stored)
    assert.equal(c.refusedStorage, 0)
    assert.equal(c.tracked, 1)
  })

  it('honest use passes whole: a burst of 500 at once, then 20 a second for an hour', () => {
    const q = new AuthorQuota()
    const t0 = 1_000_000
    assert.equal(takeN(q, 500, t0), 500)
    assert.equal(q.take(G, ALICE, 300, t0), false, 'the 501st at once is over the burst')
    let ok = 0
    for (let i = 1; i <= 3600 * 20; i++) if (q.take(G, ALICE, 300, t0 + i * 50)) ok++
    assert.equal(ok, 3600 * 20)
  })

  it('the bucket refills at the rate and never above the burst', () => {
    const q = new AuthorQuota({ rate: 10, burst: 20 })
    assert.equal(takeN(q, 25, 0), 20)
    assert.equal(takeN(q, 10, 500), 5, 'half a second: 5 tokens')
    // a long pause refills to the burst only
    assert.equal(takeN(q, 100, 3_600_000), 20)
  })

  it('authors and groups are counted apart', () => {
    const q = new AuthorQuota({ rate: 1, burst: 3 })
    assert.equal(takeN(q, 5, 0, ALICE), 3)
    assert.equal(takeN(q, 5, 0, BOB), 3, 'Alice\'s flood costs Bob nothing')
    assert.equal(takeN(q, 5, 0, ALICE, 300, 'group-b'), 3, 'nor Alice in another group')
    assert.equal(q.counts().tracked, 3)
  })

  it('storage: bytes per rolling window, for live messages and history alike', () => {
    // 10 KiB a day in 24 hourly slots; no rate limit to speak of
    const q = new AuthorQuota({ rate: 1e6, burst: 1e6, bytes: 10_240, windowMs: 86_400_000, slots: 24 })
    const hour = 3_600_000
    assert.equal(takeN(q, 5, 0, ALICE, 1024), 5) // 5 KiB at hour 0
    assert.equal(takeN(q, 5, 12 * hour, ALICE, 1024, G, false), 5) // 5 KiB at hour 12, history
    assert.equal(q.take(G, ALICE, 1, 12 * hour), false, 'the budget is spent')
    assert.equal(q.take(G, ALICE, 1, 12 * hour, { rate: false }), false, 'history is budgeted too')
    assert.equal(q.counts().refusedStorage, 2)
    // just before a day has passed since hour 0 nothing has left the window
    assert.equal(q.take(G, ALICE, 1, 24 * hour - 1), false)
    // hour 24: the slot of hour 0 rolled out, 5 KiB free again
    assert.equal(takeN(q, 6, 24 * hour, ALICE, 1024), 5)
    // a whole window later everything rolled out
    assert.equal(takeN(q, 11, 60 * hour, ALICE, 1024), 10)
  })

  it('a message larger than the whole budget is never taken; a refused take spends nothing', () => {
    const q = new AuthorQuota({ rate: 1, burst: 1, bytes: 1000 })
    assert.equal(q.take(G, ALICE, 1001, 0), false)
    assert.equal(q.take(G, ALICE, 1000, 0), true, 'the refusal above spent no token and no bytes')
    assert.deepEqual({ ...q.counts(), tracked: 0 }, { taken: 1, refusedRate: 0, refusedStorage: 1, tracked: 0, evicted: 0 })
  })

  it('history (rate: false) is not rate-limited: a catch-up of 10,000 messages at once', () => {
    const q = new AuthorQuota()
    assert.equal(takeN(q, 10_000, 5_000, ALICE, 400, G, false), 10_000)
    // and it does not use the live bucket up
    assert.equal(takeN(q, 500, 5_000), 500)
  })

  it('throttled: an author that went over the rate stays throttled until its bucket could refill', () => {
    const q = new AuthorQuota({ rate: 20, burst: 500 })
    assert.equal(q.throttled(G, ALICE, 0), false, 'never seen')
    assert.equal(takeN(q, 500, 0), 500)
    assert.equal(q.throttled(G, ALICE, 0), false, 'the whole burst, and no more: not throttled')
    assert.equal(q.take(G, ALICE, 300, 0), false)
    assert.equal(q.throttled(G, ALICE, 0), true)
    assert.equal(q.throttled(G, BOB, 0), false, 'per author')
    assert.equal(q.throttled(G, ALICE, 24_999), true, 'burst / rate = 25 s')
    assert.equal(q.throttled(G, ALICE, 25_000), false)
    // what ChatNode does with it: sync's recent messages of a throttled author count against the rate too
    assert.equal(q.take(G, ALICE, 300, 1000, { rate: q.throttled(G, ALICE, 1000) }), true, '20 tokens back after 1 s')
    assert.equal(takeN(q, 100, 1000, ALICE, 300, G, q.throttled(G, ALICE, 1000)), 19)
  })

  it('refund: a duplicate (a replayed old message) does not use up its author\'s quota', () => {
    const q = new AuthorQuota({ rate: 1, burst: 2, bytes: 1000 })
    for (let i = 0; i < 50; i++) {
      assert.equal(q.take(G, ALICE, 400, 10), true)
      q.refund(G, ALICE, 400, 10)
    }
    assert.equal(takeN(q, 3, 10, ALICE, 400), 2, 'the burst and the bytes are whole')
    assert.equal(q.counts().taken, 2)
    // refunding never goes above the burst or below zero bytes
    q.refund(G, ALICE, 400, 10)
    q.refund(G, ALICE, 400, 10)
    q.refund(G, ALICE, 400, 10)
    assert.equal(takeN(q, 5, 10, ALICE, 400), 2)
    q.refund(G, BOB, 400, 10) // unknown pair: nothing happens
    assert.equal(q.counts().tracked, 1)
  })

  it('memory is bounded: the least recently seen pair is forgotten beyond maxAuthors', () => {
    const q = new AuthorQuota({ rate: 1, burst: 1, maxAuthors: 100 })
    for (let i = 0; i < 1000; i++) assert.equal(q.take(G, i.toString(16).padStart(64, '0'), 1, 0), true)
    assert.equal(q.counts().tracked, 100)
    assert.equal(q.counts().evicted, 900)
    // author 999 is still tracked (and spent), author 0 forgotten (full again)
    assert.equal(q.take(G, (999).toString(16).padStart(64, '0'), 1, 0), false)
    assert.equal(q.take(G, '0'.repeat(64), 1, 0), true)
    // use keeps a pair: touch 950 then add 99 new ones; 950 survives, 901 does not
    const a950 = (950).toString(16).padStart(64, '0')
    q.take(G, a950, 1, 0)
    for (let i = 0; i < 99; i++) q.take(G, `n${i}`, 1, 0)
    assert.equal(q.take(G, a950, 1, 0), false, '950 still tracked, still spent')
    assert.equal(q.take(G, (901).toString(16).padStart(64, '0'), 1, 0), true, '901 was forgotten')
    assert.equal(q.counts().tracked, 100)
  })

  it('forget drops a group\'s authors only', () => {
    const q = new AuthorQuota({ rate: 1, burst: 1 })
    q.take('g1', ALICE, 1, 0)
    q.take('g1', BOB, 1, 0)
    q.take('g2', ALICE, 1, 0)
    q.forget('g1')
    assert.equal(q.counts().tracked, 1)
    assert.equal(q.take('g1', ALICE, 1, 0), true)
    assert.equal(q.take('g2', ALICE, 1, 0), false)
  })

  it('a clock going back refills and rolls nothing', () => {
    const q = new AuthorQuota({ rate: 10, burst: 10, bytes: 100, windowMs: 1000, slots: 10 })
    assert.equal(takeN(q, 10, 10_000, ALICE, 10), 10)
    assert.equal(q.take(G, ALICE, 10, 5_000), false)
    assert.equal(q.take(G, ALICE, 1, 9_000, { rate: false }), false, 'the bytes of the window are still counted')
    assert.equal(q.counts().refusedStorage, 1)
  })

  it('retryAfter says when a refused message would pass, and changes nothing', () => {
    const q = new AuthorQuota({ rate: 10, burst: 2, bytes: 1000, windowMs: 10_000, slots: 10 })
    assert.equal(q.retryAfter(G, ALICE, 100, 0), 0, 'an author never seen: now')
    assert.equal(takeN(q, 2, 0, ALICE, 100), 2)
    assert.equal(q.retryAfter(G, ALICE, 100, 0), 100, 'one token at 10 a second: 100 ms')
    assert.equal(q.retryAfter(G, ALICE, 100, 50), 50)
    assert.equal(q.retryAfter(G, ALICE, 100, 0, { rate: false }), 0, 'history: only the budget counts')
    assert.equal(q.take(G, ALICE, 100, 99), false)
    assert.equal(q.take(G, ALICE, 100, 100), true, 'and it does pass then')
    // the budget: 300 bytes at t=0..100 (slot 0), 600 more at t=2500 (slot 2): 900 of 1000
    assert.equal(q.take(G, ALICE, 600, 2500, { rate: false }), true)
    assert.equal(q.retryAfter(G, ALICE, 100, 2500, { rate: false }), 0)
    // 300 more does not fit until slot 0 (300 bytes) leaves, when slot 10 begins at t=10,000
    assert.equal(q.retryAfter(G, ALICE, 300, 2500, { rate: false }), 7500)
    // 500 needs slot 2 gone too: at t=12,000
    assert.equal(q.retryAfter(G, ALICE, 500, 2500, { rate: false }), 9500)
    assert.equal(q.retryAfter(G, ALICE, 1001, 2500), Infinity, 'larger than the whole budget')
    assert.equal(q.take(G, ALICE, 300, 9999, { rate: false }), false)
    assert.equal(q.take(G, ALICE, 300, 10_000, { rate: false }), true)
  })

  it('refuses nonsense limits', () => {
    assert.throws(() => new AuthorQuota({ rate: 0 }), RangeError)
    assert.throws(() => new AuthorQuota({ bytes: -1 }), RangeError)
    assert.throws(() => new AuthorQuota({ windowMs: Number.NaN }), RangeError)
    assert.throws(() => new AuthorQuota({ burst: Infinity }), RangeError)
  })
})

describe('per-author quota on real nodes (issue 14, item 9)', () => {
  it('a member flooding valid messages has the burst and the rate stored, the rest ignored and counted; another member is not slowed', async (t) => {
    const [a, b, c] = await startNodes(t, 3)
    // the node.ts hook (ChatNode.ingest, ingestCounts().quota) may not be in yet: then there is nothing to test here
    if (!('quota' in b.ingestCounts())) {
      t.skip('ChatNode.ingest applies no quota yet')
      return
    }
    const { invite } = await a.createGroup('flooded')
    for (const n of [b, c]) await n.joinGroup({ invite })
    await meshGroup([a, b, c], 'flooded')
    const keys = deriveGroupKeys('flooded', Buffer.from(a.secret('flooded'), 'hex'))
    const seen = collect(b)
    // a, gone bad, publishes straight to gossip under an author key of its own: 2,000 valid messages in about a second
    const mallory = ed25519Signer(randomBytes(32))
    const malloryId = authorPeerId(mallory.publicKey)
    const n = 2000
    const started = Date.now()
    let sent = 0
    const honest: Array<Promise<unknown>> = []
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: 100 }, async (_, j) => {
        const m = sealInOrder(keys, mallory, { seq: BigInt(i + j + 1), lamport: BigInt(i + j + 1), timestamp: Date.now(), text: `flood ${i + j} ${'x'.repeat(1000)}`, name: 'mallory' })
        if ((await a.libp2pNode.services.pubsub.publish(keys.wireTopic, m.bytes)).recipients.length > 0) sent++
      }))
      // c writes as it would, meanwhile
      if (i % 400 === 0) honest.push(c.send('flooded', `honest ${i}`))
    }
    await Promise.all(honest)
    const quotaOf = (): number => (b.ingestCounts() as unknown as Record<string, number>).quota
    const fromMallory = (): number => seen.filter(m => m.author === malloryId).length
    await waitUntil('b to have stored or ignored every message of the flood', () => fromMallory() + quotaOf() >= sent, 30_000)
    const elapsed = (Date.now() - started) / 1000
    const stored = fromMallory()
    const ceiling = DEFAULT_QUOTA_BURST + DEFAULT_QUOTA_RATE * elapsed + DEFAULT_QUOTA_RATE
    t.diagnostic(`flood: ${sent} sent in ${elapsed.toFixed(1)} s; stored at b ${stored} (ceiling ${ceiling.toFixed(0)}), ignored as over the quota ${quotaOf()}`)
    assert.ok(stored <= ceiling, `${stored} stored, ceiling ${ceiling}`)
    assert.ok(stored >= DEFAULT_QUOTA_BURST * 0.9, `the burst is stored (${stored})`)
    assert.ok(quotaOf() >= sent - stored, 'every message not stored is counted')
    await waitUntil('c\'s messages at b', () => seen.filter(m => m.author === c.peerId).length === honest.length)
  })
})
