/**
 * Inbound calls ringing here and not yet handed out, oldest first, and the
 * callers of `next()` waiting for one: a ringing call goes to the oldest
 * waiter, else into the queue. Calls that stopped ringing are skipped.
 */
import { NoSuchCallError, TimeoutError } from '../errors.js'
import type { Call } from './session.js'
import type { AbortOptions } from '@libp2p/interface'

/** Options of waiting for the next incoming call. */
export interface IncomingOptions extends AbortOptions {
  /** ms to wait before a TimeoutError; default: no limit (until a call rings or `signal` aborts) */
  timeout?: number
}

interface Waiter { resolve: (call: Call) => void, reject: (err: Error) => void }

export class IncomingCalls {
  private queue: Call[] = []
  private waiters: Waiter[] = []

  /** A call started ringing here. */
  push (call: Call): void {
    const waiter = this.waiters.shift()
    if (waiter != null) waiter.resolve(call)
    else this.queue.push(call)
  }

  /** Put a call handed out by `next()` back at the head (it could not be answered yet). */
  unshift (call: Call): void {
    this.remove(call)
    if (call.state === 'ringing') this.queue.unshift(call)
  }

  /** A call ended (or was answered by id): forget it. */
  remove (call: Call): void {
    this.queue = this.queue.filter(c => c !== call)
  }

  /** The oldest call still ringing, taken out of the queue; undefined if none. */
  shift (): Call | undefined {
    this.prune()
    return this.queue.shift()
  }

  /** The oldest call still ringing, or the next one to ring. */
  async next (options: IncomingOptions = {}): Promise<Call> {
    const ready = this.shift()
    if (ready != null) return ready
    const { signal, timeout } = options
    signal?.throwIfAborted()
    return new Promise<Call>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const waiter: Waiter = {
        resolve: (call) => { cleanup(); resolve(call) },
        reject: (err) => { cleanup(); reject(err) }
      }
      const onAbort = (): void => { waiter.reject(signal?.reason instanceof Error ? signal.reason : new NoSuchCallError('stopped waiting for a call')) }
      const cleanup = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.waiters = this.waiters.filter(w => w !== waiter)
      }
      if (timeout != null) timer = setTimeout(() => { waiter.reject(new TimeoutError(`no incoming call within ${timeout} ms`)) }, timeout)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** The service stops: every waiter fails with `err`, the queue is emptied. */
  clear (err: Error): void {
    for (const w of [...this.waiters]) w.reject(err)
    this.waiters = []
    this.queue = []
  }

  private prune (): void {
    this.queue = this.queue.filter(c => c.state === 'ringing')
  }
}
