/**
 * Memory that start-up used, given back once the node is up (issue 16, idle
 * RSS). Loading and compiling the node's code grows V8's young generation to
 * its limit (8 MiB a semi-space: bin/p2p-chat.js) and nothing shrinks it
 * again while the node idles: one full GC that reduces memory (V8's "last
 * resort" flavour: it shrinks the young generation and compacts), right
 * after start-up, gives 7-8 MiB back for about 35 ms of the event loop
 * (docs/BENCHMARKS.md, "Idle RSS"). V8 offers that GC to code started with
 * --expose-gc only: the flag is set for this one call through Node's
 * v8.setFlagsFromString, whose effect on a running VM V8 does not promise,
 * so it is guarded: where it does not work, nothing happens.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { logger } from '@libp2p/logger'

const log = logger('p2p-chat:footprint')

type Gc = (options?: { type?: 'major' | 'minor', execution?: 'sync' | 'async', flavor?: 'regular' | 'last-resort' }) => void

/** One memory-reducing full GC now; false when this runtime offers none */
export function reclaimMemory (): boolean {
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as Gc | undefined
    setFlagsFromString('--no-expose-gc')
    if (typeof gc !== 'function') return false
    const started = performance.now()
    const before = process.memoryUsage.rss()
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    log('memory-reducing GC in %d ms: RSS %d -> %d MiB', Math.round(performance.now() - started), Math.round(before / 2 ** 20), Math.round(process.memoryUsage.rss() / 2 ** 20))
    return true
  } catch (err) {
    log('no memory-reducing GC here: %e', err)
    return false
  }
}

/** reclaimMemory() once, `delayMs` from now (never what keeps the process alive) */
export function reclaimAfterStart (delayMs = 1000): void {
  setTimeout(() => { reclaimMemory() }, delayMs).unref()
}
