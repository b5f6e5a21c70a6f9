/**
 * Property-based fuzzing (fast-check) of every decoder and parser that reads
 * bytes or text from outside: envelopes, sync and call messages, invites,
 * topic ids and secrets, backup files, the local API. Each target says what
 * may happen on any input: a result, or a typed error where throwing is the
 * contract; never another throw, never a hang. Run briefly by
 * test/fuzz.test.ts and at length by scripts/fuzz.ts.
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { deriveGroupKeys, ed25519Signer, open, sealInOrder, MAX_ENVELOPE_BYTES } from '../src/envelope/index.js'
import { ChatError, InvalidBackupError, InvalidInputError, InvalidInviteError } from '../src/errors.js'
import { decodeInvite, encodeInvite, parseSecret, validateTopicId } from '../src/groups/index.js'
import { Auth, AuthReply, Frame as SyncFrame, Hello, Summary, SyncProtocolError, buildSummary, parseSummary, parseWants, MAX_SUMMARY_AUTHORS, MAX_RANGES_PER_AUTHOR, MAX_WANT_RANGES, MAX_BATCH_RECORDS } from '../src/sync/index.js'
import { FrameDecoder, ProtocolViolation, decodeMessage as decodeCall, encodeMessage as encodeCall, MAX_MESSAGE_BYTES } from '../src/calls/protocol.js'
import { MediaKind } from '../src/calls/pb/call.js'
import { parseHeader, parseJsonLine, parseLine, headerLine, recordLinePrefix, RECORD_LINE_SUFFIX, endLine } from '../src/backup/format.js'
import { ByteReader } from '../src/backup/lines.js'
import { importBackup, inspectBackup } from '../src/backup/index.js'
import { isCursor } from '../src/store/keys.js'
import { RangeSet } from '../src/store/index.js'
import { craft } from './hostile.js'
import type { BackupGroup, BackupHost } from '../src/backup/index.js'
import type { GroupKeys } from '../src/envelope/index.js'

export interface FuzzTarget {
  name: string
  /** run `numRuns` cases; throws (fast-check's report, with the seed to replay) on a counterexample */
  run: (numRuns: number, seed?: number) => Promise<void>
}

/** Where the API fuzz sends its requests */
export interface ApiTarget {
  url: string
  token: string
  /** a group that exists on that node */
  topicId: string
  /** filled with how many answers of each HTTP status came back */
  statuses?: Map<number, number>
}

const TOPIC = 'fuzz-group'
const SECRET = new Uint8Array(32).fill(7)

function keys (): GroupKeys { return deriveGroupKeys(TOPIC, SECRET) }

const signer = ed25519Signer(new Uint8Array(32).fill(3))

function genuineEnvelope (i = 0): Uint8Array {
  return sealInOrder(keys(), signer, { seq: BigInt(i + 1), lamport: BigInt(i + 1), timestamp: 1_700_000_000_000 + i, text: `genuine ${i}`, name: 'fuzz' }).bytes
}

/** Bytes of `base` changed one way or another; may by chance equal it. */
function mutated (base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.record({ pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ pos, bit }) => {
      const out = Uint8Array.from(base)
      out[pos % out.length] ^= 1 << bit
      return out
    }),
    fc.nat().map(n => base.subarray(0, n % base.length)),
    fc.record({ pos: fc.nat(), ins: fc.uint8Array({ minLength: 1, maxLength: 40 }) }).map(({ pos, ins }) => {
      const at = pos % (base.length + 1)
      return Uint8Array.from([...base.subarray(0, at), ...ins, ...base.subarray(at)])
    }),
    fc.record({ pos: fc.nat(), len: fc.integer({ min: 1, max: 40 }), with: fc.uint8Array({ maxLength: 40 }) }).map(({ pos, len, with: w }) => {
      const at = pos % base.length
      return Uint8Array.from([...base.subarray(0, at), ...w, ...base.subarray(at + len)])
    })
  )
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b))
}

