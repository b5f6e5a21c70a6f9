import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { getHeapSpaceStatistics } from 'node:v8'
import { reclaimMemory } from '../src/cli/footprint.js'

const youngGeneration = (): number => getHeapSpaceStatistics().find(s => s.space_name === 'new_space')?.space_size ?? 0

describe('footprint after start-up', () => {
  it('one memory-reducing GC shrinks the young generation; no gc() is left to the program', () => {
    // grow the young generation as start-up does: many short-lived objects, some surviving a while
    let keep: unknown[] = []
    for (let i = 0; i < 2_000_000; i++) {
      const o = { i, s: `item ${i}` }
      if (i % 50 === 0) keep.push(o)
      if (keep.length > 20_000) keep = []
    }
    const before = youngGeneration()
    assert.equal(reclaimMemory(), true, 'this runtime offers it')
    const after = youngGeneration()
    assert.ok(after <= before, `young generation ${before} -> ${after} bytes`)
    assert.ok(after <= 2 * 1024 * 1024, `shrunk to at most 2 MiB: ${after} bytes`)
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined')
  })
})
