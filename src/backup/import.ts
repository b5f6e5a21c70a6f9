import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { open as openFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { errorCode, errorMessage, InvalidBackupError, InvalidInputError } from '../errors.js'
import { ENCRYPTED_FORMAT, createDecryptor } from './crypto.js'
import { MAX_HEADER_LINE, MAX_RECORD_LINE, parseHeader, parseJsonLine, parseLine } from './format.js'
import { ByteReader } from './lines.js'
import { PROGRESS_EVERY } from './export.js'
import { createVerifyPool, inlineVerifier } from './verify-pool.js'
import type { Verifier } from './verify-pool.js'
import type { BackupProgress } from './export.js'
import type { ParsedHeader } from './format.js'
import type { BackupGroup, BackupHost, IdentityOutcome } from './host.js'
import type { VerifiedRecord, VerifyResult } from './verify.js'

export type BackupInput = string | AsyncIterable<Uint8Array | string>

export interface ImportOptions {
  /** passphrase of an encrypted backup */
  passphrase?: string
  /** called every PROGRESS_EVERY records and once at the end */
  onProgress?: (progress: BackupProgress) => void
  signal?: AbortSignal
  /** verified records stored per batch; default DEFAULT_IMPORT_BATCH */
  batchSize?: number
  /**
   * worker threads verifying records (0: on the calling thread). Default: one
   * per CPU (at most MAX_VERIFY_THREADS) when the backup announces at least
   * PARALLEL_THRESHOLD records, else 0.
   */
  verifyThreads?: number
}

export interface ImportErrorEntry {
  /** 0-based position of the record in the backup (absent for errors about the file or a group) */
  index?: number
  /** 1-based line of the backup's JSON Lines text (after decryption) */
  line?: number
  topicId?: string
  /** short, stable reason: `bad mac`, `bad signature`, `unknown group`, `not JSON`, `truncated`, … */
  reason: string
  /** one sentence for people: what and where */
  message: string
}

export interface ImportSummary {
  /** new records stored */
  imported: number
  /** valid records that were already stored */
  duplicates: number
  /** records not stored: failed verification, unreadable, or of a group whose secret is unknown */
  rejected: number
  /** groups joined from the backup's secrets */
  groupsRestored: number
  /** record lines read */
  records: number
  /** false when the file is damaged beyond single records (cut short, a chunk failing authentication, …): reading stopped there */
  complete: boolean
  encrypted: boolean
  /** groups in the backup whose secret this node does not know: their records were rejected */
  unknownGroups: string[]
  /** the first MAX_REPORTED_ERRORS problems, in file order */
  errors: ImportErrorEntry[]
  /** problems counted but not listed */
  errorsOmitted: number
  /** what the header says */
  backup: { createdAt: string, peerId: string | null, groups: string[] }
  /** the backup held an identity (`includeIdentity`): what became of it */
  identity?: IdentityOutcome
}

export const DEFAULT_IMPORT_BATCH = 1000
export const MAX_REPORTED_ERRORS = 100
/** Backups announcing fewer records are verified on the calling thread (starting workers costs more) */
export const PARALLEL_THRESHOLD = 5000
export const MAX_VERIFY_THREADS = 8
/** Records per verification job sent to a worker */
const JOB_SIZE = 256

function defaultThreads (): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_VERIFY_THREADS))
}

const HINTS: Record<string, string> = {
  'bad mac': 'altered, or not sealed with this group\'s secret',
  'bad signature': 'not signed by its author: forged or altered',
  'not canonical': 'altered',
  malformed: 'not an envelope',
  undecryptable: 'the body does not decrypt',
  'unknown group': 'this node does not know the group\'s secret: join the group first, or import a backup made with its secrets'
}

async function openInput (input: BackupInput): Promise<AsyncIterable<Uint8Array | string>> {
  if (typeof input !== 'string') return input
  try {
    const handle = await openFile(input, 'r')
    return handle.createReadStream({ highWaterMark: 256 * 1024 })
  } catch (err: unknown) {
    const code = errorCode(err)
    throw new InvalidInputError(`cannot read the backup ${input}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code ?? errorMessage(err)}`)
  }
}

