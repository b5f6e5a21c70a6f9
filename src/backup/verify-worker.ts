/** Worker thread of the verification pool (verify-pool.ts): runs verifyRecord on batches. */
import { parentPort } from 'node:worker_threads'
import { verifyRecord } from './verify.js'
import type { GroupKeys } from '../envelope/index.js'
import type { WorkerRequest, WorkerResponse, WorkerResult } from './verify-pool.js'

const groups = new Map<number, GroupKeys>()

parentPort?.on('message', (msg: WorkerRequest) => {
  if (msg.type === 'group') {
    // the keys exactly as the importing thread holds them (Buffers arrive as Uint8Arrays)
    const k = msg.keys
    const buf = (x: GroupKeys): GroupKeys => ({ ...x, macKey: Buffer.from(x.macKey), encKey: Buffer.from(x.encKey) })
    // issue 15: a keyring (later epochs) arrives as a Map of arrays: its keys made Buffers too
    groups.set(msg.slot, { ...buf(k), ...(k.ring != null ? { ring: new Map([...k.ring].map(([e, ks]) => [e, ks.map(buf)])) } : {}) })
    return
  }
  const results = msg.records.map(({ slot, bytes }): WorkerResult => {
    const keys = groups.get(slot)
    if (keys == null) return { ok: false, reason: 'unknown group' }
    const v = verifyRecord(keys, bytes)
    if (!v.ok) return v
    const { id, author, seq, lamport, timestamp } = v.record
    return { ok: true, id, author, seq, lamport, timestamp }
  })
  parentPort?.postMessage({ job: msg.job, results } satisfies WorkerResponse)
})