/** `fn` either returns or throws one of `allowed`: anything else fails the property. */
function onlyThrows (allowed: Array<abstract new (...args: any[]) => Error>, fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    if (!allowed.some(c => err instanceof c)) throw new Error(`unexpected ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
}

async function onlyRejects (allowed: Array<abstract new (...args: any[]) => Error>, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if (!allowed.some(c => err instanceof c)) throw new Error(`unexpected ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
}

const SUMMARY_LIMITS = { authors: MAX_SUMMARY_AUTHORS, authors$: { ranges: 2 * MAX_RANGES_PER_AUTHOR } }
const FRAME_LIMITS = { records: MAX_BATCH_RECORDS, wants: MAX_WANT_RANGES, wants$: { ranges: 2 * MAX_WANT_RANGES }, summary: SUMMARY_LIMITS }

/** A summary as a peer might send it: authors of any length, ranges of any values */
const anySummary: fc.Arbitrary<Summary> = fc.record({
  authors: fc.array(fc.record({
    author: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
    ranges: fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 12 }),
    truncated: fc.boolean(),
    head: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }))
  }), { maxLength: 6 }),
  truncated: fc.boolean()
})

/** `timeout`: one async case that takes longer fails (a hang); a synchronous one cannot hang past the test's own timeout */
// the `timeout` parameter (deprecated for the timeout plugin, which runs differently) bounds each async run as before
// eslint-disable-next-line @typescript-eslint/no-deprecated
const params = (numRuns: number, seed?: number): fc.Parameters<unknown> => ({ numRuns, seed, timeout: 20_000 })

/** An in-memory backup host: records the import stores are kept, and each must verify. */
function memoryHost (): BackupHost & { stored: number, bad: number } {
  // the importer knows the group already: a plain backup carries no secret (one that did is refused)
  const groups = new Map<string, BackupGroup>([[TOPIC, { topicId: TOPIC, secret: SECRET, keys: deriveGroupKeys(TOPIC, SECRET) }]])
  const host = {
    stored: 0,
    bad: 0,
    groups: () => [...groups.values()],
    count: async () => 0,
    records: async function * () {},
    addGroup: async (topicId: string, secret: Uint8Array, name?: string) => {
      const existing = groups.get(topicId)
      if (existing != null) return Buffer.from(existing.secret).equals(secret) ? 'exists' as const : 'conflict' as const
      groups.set(topicId, { topicId, name, secret, keys: deriveGroupKeys(topicId, secret) })
      return 'added' as const
    },
    store: async (group: BackupGroup, records: Array<{ bytes: Uint8Array }>) => {
      for (const r of records) {
        if (open(group.keys, r.bytes).ok) host.stored++
        else host.bad++
      }
      return records.length
    }
  }
  return host
}

function plainBackup (records: Uint8Array[]): string {
  const header = headerLine({ format: 'p2p-chat-backup', version: 1, createdAt: new Date(0).toISOString(), peerId: null, groups: [{ topicId: TOPIC }], expectedRecords: records.length })
  return header + records.map(r => recordLinePrefix(TOPIC) + Buffer.from(r).toString('base64') + RECORD_LINE_SUFFIX).join('') + endLine(records.length)
}

async function * chunked (bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0
  let i = 0
  while (at < bytes.length) {
    const n = Math.max(1, sizes.length > 0 ? sizes[i++ % sizes.length] : bytes.length)
    yield bytes.subarray(at, at + n)
    at += n
  }
}