interface Opened {
  reader: ByteReader
  header: ParsedHeader
  encrypted: boolean
  close: () => Promise<void>
}

/** Read line 1; for an encrypted backup check the passphrase and read the inner header. */
async function openBackup (input: BackupInput, passphrase: string | undefined, needHeader: boolean): Promise<Opened | { encrypted: true }> {
  const outer = new ByteReader(await openInput(input))
  try {
    const first = await outer.readLine(MAX_HEADER_LINE)
    if (first == null) throw new InvalidBackupError('the backup is empty')
    if (first.tooLong) throw new InvalidBackupError(`line 1 is longer than ${MAX_HEADER_LINE} bytes: this is not a p2p-chat backup`)
    const value = parseJsonLine(first.line, 1)
    if (typeof value === 'object' && value !== null && (value as Record<string, unknown>).format === ENCRYPTED_FORMAT) {
      if (!needHeader && passphrase == null) {
        await outer.close()
        return { encrypted: true }
      }
      const decryptor = await createDecryptor(value as Record<string, unknown>, first.line, passphrase)
      const reader = new ByteReader(decryptor.plaintext(async n => outer.read(n)))
      const inner = await reader.readLine(MAX_HEADER_LINE)
      if (inner == null || inner.tooLong) throw new InvalidBackupError('the encrypted backup holds no header')
      const header = parseHeader(parseJsonLine(inner.line, 1))
      return { reader, header, encrypted: true, close: async () => { await outer.close() } }
    }
    return { reader: outer, header: parseHeader(value), encrypted: false, close: async () => { await outer.close() } }
  } catch (err) {
    await outer.close()
    throw err
  }
}

export interface BackupInfo {
  encrypted: boolean
  /** present for a plain backup, or an encrypted one whose passphrase was given */
  header?: { createdAt: string, peerId: string | null, groups: Array<{ topicId: string, name?: string, hasSecret: boolean }>, expectedRecords: number }
}

/** What a backup is, from its first line(s): whether it needs a passphrase, and its header. Reads no records. */
export async function inspectBackup (input: BackupInput, options: { passphrase?: string } = {}): Promise<BackupInfo> {
  const opened = await openBackup(input, options.passphrase, false)
  if (!('header' in opened)) return { encrypted: true }
  await opened.close()
  const h = opened.header
  return {
    encrypted: opened.encrypted,
    header: { createdAt: h.createdAt, peerId: h.peerId, expectedRecords: h.expectedRecords, groups: h.groups.map(g => ({ topicId: g.topicId, name: g.name, hasSecret: g.secret != null })) }
  }
}

/**
 * Import a backup into `host`, streaming: every record is verified
 * (verifyRecord: MAC, signature, decryption with its group's keys) before it
 * is stored; duplicates are counted, not stored again.
 *
 * Throws, having changed nothing, when the file cannot be used at all: not
 * JSON, not a p2p-chat backup, an unknown version, a wrong or missing
 * passphrase (InvalidBackupError, WrongPassphraseError, InvalidInputError).
 * Otherwise it resolves to a summary: a bad record is rejected and reading
 * goes on; damage past a single record (file cut short, an encrypted chunk
 * failing authentication) stops reading there with `complete: false`.
 * Every valid record read before that point is kept: each is verified on its own.
 */
