import { createWriteStream } from 'node:fs'
import { access, link, rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { ChatError, errorCode, errorMessage, errorName, InvalidInputError, UnknownGroupError } from '../errors.js'
import { formatSecret } from '../groups/index.js'
import { createEncryptor } from './crypto.js'
import { BACKUP_FORMAT, BACKUP_VERSION, RECORD_LINE_SUFFIX, endLine, headerLine, recordLinePrefix } from './format.js'
import type { Writable } from 'node:stream'
import type { ScryptParams } from './crypto.js'
import type { BackupHeader } from './format.js'
import type { BackupGroup, BackupHost } from './host.js'

export interface BackupProgress {
  /** records written or read so far */
  done: number
  /** records expected in all, when known */
  total?: number
}

export interface ExportOptions {
  /** groups to export; default all */
  topicIds?: string[]
  /** put the group secrets in the file: needs `passphrase` (a backup with secrets is never written in the clear) */
  includeSecrets?: boolean
  /** put this node's identity (private key, display name) in the file: needs `passphrase`; a restored machine is then the same peer */
  includeIdentity?: boolean
  /** encrypt the whole file with this passphrase */
  passphrase?: string
  /** called every PROGRESS_EVERY records and once at the end */
  onProgress?: (progress: BackupProgress) => void
  signal?: AbortSignal
  /** replace a file already at the path given; default false: such an export fails before reading anything */
  overwrite?: boolean
  /** scrypt cost of an encrypted backup; default DEFAULT_SCRYPT */
  scrypt?: ScryptParams
}

export interface ExportSummary {
  records: number
  groups: string[]
  encrypted: boolean
  includesSecrets: boolean
  includesIdentity: boolean
  /** bytes written */
  bytes: number
}

/** Progress is reported every this many records */
export const PROGRESS_EVERY = 1000
/** Plain text is handed on in pieces of about this size */
const PIECE_SIZE = 64 * 1024

/**
 * Write a backup of `host` to a file path (created with mode 0600 under a
 * temporary name and renamed into place once complete, so a failed export
 * leaves no partial backup) or to a stream (not ended: the caller owns it).
 * Streams record by record: memory does not grow with the history.
 */
export async function exportBackup (host: BackupHost, out: string | Writable, options: ExportOptions = {}): Promise<ExportSummary> {
  const includeSecrets = options.includeSecrets === true
  const encrypted = options.passphrase != null
  if (includeSecrets && !encrypted) throw new InvalidInputError('a backup with group secrets must be encrypted: give a passphrase')
  const includeIdentity = options.includeIdentity === true
  if (includeIdentity && !encrypted) throw new InvalidInputError('a backup with the identity key must be encrypted: give a passphrase')
  const identity = includeIdentity ? await host.identity?.() : undefined
  if (includeIdentity && identity == null) throw new InvalidInputError('there is no identity to include: this data directory has no identity.key')
  const all = host.groups()
  let groups: BackupGroup[] = all
  if (options.topicIds != null && options.topicIds.length > 0) {
    groups = [...new Set(options.topicIds)].map(topicId => {
      const g = all.find(g => g.topicId === topicId)
      if (g == null) throw new UnknownGroupError(topicId)
      return g
    })
  }
  if (typeof out === 'string' && options.overwrite !== true && await access(out).then(() => true, () => false)) {
    throw new InvalidInputError(`${out} already exists: choose another file, or overwrite it (--force)`)
  }
  const encryptor = encrypted ? await createEncryptor(options.passphrase as string, { scrypt: options.scrypt }) : undefined
  let expected = 0
  for (const g of groups) expected += await host.count(g)
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date().toISOString(),
    peerId: host.peerId ?? null,
    groups: groups.map(g => {
      const entry: BackupHeader['groups'][number] = { topicId: g.topicId }
      if (g.name != null) entry.name = g.name
      if (includeSecrets) entry.secret = formatSecret(g.secret)
      // issue 15: every later key epoch's secret travels with the group's (the history of each stays readable)
      if (includeSecrets && g.epochs != null && g.epochs.length > 0) entry.epochs = g.epochs.map(e => ({ epoch: e.epoch, id: e.id, secret: formatSecret(e.secret) }))
      return entry
    }),
    expectedRecords: expected
  }
  if (identity != null) header.identity = { key: Buffer.from(identity.key).toString('base64'), ...(identity.name != null ? { name: identity.name } : {}), ...(identity.members != null ? { members: identity.members } : {}) }

  let records = 0
  let bytes = 0
  const progress = (): void => options.onProgress?.({ done: records, total: expected })

  async function * plain (): AsyncGenerator<Buffer> {
    yield Buffer.from(headerLine(header), 'utf8')
    let piece = ''
    progress()
    for (const group of groups) {
      const prefix = recordLinePrefix(group.topicId)
      for await (const record of host.records(group, { signal: options.signal })) {
        piece += prefix + Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('base64') + RECORD_LINE_SUFFIX
        records++
        if (piece.length >= PIECE_SIZE) {
          yield Buffer.from(piece, 'utf8')
          piece = ''
        }
        if (records % PROGRESS_EVERY === 0) progress()
      }
    }
    yield Buffer.from(piece + endLine(records), 'utf8')
    progress()
  }

  async function * file (): AsyncGenerator<Buffer> {
    const source = encryptor == null ? plain() : encryptor.frames(plain())
    if (encryptor != null) {
      bytes += encryptor.headerLine.byteLength
      yield encryptor.headerLine
    }
    for await (const chunk of source) {
      bytes += chunk.byteLength
      yield chunk
    }
  }

  if (typeof out === 'string') {
    const tmp = `${out}.${process.pid}.partial`
    try {
      await rm(tmp, { force: true })
      // 'wx': never through an existing file or symlink
      await pipeline(file, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }), { signal: options.signal })
      if (options.overwrite === true) {
        await rename(tmp, out)
      } else {
        // link, unlike rename, fails when `out` exists: no backup is replaced by accident, even by a race
        await link(tmp, out)
        await rm(tmp, { force: true })
      }
    } catch (err: unknown) {
      await rm(tmp, { force: true })
      if (err instanceof ChatError || errorName(err) === 'AbortError') throw err
      const code = errorCode(err)
      if (code === 'EEXIST') throw new InvalidInputError(`${out} already exists: choose another file, or overwrite it (--force)`)
      if (code != null) throw new InvalidInputError(`cannot write the backup to ${out}: ${code} (${errorMessage(err)})`)
      throw err
    }
  } else {
    await pipeline(file, out, { signal: options.signal, end: false })
  }
  return { records, groups: groups.map(g => g.topicId), encrypted, includesSecrets: includeSecrets, includesIdentity: identity != null, bytes }
}
