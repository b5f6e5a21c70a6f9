/**
 * Shared by the benchmark runner (scripts/bench.ts) and its per-node worker
 * (scripts/bench-node.ts): the IPC messages, the payload format and small
 * statistics helpers. No project code here.
 */

/** Chat text length of a benchmark message, in bytes (a typical chat line) */
export const TEXT_BYTES = 128
/** Display name every chat worker uses (same length as the one the runner seals to size the bare payload) */
export const benchName = (index: number): string => `bench-${String(index).padStart(2, '0')}`

/** Parent to worker */
export type WorkerCommand =
  | { type: 'init', mode: 'chat' | 'bare', index: number, dataDir: string, topicId: string, secret: string, wireTopic: string, payloadBytes: number }
  | { type: 'dial', addrs: string[] }
  | { type: 'waitMesh', peers: number, mesh: number, timeout: number }
  | { type: 'run', runId: string, rate: number, durationMs: number, publish: boolean }
  | { type: 'count', runId: string }
  | { type: 'collect', runId: string }
  | { type: 'burst', runId: string, count: number, publish: boolean, expected: number }
  | { type: 'status', windowMs: number }
  | { type: 'stop' }

/** what held a node's event loop over a run, ms: its delay (p99, max; monitorEventLoopDelay at 5 ms) and GC pauses (longest, sum) */
export interface Stalls { loopP99: number, loopMax: number, gcMax: number, gcSum: number }

/** Worker to parent: every command is answered by exactly one reply with the same `type` plus `ok` */
export type WorkerReply =
  | { type: 'init', ok: true, peerId: string, addrs: string[] }
  | { type: 'dial', ok: true }
  | { type: 'waitMesh', ok: true, peers: number, mesh: number }
  | { type: 'run', ok: true, published: number, publishMs: number }
  | { type: 'count', ok: true, received: number }
  | { type: 'collect', ok: true, received: number, latencies: Float64Array, cpuMicros: number, wallMs: number, /** event-loop utilisation (perf_hooks) over the run, 0..1 */ elu: number, /** smallest and largest topic message data received (bytes; 0 when none) */ wireMin: number, wireMax: number, peers: number, sendMs: Float64Array, validateMs: Float64Array, /** what held the event loop over the run: its delay (ms, sampled every 5 ms) and GC pauses (ms) */ stalls: Stalls }
  | { type: 'burst', ok: true, published: number, startNs?: string }
  | { type: 'status', ok: true, peers: number, subscribers: number, mesh: number, cpu: number }
  | { type: 'stop', ok: true }
  | { type: string, ok: false, error: string }

/** Unsolicited worker event: a burst receiver got every message it expected */
export interface BurstDoneEvent { type: 'burstDone', runId: string, doneNs: string, received: number }

/**
 * Payload text: `runId|sender|seq|sendTimeNs|` padded to `bytes` with dots.
 * The send time is process.hrtime (CLOCK_MONOTONIC), which every process on
 * one Linux machine shares, so receive minus send is the one-way latency.
 */
export function makePayload (runId: string, sender: number, seq: number, bytes: number): string {
  const head = `${runId}|${sender}|${seq}|${process.hrtime.bigint()}|`
  return bytes > head.length ? head + '.'.repeat(bytes - head.length) : head
}

export interface ParsedPayload { runId: string, sender: number, seq: number, sentNs: bigint }

export function parsePayload (text: string): ParsedPayload | undefined {
  const parts = text.split('|', 4)
  if (parts.length < 4) return undefined
  try {
    return { runId: parts[0], sender: Number(parts[1]), seq: Number(parts[2]), sentNs: BigInt(parts[3]) }
  } catch {
    return undefined
  }
}

/** Nearest-rank percentile of sorted values */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[rank]
}

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

export const nowNs = (): bigint => process.hrtime.bigint()

export const msSince = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs) / 1e6