export async function importBackup (host: BackupHost, input: BackupInput, options: ImportOptions = {}): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? DEFAULT_IMPORT_BATCH
  const opened = await openBackup(input, options.passphrase, true) as Opened
  const { reader, header } = opened
  const summary: ImportSummary = {
    imported: 0,
    duplicates: 0,
    rejected: 0,
    groupsRestored: 0,
    records: 0,
    complete: true,
    encrypted: opened.encrypted,
    unknownGroups: [],
    errors: [],
    errorsOmitted: 0,
    backup: { createdAt: header.createdAt, peerId: header.peerId, groups: header.groups.map(g => g.topicId) }
  }
  const report = (entry: ImportErrorEntry): void => {
    if (summary.errors.length < MAX_REPORTED_ERRORS) summary.errors.push(entry)
    else summary.errorsOmitted++
  }

  const wanted = options.verifyThreads ?? (header.expectedRecords >= PARALLEL_THRESHOLD ? defaultThreads() : 0)
  const threads = Number.isFinite(wanted) ? Math.max(0, Math.min(Math.floor(wanted), MAX_VERIFY_THREADS)) : 0
  let verifier: Verifier | undefined
  try {
    verifier = threads > 0 ? createVerifyPool(threads) : inlineVerifier()
    const verify = verifier.verify
    const jobSize = threads > 0 ? JOB_SIZE : 1
    const maxInFlight = threads > 0 ? 2 * threads : 0

    // a secret or an identity key in a plain file is anyone's word: whoever handed over the file would choose
    // the group we join, or the key we sign with. Checked before anything is restored.
    if (!opened.encrypted && header.groups.some(g => g.secret != null)) {
      throw new InvalidBackupError('this plain (unencrypted) backup carries group secrets: refused, since anyone could have written them; secrets travel only in encrypted backups (export --include-secrets)')
    }
    if (!opened.encrypted && header.identity != null) {
      throw new InvalidBackupError('this plain (unencrypted) backup carries an identity key: refused, since anyone could have written it; identities travel only in encrypted backups (export --include-identity)')
    }
    if (header.identity != null) {
      let owner: string
      try {
        owner = peerIdFromPrivateKey(privateKeyFromProtobuf(header.identity.key)).toString()
      } catch {
        throw new InvalidBackupError('header: "identity.key" is not a private key')
      }
      if (owner !== header.peerId) throw new InvalidBackupError('header: "identity" is not the key of the backup\'s "peerId"')
      summary.identity = await host.restoreIdentity?.(header.identity) ?? 'running'
    }
    // groups first: those with secrets are joined, the rest must be known here
    const conflicts = new Set<string>()
    const addAll = async (): Promise<void> => {
      for (const g of header.groups) {
        if (g.secret == null) continue
        const outcome = await host.addGroup(g.topicId, g.secret, g.name, g.epochs)
        if (outcome === 'added') summary.groupsRestored++
        if (outcome === 'conflict') {
          conflicts.add(g.topicId)
          report({ topicId: g.topicId, reason: 'group secret differs', message: `group "${g.topicId}" is joined here with another secret: its records in the backup are rejected` })
        }
      }
    }
    // one write of the groups file for all of them, not one per group
    await (host.batch != null ? host.batch(addAll) : addAll())
    const groups = new Map<string, BackupGroup>()
    for (const g of host.groups()) if (!conflicts.has(g.topicId)) groups.set(g.topicId, g)
    const unknown = new Set<string>()

    // verified records waiting for the next store batch, per group
    const pending = new Map<string, { group: BackupGroup, records: VerifiedRecord[] }>()
    let pendingCount = 0
    const flush = async (): Promise<void> => {
      for (const { group, records } of pending.values()) {
        const stored = await host.store(group, records)
        summary.imported += stored
        summary.duplicates += records.length - stored
      }
      pending.clear()
      pendingCount = 0
    }
    const progress = (): void => options.onProgress?.({ done: summary.records, total: header.expectedRecords })
    const reject = (index: number, line: number, reason: string, topicId?: string): void => {
      summary.rejected++
      const where = `record ${index} (line ${line})${topicId != null ? ` of group "${topicId}"` : ''}`
      const hint = HINTS[reason]
      report({ index, line, topicId, reason, message: `${where}: ${reason}${hint != null ? ` (${hint})` : ''}` })
    }

    // records read go to verification in jobs; jobs are committed in file
    // order (rejections reported, valid records batched for the store)
    interface Item { index: number, line: number, topicId?: string, group?: BackupGroup, bytes?: Buffer, reason?: string }
    const queue: Array<{ items: Item[], results: Promise<VerifyResult[]> }> = []
    let job: Item[] = []
    const submit = (): void => {
      if (job.length === 0) return
      const items = job
      job = []
      const results = verify(items.flatMap(i => i.group != null && i.bytes != null ? [{ group: i.group, bytes: i.bytes }] : []))
      results.catch(() => {}) // handled when committed; never an unhandled rejection meanwhile
      queue.push({ items, results })
    }
    const commitOne = async (): Promise<void> => {
      const head = queue.shift()
      if (head == null) return
      const results = await head.results
      let k = 0
      for (const item of head.items) {
        if (item.reason != null) {
          reject(item.index, item.line, item.reason, item.topicId)
          continue
        }
        const v = results[k++]
        if (!v.ok) {
          reject(item.index, item.line, v.reason, item.topicId)
          continue
        }
        const group = item.group as BackupGroup
        let batch = pending.get(group.topicId)
        if (batch == null) pending.set(group.topicId, batch = { group, records: [] })
        batch.records.push(v.record)
        if (++pendingCount >= batchSize) await flush()
      }
    }

    progress()
    let lineNo = 1
    let end: { records: number, line: number } | undefined
    let damage: ImportErrorEntry | undefined
    try {
      while (true) {
        const read = await reader.readLine(MAX_RECORD_LINE)
        if (read == null) break
        lineNo++
        if (end != null) {
          if (!read.tooLong && read.line.toString('utf8').trim() === '') continue // blank lines after the end are harmless
          damage = { line: lineNo, reason: 'data after the end', message: `line ${lineNo}: data after the end line (line ${end.line})` }
          break
        }
        const parsed: ReturnType<typeof parseLine> = read.tooLong ? { kind: 'bad', reason: 'line too long' } : parseLine(read.line)
        if (parsed.kind === 'end') {
          end = { records: parsed.records, line: lineNo }
          continue
        }
        if (parsed.kind === 'bad' && !read.terminated) {
          // a last line cut short: the file is truncated, not a bad record
          damage = { line: lineNo, reason: 'truncated', message: `the backup is truncated: line ${lineNo} (record ${summary.records}) is cut short` }
          break
        }
        const item: Item = { index: summary.records++, line: lineNo }
        if (parsed.kind === 'bad') {
          item.reason = parsed.reason
        } else {
          item.topicId = parsed.topicId
          item.group = groups.get(parsed.topicId)
          if (item.group != null) {
            item.bytes = parsed.bytes
          } else if (conflicts.has(parsed.topicId)) {
            item.reason = 'group secret differs'
          } else {
            unknown.add(parsed.topicId)
            item.reason = 'unknown group'
          }
        }
        job.push(item)
        if (job.length >= jobSize) {
          submit()
          while (queue.length > maxInFlight) await commitOne()
        }
        if (summary.records % PROGRESS_EVERY === 0) {
          options.signal?.throwIfAborted()
          progress()
        }
      }
    } catch (err) {
      // damage found by the decryption (a chunk failing authentication, a cut frame)
      if (!(err instanceof InvalidBackupError)) throw err
      damage = { line: lineNo + 1, reason: /truncated/.test(err.message) ? 'truncated' : 'damaged', message: `after line ${lineNo} (record ${summary.records}): ${err.message}` }
    }
    submit()
    while (queue.length > 0) await commitOne()
    await flush()
    if (damage == null && end == null) {
      damage = { line: lineNo + 1, reason: 'truncated', message: `the backup is truncated: it ends after line ${lineNo} (record ${summary.records}) without its end line` }
    } else if (damage == null && end != null && end.records !== summary.records) {
      damage = { line: end.line, reason: 'record count mismatch', message: `the end line (line ${end.line}) says ${end.records} records but ${summary.records} were read: records were removed or added` }
    }
    if (damage != null) {
      summary.complete = false
      report(damage)
    }
    summary.unknownGroups = [...unknown]
    progress()
    return summary
  } finally {
    await verifier?.close()
    await opened.close()
  }
}
