import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { GroupClocks, Outbox, QUOTE_CHARS, quoteText } from '../src/chat/index.js'

describe('chat node pieces (pure)', () => {
  it('quoteText: one line, at most QUOTE_CHARS characters as people count them', () => {
    assert.equal(quoteText('  hello\n  everyone\t '), 'hello everyone')
    const exact = 'x'.repeat(QUOTE_CHARS)
    assert.equal(quoteText(exact), exact)
    assert.equal(quoteText(exact + 'y'), 'x'.repeat(QUOTE_CHARS - 1) + '…')
    // a family emoji is 11 UTF-16 units and one character: QUOTE_CHARS of them are not cut
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}'
    assert.equal(quoteText(family.repeat(QUOTE_CHARS)), family.repeat(QUOTE_CHARS))
    assert.equal(quoteText(family.repeat(QUOTE_CHARS + 1)), family.repeat(QUOTE_CHARS - 1) + '…')
  })

  it('group clocks: numbers are peeked, not taken, until observed; observe never lowers', () => {
    const clocks = new GroupClocks()
    assert.equal(clocks.has('g'), false)
    assert.deepEqual(clocks.read('g'), { seq: 0n, lamport: 0n })
    clocks.load('g', { seq: 3n, lamport: 10n })
    assert.deepEqual(clocks.peekNext('g', 2), [{ seq: 4n, lamport: 11n }, { seq: 5n, lamport: 12n }])
    // a failed write: nothing observed, the same numbers come again
    assert.deepEqual(clocks.peekNext('g', 1), [{ seq: 4n, lamport: 11n }])
    clocks.observe('g', 12n, true, 5n)
    assert.deepEqual(clocks.read('g'), { seq: 5n, lamport: 12n })
    // another author's message raises the clock, not our seq
    clocks.observe('g', 40n, false, 99n)
    assert.deepEqual(clocks.read('g'), { seq: 5n, lamport: 40n })
    // older readings never lower either
    clocks.observe('g', 1n, true, 1n)
    assert.deepEqual(clocks.read('g'), { seq: 5n, lamport: 40n })
    // read returns a copy
    const r = clocks.read('g')
    r.seq = 1000n
    assert.equal(clocks.read('g').seq, 5n)
    clocks.forget('g')
    assert.equal(clocks.has('g'), false)
  })

  it('outbox: pushes of one turn are one batch, later ones the next, per key, in order', async () => {
    const batches: Array<{ key: string, items: number[] }> = []
    let release: () => void = () => { throw new Error('no batch waiting') }
    const outbox = new Outbox<number, string>({
      maxBatch: 3,
      flush: async (key, items) => {
        batches.push({ key, items })
        if (items.includes(0)) await new Promise<void>(resolve => { release = resolve })
        return items.map(i => `${key}:${i}`)
      }
    })
    const first = [0, 1].map(async i => outbox.push('a', i))
    const other = outbox.push('b', 7)
    await new Promise(resolve => setImmediate(resolve))
    // while the first batch of 'a' is being written, more arrive: they wait for it, and are cut at maxBatch
    const later = [2, 3, 4, 5].map(async i => outbox.push('a', i))
    assert.deepEqual(batches, [{ key: 'a', items: [0, 1] }, { key: 'b', items: [7] }])
    release()
    assert.deepEqual(await Promise.all([...first, ...later]), ['a:0', 'a:1', 'a:2', 'a:3', 'a:4', 'a:5'])
    assert.equal(await other, 'b:7')
    assert.deepEqual(batches.filter(b => b.key === 'a').map(b => b.items), [[0, 1], [2, 3, 4], [5]])
    await outbox.idle()
  })

  /** a few turns of the event loop until `ok` */
  async function waitFor (ok: () => boolean): Promise<void> {
    for (let i = 0; i < 20 && !ok(); i++) await new Promise(resolve => setImmediate(resolve))
    assert.ok(ok())
  }

  it('outbox, depth 2: the next batch is flushed while one is written; items settle in order all the same', async () => {
    const started: number[][] = []
    const gates = new Map<number, () => void>()
    const outbox = new Outbox<number, number>({
      depth: 2,
      flush: async (_key, items) => {
        started.push(items)
        await new Promise<void>(resolve => { gates.set(items[0], resolve) })
        return items.map(i => i * 10)
      }
    })
    const settled: number[] = []
    const first = outbox.push('k', 1).then(r => { settled.push(r); return r })
    await new Promise(resolve => setImmediate(resolve))
    const second = outbox.push('k', 2).then(r => { settled.push(r); return r })
    await new Promise(resolve => setImmediate(resolve))
    const third = outbox.push('k', 3).then(r => { settled.push(r); return r })
    await new Promise(resolve => setImmediate(resolve))
    // two in flight, the third waits for room
    assert.deepEqual(started, [[1], [2]])
    // the second batch's write ends first: it waits for the first to settle, and holds its place until then
    gates.get(2)?.()
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(settled, [])
    assert.deepEqual(started, [[1], [2]])
    gates.get(1)?.()
    await waitFor(() => started.length === 3)
    assert.deepEqual(settled, [10, 20], 'both settled, in order; room again: the third is flushed')
    gates.get(3)?.()
    assert.deepEqual(await Promise.all([first, second, third]), [10, 20, 30])
    assert.deepEqual(settled, [10, 20, 30])
    await outbox.idle()
  })

  it('outbox: a failed batch fails its items only; idle waits for every drain', async () => {
    let calls = 0
    const outbox = new Outbox<string, string>({
      flush: async (_key, items) => {
        calls++
        if (calls === 1) throw new Error('disk full')
        return items
      }
    })
    const failed = outbox.push('k', 'x')
    await assert.rejects(failed, /disk full/)
    assert.equal(await outbox.push('k', 'y'), 'y')
    const pending = outbox.push('k', 'z')
    await outbox.idle()
    assert.equal(await pending, 'z')
    assert.equal(calls, 3)
  })
})
