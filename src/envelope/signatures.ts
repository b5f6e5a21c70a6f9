/**
 * Ed25519 verification on a worker thread, for a node under load (issue 16):
 * the signature check is most of what taking in a message costs (about
 * 120 µs of the 340 µs a message costs ChatNode on the benchmark machine),
 * and on the event loop it is time the network, the store and the API wait
 * for. Verifications handed to `verify` are packed into one buffer per batch
 * (transferred, not copied) and checked in order on one thread; the answers
 * come back in that order.
 *
 * The thread starts when first needed and stops after `idleMs` without work,
 * so an idle node holds no second V8 heap. Nothing waits for it to start
 * (30-40 ms on an idle machine, more on a busy one): until it is online,
 * verifications are made inline. Should it fail (it cannot start,
 * it dies, or it leaves a batch unanswered for 10 s), what it held is
 * verified inline and so is everything after:
 * nothing is lost, only the offload. Callers decide when to offload (ChatNode:
 * when ingests queue up); verifying inline stays verifyEd25519.
 */
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { packBatch } from './signature-batch.js'
import { verifyEd25519 } from './signer.js'
import type { SignatureAnswer, SignatureBatch, SignatureCheck } from './signature-batch.js'

const log = logger('p2p-chat:signatures')

/** a batch the thread has not answered this long after it was sent: the thread is taken as failed */
const ANSWER_TIMEOUT_MS = 10_000

export interface SignatureThreadInit {
  /** a batch goes to the thread once this many wait, else at the next turn of the event loop. Default 256 */
  maxBatch?: number
  /** the thread stops after this long without work (its memory given back), and starts again when needed. Default 30 s */
  idleMs?: number
  /** the worker script; default signature-worker.js beside this module (in the bundle too) */
  workerUrl?: URL
  /** a batch not answered within this many ms fails the thread (its checks are then made inline). Default 10 s */
  answerTimeoutMs?: number
}

interface Job extends SignatureCheck { resolve: (valid: boolean) => void }

export class SignatureThread {
  private readonly maxBatch: number
  private readonly idleMs: number
  private readonly workerUrl: URL
  private worker: Worker | undefined
  /** the thread failed: everything is verified inline from now on */
  private broken = false
  private closed = false
  /** the worker that has come online: once it is this.worker, verifications go to it (before that they are made inline) */
  private online: Worker | undefined
  private queue: Job[] = []
  private readonly inFlight = new Map<number, Job[]>()
  private nextId = 0
  private flushScheduled = false
  private idleTimer: NodeJS.Timeout | undefined
  private readonly answerTimeoutMs: number
  /** while batches are out: fails the thread when the oldest is not answered in time */
  private watchdog: NodeJS.Timeout | undefined
  /** when each batch out was sent */
  private readonly sentAt = new Map<number, number>()
  /** verifications waiting for the thread (queued or on it) */
  private waiting = 0
  /** so far: verified on the thread, batches sent, times the thread started, verified inline after a failure, verified inline while the thread started */
  readonly counts = { offloaded: 0, batches: 0, starts: 0, inline: 0, whileStarting: 0 }

  constructor (init: SignatureThreadInit = {}) {
    this.maxBatch = init.maxBatch ?? 256
    this.idleMs = init.idleMs ?? 30_000
    this.workerUrl = init.workerUrl ?? new URL('./signature-worker.js', import.meta.url)
    this.answerTimeoutMs = init.answerTimeoutMs ?? ANSWER_TIMEOUT_MS
  }

  /** verifications handed over and not answered yet */
  get pending (): number { return this.waiting }

  private get ready (): boolean { return this.worker != null && this.online === this.worker }

  /** is the thread running now */
  get running (): boolean { return this.worker != null }

