/**
 * Verification of import batches: inline, or spread over worker threads
 * (verification, an Ed25519 signature check per record, is the whole CPU
 * cost of an import). Either way every record goes through `verifyRecord`;
 * results come back in order.
 */
import { Worker } from 'node:worker_threads'
import { verifyRecord } from './verify.js'
import type { GroupKeys } from '../envelope/index.js'
import type { BackupGroup } from './host.js'
import type { VerifyResult } from './verify.js'

export interface VerifyItem { group: BackupGroup, bytes: Uint8Array }

export interface Verifier {
  /** verify a batch; results in the order of `items` */
  verify: (items: VerifyItem[]) => Promise<VerifyResult[]>
  close: () => Promise<void>
}

/** Verification on the calling thread */
export function inlineVerifier (): Verifier {
  return {
    verify: async (items) => items.map(i => verifyRecord(i.group.keys, i.bytes)),
    close: async () => {} // no threads to stop
  }
}

/** Messages to a verify worker */
export type WorkerRequest =
  | { type: 'group', slot: number, keys: GroupKeys }
  | { type: 'verify', job: number, records: Array<{ slot: number, bytes: Uint8Array }> }

/** What a worker sends back for each record: the fields of a VerifiedRecord but its bytes, or the reason it failed */
export type WorkerResult =
  | { ok: true, id: Uint8Array, author: Uint8Array, seq: bigint, lamport: bigint, timestamp: bigint }
  | { ok: false, reason: string }

export interface WorkerResponse { job: number, results: WorkerResult[] }

interface PoolWorker {
  worker: Worker
  /** group slots this worker was told about */
  known: Set<number>
  busy: number
}

/** A pool of `threads` worker threads running verifyRecord. */
export function createVerifyPool (threads: number): Verifier {
  const url = new URL('./verify-worker.js', import.meta.url)
  const pending = new Map<number, { items: VerifyItem[], resolve: (r: VerifyResult[]) => void, reject: (err: Error) => void }>()
  const slots = new Map<BackupGroup, number>()
  let nextJob = 0
  let failed: Error | undefined
  const fail = (err: Error): void => {
    failed ??= err
    for (const [job, p] of pending) {
      pending.delete(job)
      p.reject(err)
    }
  }
  const workers: PoolWorker[] = Array.from({ length: threads }, () => {
    const w: PoolWorker = { worker: new Worker(url), known: new Set(), busy: 0 }
    w.worker.on('message', (msg: WorkerResponse) => {
      const p = pending.get(msg.job)
      if (p == null) return
      pending.delete(msg.job)
      w.busy--
      p.resolve(msg.results.map((r, i) => r.ok
        ? { ok: true, record: { id: r.id, bytes: p.items[i].bytes, author: r.author, seq: r.seq, lamport: r.lamport, timestamp: r.timestamp } }
        : r))
    })
    w.worker.on('error', (err: Error) => { fail(err) })
    w.worker.on('exit', (code) => { if (code !== 0) fail(new Error(`a backup verification thread stopped (exit code ${code})`)) })
    return w
  })
  return {
    verify: async (items) => {
      if (failed != null) throw failed
      if (items.length === 0) return []
      const w = workers.reduce((a, b) => b.busy < a.busy ? b : a)
      const records = items.map(({ group, bytes }) => {
        let slot = slots.get(group)
        if (slot == null) slots.set(group, slot = slots.size)
        if (!w.known.has(slot)) {
          w.known.add(slot)
          w.worker.postMessage({ type: 'group', slot, keys: group.keys } satisfies WorkerRequest)
        }
        return { slot, bytes }
      })
      const job = nextJob++
      w.busy++
      return new Promise<VerifyResult[]>((resolve, reject) => {
        pending.set(job, { items, resolve, reject })
        w.worker.postMessage({ type: 'verify', job, records } satisfies WorkerRequest)
      })
    },
    close: async () => {
      failed ??= new Error('the verification pool is closed')
      await Promise.all(workers.map(async w => w.worker.terminate()))
    }
  }
}
