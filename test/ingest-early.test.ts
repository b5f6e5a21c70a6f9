/**
 * Issue 16: a message from the network is announced as soon as it is
 * verified and proven new, with its write in flight; reads wait for that
 * write, so what was announced is read; the gossip answer waits for it too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { meshGroup, nextMessage, startNodes } from './helpers.js'

interface Batch { write: () => Promise<void> }
interface Db { batch: () => Batch }

test('announced with the write in flight: history and get wait for the write and then hold the message', async (t) => {
  const [a, b] = await startNodes(t, 2)
  const { invite } = await a.createGroup('early')
  await b.joinGroup({ invite })
  await meshGroup([a, b], 'early')
  // hold B's next history batch until the gate opens
  const db = (b as unknown as { running: { store: { db: Db } } }).running.store.db
  const batch = db.batch.bind(db)
  let open!: () => void
  const gate = new Promise<void>(resolve => { open = resolve })
  let held = 0
  db.batch = () => {
    const real = batch()
    const write = real.write.bind(real)
    real.write = async () => { held++; await gate; await write() }
    return real
  }
  const arrived = nextMessage(b, m => m.text === 'in flight')
  await a.send('early', 'in flight')
  const shown = await arrived
  assert.ok(held >= 1, 'its write was still held when it was announced')
  let read = false
  const history = b.history('early').then(h => { read = true; return h })
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(read, false, 'history waits for the write in flight')
  open()
  db.batch = batch
  const h = await history
  assert.ok(h.messages.some(m => m.id === shown.id), 'what was announced is read')
})