  /** Verify an Ed25519 signature on the thread; false (never a rejection) for malformed keys or signatures. */
  async verify (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.broken || this.closed) {
      this.counts.inline++
      return verifyEd25519(publicKey, data, signature)
    }
    if (!this.ready) {
      // nothing is on the thread yet (it is not online): checked here, in order, while it starts
      this.start()
      this.counts.whileStarting++
      return verifyEd25519(publicKey, data, signature)
    }
    return new Promise<boolean>(resolve => {
      this.queue.push({ publicKey, data, signature, resolve })
      this.waiting++
      if (this.queue.length >= this.maxBatch) this.flush()
      else if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(this.flush)
      }
    })
  }

  /** Start the thread now; resolves once it is online (or has failed). */
  async warm (): Promise<void> {
    if (this.ready || this.broken || this.closed) return
    const worker = this.start()
    if (worker == null || this.ready) return
    await new Promise<void>(resolve => {
      const done = (): void => { resolve() }
      worker.once('online', done)
      worker.once('error', done)
      worker.once('exit', done)
    })
  }

  /** Stop the thread; what it holds is verified here first. */
  async close (): Promise<void> {
    this.closed = true
    const w = this.worker
    this.worker = undefined
    clearTimeout(this.idleTimer)
    clearTimeout(this.watchdog)
    this.settleInline()
    if (w != null) await w.terminate()
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    while (this.queue.length > 0) {
      const jobs = this.queue.splice(0, this.maxBatch)
      const worker = this.start()
      if (worker == null) {
        this.queue.unshift(...jobs)
        this.settleInline()
        return
      }
      const id = this.nextId++
      const packed = packBatch(jobs)
      this.inFlight.set(id, jobs)
      this.sentAt.set(id, Date.now())
      this.counts.batches++
      worker.postMessage({ id, count: jobs.length, packed } satisfies SignatureBatch, [packed.buffer])
      this.watch()
    }
  }

  /** the watchdog armed for the oldest batch out, or cleared when none is */
  private watch (): void {
    clearTimeout(this.watchdog)
    this.watchdog = undefined
    const oldest = this.sentAt.values().next().value
    if (oldest == null) return
    this.watchdog = setTimeout(() => {
      const w = this.worker
      this.fail(new Error(`the verification thread did not answer for ${this.answerTimeoutMs} ms`))
      if (w != null) void w.terminate()
    }, Math.max(0, oldest + this.answerTimeoutMs - Date.now()))
    this.watchdog.unref()
  }

  private start (): Worker | undefined {
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    if (this.worker != null) return this.worker
    if (this.broken || this.closed) return undefined
    let worker: Worker
    try {
      worker = new Worker(this.workerUrl)
    } catch (err) {
      this.fail(err)
      return undefined
    }
    this.counts.starts++
    log('verification thread started')
    // never what keeps the process alive: close() or the idle timer ends it
    worker.unref()
    worker.once('online', () => {
      if (this.worker !== worker) return
      this.online = worker
      this.armIdle()
    })
    worker.on('message', (answer: SignatureAnswer) => { this.answered(answer) })
    worker.on('error', (err: Error) => { if (this.worker === worker) this.fail(err) })
    worker.on('exit', (code) => { if (this.worker === worker) this.fail(new Error(`the verification thread stopped (exit code ${code})`)) })
    this.worker = worker
    return worker
  }

  /** no verification waiting: the thread stops after idleMs unless work comes */
  private armIdle (): void {
    if (this.waiting !== 0 || this.worker == null || this.closed) return
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(this.stopIdle, this.idleMs)
    this.idleTimer.unref()
  }

  private answered ({ id, valid }: SignatureAnswer): void {
    const jobs = this.inFlight.get(id)
    if (jobs == null) return
    this.inFlight.delete(id)
    this.sentAt.delete(id)
    this.watch()
    this.waiting -= jobs.length
    this.counts.offloaded += jobs.length
    jobs.forEach((j, i) => { j.resolve(valid[i] === 1) })
    this.armIdle()
  }

  private readonly stopIdle = (): void => {
    const w = this.worker
    if (w == null || this.waiting > 0) return
    this.worker = undefined
    log('verification thread idle for %d ms: stopped', this.idleMs)
    void w.terminate()
  }

  private fail (err: unknown): void {
    if (!this.broken) log.error('verification thread failed, verifying on the event loop from now on: %e', err)
    this.broken = true
    this.worker = undefined
    this.settleInline()
  }

  /** verify here, in order, what the thread held or was about to get */
  private settleInline (): void {
    const held = [...[...this.inFlight.keys()].sort((a, b) => a - b).flatMap(id => this.inFlight.get(id) ?? []), ...this.queue]
    this.inFlight.clear()
    this.sentAt.clear()
    clearTimeout(this.watchdog)
    this.queue = []
    this.waiting -= held.length
    this.counts.inline += held.length
    for (const j of held) j.resolve(verifyEd25519(j.publicKey, j.data, j.signature))
  }
}