/** Every fuzz target; `api` adds the local API target (needs a running node). */
export function fuzzTargets (api?: ApiTarget): FuzzTarget[] {
  const genuine = [0, 1, 2].map(genuineEnvelope)
  const validInvite = encodeInvite({ topicId: TOPIC, secret: SECRET, addrs: ['/ip4/127.0.0.1/tcp/4747/p2p/12D3KooWKnpKo3cNPJMWCMdqoaBiZH4cS1idNpVwaGDQCjcSYNqZ'], name: 'fuzz' })
  const validBackup = Buffer.from(plainBackup(genuine))
  const offer = encodeCall({ offer: { callId: new Uint8Array(16).fill(1), video: true, tracks: [{ track: 0, kind: MediaKind.AUDIO, codec: 'pcm_s16le', sampleRate: 48000, channels: 1, frameMs: 20 }] } }).subarray()
  const summaryBytes = Summary.encode(buildSummary(new Map([['ab'.repeat(32), RangeSet.fromFlat([1n, 5n, 9n, 12n])]])).summary)

  const member = ed25519Signer(randomBytes(32))
  const targets: FuzzTarget[] = [
    {
      name: 'envelope open(): any bytes',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: MAX_ENVELOPE_BYTES - 8, maxLength: MAX_ENVELOPE_BYTES + 8 })), bytes => {
        const r = open(keys(), bytes)
        return r.ok === genuine.some(g => equal(g, bytes))
      }), params(n, seed))
    },
    {
      name: 'envelope open(): mutations of a genuine envelope',
      run: async (n, seed) => fc.assert(fc.property(fc.constantFrom(...genuine).chain(g => mutated(g).map(m => [g, m] as const)), ([g, m]) => {
        const r = open(keys(), m)
        // only the unchanged bytes open; nothing else, and never a throw
        return r.ok === equal(g, m)
      }), params(n, seed))
    },
    {
      name: 'envelope open(): anything a member can seal (valid MAC, AEAD and signature over any inner fields and body bytes)',
      run: async (n, seed) => fc.assert(fc.property(fc.record({
        seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        lamport: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        timestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        kind: fc.integer({ min: 0, max: 0xffffffff }),
        prev: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
        parents: fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 6 }),
        plain: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constant(undefined)),
        paddedTo: fc.oneof(fc.constant(undefined), fc.constantFrom(256, 512, 1024, 300))
      }), f => {
        const bytes = craft(keys(), member, { ...f, ...(f.plain == null ? { plain: undefined } : {}) })
        const r = open(keys(), bytes)
        // a result, never a throw; what opens obeys every rule seal() applies
        if (!r.ok) return typeof r.reason === 'string'
        const e = r.message.envelope
        return e.seq >= 1n && e.lamport >= 1n && e.lamport < (1n << 63n) && e.timestamp < (1n << 48n) && e.kind >= 1 && e.kind <= 0xffff &&
          e.parents.length <= 4 && (e.seq === 1n ? e.prev.byteLength === 0 : e.prev.byteLength === 32)
      }), params(n, seed))
    },
    {
      name: 'sync messages: decoders with the session limits, then summary and pull checks',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated(summaryBytes), mutated(SyncFrame.encode({ kind: SyncFrame.Kind.PULL, records: [], done: false, wants: [{ author: Uint8Array.from(Buffer.from('ab'.repeat(32), 'hex')), ranges: [1n, 3n], truncated: false, head: new Uint8Array(0) }] }))), bytes => {
        onlyThrows([Error], () => Hello.decode(bytes))
        onlyThrows([Error], () => Auth.decode(bytes))
        let reply: AuthReply | undefined
        onlyThrows([Error], () => { reply = AuthReply.decode(bytes, { limits: { summary: SUMMARY_LIMITS } }) })
        if (reply?.summary != null) onlyThrows([SyncProtocolError], () => parseSummary(reply!.summary))
        let summary: Summary | undefined
        onlyThrows([Error], () => { summary = Summary.decode(bytes, { limits: SUMMARY_LIMITS }) })
        if (summary != null) onlyThrows([SyncProtocolError], () => parseSummary(summary))
        let frame: SyncFrame | undefined
        onlyThrows([Error], () => { frame = SyncFrame.decode(bytes, { limits: FRAME_LIMITS }) })
        if (frame != null) {
          const mine = { authors: new Map([['ab'.repeat(32), { set: RangeSet.fromFlat([1n, 100n]) }]]) }
          onlyThrows([SyncProtocolError], () => parseWants(frame!.wants, mine))
          if (frame.summary != null) onlyThrows([SyncProtocolError], () => parseSummary(frame!.summary))
        }
      }), params(n, seed))
    },
    {
      name: 'sync summaries: any shape a peer may send',
      run: async (n, seed) => fc.assert(fc.property(anySummary, summary => {
        onlyThrows([SyncProtocolError], () => parseSummary(summary))
        onlyThrows([SyncProtocolError], () => parseWants(summary.authors, { authors: new Map([['00'.repeat(32), { set: RangeSet.fromFlat([1n, 10n]) }]]) }))
      }), params(n, seed))
    },
    {
      name: 'call messages: decodeMessage and the length-prefixed frame decoder',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(offer)), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }), (bytes, cuts) => {
        onlyThrows([ProtocolViolation], () => decodeCall(bytes))
        const decoder = new FrameDecoder()
        onlyThrows([ProtocolViolation], () => {
          let at = 0
          let i = 0
          while (at < bytes.length) {
            const size = cuts.length > 0 ? cuts[i++ % cuts.length] : bytes.length
            for (const m of decoder.decode(bytes.subarray(at, at + size))) onlyThrows([ProtocolViolation], () => decodeCall(m))
            if (decoder.buffered > MAX_MESSAGE_BYTES + 5) throw new Error(`buffered ${decoder.buffered} bytes`)
            at += size
          }
        })
      }), params(n, seed))
    },
    {
      name: 'invites: any text, any payload, mutations of a valid one',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }).map(b => 'p2pchat1' + Buffer.from(b).toString('base64url')),
        mutated(Buffer.from(validInvite)).map(b => Buffer.from(b).toString('latin1'))
      ), text => {
        onlyThrows([InvalidInviteError], () => {
          const inv = decodeInvite(text)
          validateTopicId(inv.topicId)
          if (inv.secret.byteLength !== 32) throw new Error('secret of the wrong length accepted')
        })
      }), params(n, seed))
    },
    {
      name: 'topic ids and secrets: anything',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(fc.anything(), fc.string(), fc.uint8Array({ minLength: 30, maxLength: 34 }).map(b => Buffer.from(b).toString('hex'))), v => {
        onlyThrows([InvalidInputError], () => validateTopicId(v))
        onlyThrows([InvalidInputError], () => parseSecret(v))
        if (typeof v === 'string') isCursor(v)
      }), params(n, seed))
    },
    {
      name: 'backup lines and headers: any line, any JSON',
      run: async (n, seed) => fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.jsonValue().map(v => Buffer.from(JSON.stringify(v) ?? ''))), fc.oneof(fc.anything(), fc.jsonValue(), fc.record({ format: fc.constant('p2p-chat-backup'), version: fc.constantFrom(1, 2, '1'), createdAt: fc.oneof(fc.string(), fc.integer()), peerId: fc.oneof(fc.constant(null), fc.string()), groups: fc.array(fc.record({ topicId: fc.string(), secret: fc.oneof(fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b => Buffer.from(b).toString('hex'))), name: fc.anything() }, { requiredKeys: [] })), expectedRecords: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] })), (line, header) => {
        const r = parseLine(Buffer.from(line))
        if (!['record', 'end', 'bad'].includes(r.kind)) throw new Error('unknown line kind')
        onlyThrows([InvalidBackupError], () => parseJsonLine(Buffer.from(line), 2))
        onlyThrows([InvalidBackupError], () => parseHeader(header))
      }), params(n, seed))
    },
    {
      name: 'backup reader: lines survive any chunking',
      run: async (n, seed) => fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }), fc.integer({ min: 1, max: 64 }), async (bytes, sizes, max) => {
        const reader = new ByteReader(chunked(bytes, sizes))
        const expected = Buffer.from(bytes).toString('latin1').split('\n')
        if (expected.at(-1) === '') expected.pop()
        const got: string[] = []
        for (let r = await reader.readLine(max); r != null; r = await reader.readLine(max)) got.push(r.tooLong ? '<long>' : r.line.toString('latin1'))
        const want = expected.map(l => l.length > max ? '<long>' : l)
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`lines ${JSON.stringify(got)} != ${JSON.stringify(want)}`)
      }), params(n, seed))
    },
    {
      name: 'backup files: inspect and import any bytes and any damage to a valid file',
      run: async (n, seed) => fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(validBackup), fc.constant(Uint8Array.from(validBackup))), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 6 }), async (bytes, sizes) => {
        await onlyRejects([ChatError], async () => inspectBackup(chunked(bytes, sizes)))
        const host = memoryHost()
        await onlyRejects([ChatError], async () => importBackup(host, chunked(bytes, sizes), { batchSize: 2 }))
        if (host.bad > 0) throw new Error(`${host.bad} records stored that do not verify`)
        if (equal(bytes, validBackup) && host.stored !== genuine.length) throw new Error(`the valid file imported ${host.stored} of ${genuine.length}`)
      }), params(n, seed))
    }
  ]

  if (api != null) {
    const auth = { authorization: `Bearer ${api.token}` }
    const T = api.topicId
    // the endpoints as the routes declare them (the group itself is never deleted: a random one may be)
    const endpoints: Array<[string, string]> = [
      ['GET', '/v1/status'], ['GET', '/v1/peers'], ['POST', '/v1/peers'], ['PUT', '/v1/profile'], ['GET', '/v1/groups'], ['POST', '/v1/groups'],
      ['POST', '/v1/groups/join'], ['GET', `/v1/groups/${T}`], ['GET', `/v1/groups/${T}/invite`], ['GET', `/v1/groups/${T}/peers`],
      ['POST', `/v1/groups/${T}/messages`], ['GET', `/v1/groups/${T}/messages`], ['POST', `/v1/groups/${T}/sync`], ['GET', '/v1/calls'],
      ['POST', '/v1/calls'], ['POST', '/v1/calls/answer'], ['POST', '/v1/calls/reject'], ['POST', '/v1/calls/hangup']
    ]
    const paths = endpoints.map(e => e[1])
    const body = fc.oneof(
      fc.jsonValue().map(v => JSON.stringify(v)),
      fc.record({ text: fc.anything(), topicId: fc.anything(), secret: fc.anything(), invite: fc.anything(), name: fc.anything(), address: fc.anything(), peer: fc.anything(), callId: fc.anything(), timeout: fc.anything(), input: fc.anything(), output: fc.anything() }, { requiredKeys: [] })
        .map(v => JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? x.toString() : x) ?? ''),
      fc.uint8Array({ maxLength: 200 }).map(b => Buffer.from(b).toString('latin1')),
      fc.string({ maxLength: 200 })
    )
    const path = fc.oneof(
      fc.constantFrom(...paths),
      fc.string({ maxLength: 40 }).map(s => `/v1/groups/${encodeURIComponent(s)}`),
      fc.string({ maxLength: 40 }).map(s => `/v1/groups/${encodeURIComponent(s)}/messages`),
      // not encoded: stray '%', '\\' (fetch turns it into '/'), '//'
      fc.string({ maxLength: 20, unit: fc.constantFrom('%', 'E', '0', 'z', '/', '\\', '.', 'a') }).map(s => `/v1/groups/${s}/messages`),
      fc.string({ maxLength: 20, unit: fc.constantFrom('%', '/', '\\', '.', 'v', '1') }).map(s => `/${s}`),
      fc.string({ maxLength: 40 }).map(s => '/' + s.replace(/[\s#?]/g, ''))
    )
    targets.push({
      name: 'local API: random methods, paths and bodies',
      run: async (n, seed) => fc.assert(fc.asyncProperty(fc.oneof(
        { arbitrary: fc.constantFrom(...endpoints), weight: 3 },
        { arbitrary: fc.constantFrom(...endpoints).chain(([m, p]) => fc.string({ maxLength: 30 }).map(q => [m, `${p}?limit=${encodeURIComponent(q)}&before=${encodeURIComponent(q)}&secret=${encodeURIComponent(q)}`] as [string, string])), weight: 1 },
        { arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), path), weight: 1 }
      ), body, async ([method, p], b) => {
        let res: Response
        try {
          res = await fetch(api.url + p, { method, headers: { ...auth, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : b, signal: AbortSignal.timeout(15_000) })
        } catch (err: any) {
          // a path the URL parser refuses never leaves this process
          if (err?.name === 'TypeError' && /URL|Invalid/i.test(String(err.cause ?? err.message))) return
          throw err
        }
        api.statuses?.set(res.status, (api.statuses.get(res.status) ?? 0) + 1)
        if (res.status === 500) throw new Error(`HTTP 500 for ${method} ${p}: ${await res.text()}`)
        // a long-running answer (sync, a call, waiting for a call) streams: hang up on it, the node must cope
        if ((res.headers.get('content-type') ?? '').includes('ndjson')) {
          await res.body?.cancel()
          return
        }
        const text = await res.text()
        // outside /v1/ the node serves its web page's files (HTML, JS, CSS): only API answers are JSON
        if (!(res.headers.get('content-type') ?? '').includes('json')) {
          if (p.startsWith('/v1/') && !res.ok) throw new Error(`an API error that is not JSON: ${res.status} ${text.slice(0, 80)}`)
          return
        }
        if (text !== '') {
          const json = JSON.parse(text)
          if (!res.ok && json?.error?.code == null) throw new Error(`an error without a code: ${text}`)
        }
      }), params(n, seed))
    })
  }
  return targets
}

/** A fresh random seed, printed by the runners so that a failure can be replayed. */
export function newSeed (): number {
  return randomBytes(4).readUInt32BE() >>> 1
}
