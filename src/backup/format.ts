/**
 * The backup file format, version 1 (docs/BACKUP.md): JSON Lines. Line 1 is
 * the header, then one line per record, then an end line with the record
 * count. Pure: building and parsing lines, no I/O.
 */
import { errorMessage, InvalidBackupError } from '../errors.js'
import { parseSecret, validateTopicId } from '../groups/index.js'

export const BACKUP_FORMAT = 'p2p-chat-backup'
export const BACKUP_VERSION = 1

/** Longest header line read (it lists every group) */
export const MAX_HEADER_LINE = 16 * 1024 * 1024
/** Longest record line read: an 8 KiB envelope is under 11 KiB of base64 */
export const MAX_RECORD_LINE = 64 * 1024
/** Longest display name kept from a header */
const MAX_GROUP_NAME = 256

export interface BackupGroupEntry {
  topicId: string
  name?: string
  /** the group secret as 64 hex characters; only in a backup made with includeSecrets (always encrypted) */
  secret?: string
  /** issue 15: the secrets of the group's later key epochs held, by the rotate op (hex id) that made each; only beside `secret` */
  epochs?: Array<{ epoch: number, id: string, secret: string }>
}

/** epoch secrets a header may carry per group at most */
export const MAX_BACKUP_EPOCHS = 65_536

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: typeof BACKUP_VERSION
  /** ISO 8601 time the export started */
  createdAt: string
  /** peer id of the exporting node; null when its data directory had no identity */
  peerId: string | null
  groups: BackupGroupEntry[]
  /** records stored when the export started: for progress only; the end line has the exact count */
  expectedRecords: number
  /** the exporting node's identity (`includeIdentity`, always encrypted): its private key (libp2p protobuf, base64) and display name */
  identity?: { key: string, name?: string, members?: BackupMember[] }
}

/** A known member and its addresses, kept with the identity: a restored node can reach its groups again */
export interface BackupMember {
  peerId: string
  addrs: string[]
}

/** members and addresses per member a header may carry at most */
export const MAX_BACKUP_MEMBERS = 1000
export const MAX_BACKUP_MEMBER_ADDRS = 16

/** A parsed, checked header, secrets decoded */
export interface ParsedHeader extends Omit<BackupHeader, 'groups' | 'identity'> {
  groups: Array<{ topicId: string, name?: string, secret?: Uint8Array, epochs?: Array<{ epoch: number, id: string, secret: Uint8Array }> }>
  identity?: { key: Uint8Array, name?: string, members?: BackupMember[] }
}

export type ParsedLine =
  | { kind: 'record', topicId: string, bytes: Buffer }
  | { kind: 'end', records: number }
  | { kind: 'bad', reason: string }

/** The start of every record line of a group: `{"topicId":"…","envelope":"` */
export function recordLinePrefix (topicId: string): string {
  return `{"topicId":${JSON.stringify(topicId)},"envelope":"`
}

export const RECORD_LINE_SUFFIX = '"}\n'

export function endLine (records: number): string {
  return JSON.stringify({ end: true, records }) + '\n'
}

export function headerLine (header: BackupHeader): string {
  return JSON.stringify(header) + '\n'
}

/** JSON.parse of one line; InvalidBackupError naming the line when it is not JSON. */
export function parseJsonLine (line: Buffer | string, lineNo: number): unknown {
  try {
    return JSON.parse(typeof line === 'string' ? line : line.toString('utf8'))
  } catch {
    throw new InvalidBackupError(`line ${lineNo} is not JSON: this is not a p2p-chat backup, or it is damaged`)
  }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Check a header object (line 1 of the plain text). Throws InvalidBackupError saying what is wrong. */
export function parseHeader (value: unknown): ParsedHeader {
  if (!isObject(value) || typeof value.format !== 'string') {
    throw new InvalidBackupError('line 1 is not a p2p-chat backup header (no "format")')
  }
  if (value.format !== BACKUP_FORMAT) {
    throw new InvalidBackupError(`line 1: unknown format ${JSON.stringify(value.format)}, expected "${BACKUP_FORMAT}"`)
  }
  if (value.version !== BACKUP_VERSION) {
    throw new InvalidBackupError(`unknown backup format version ${JSON.stringify(value.version)}: this p2p-chat reads version ${BACKUP_VERSION}; a newer p2p-chat may read it`)
  }
  if (typeof value.createdAt !== 'string') throw new InvalidBackupError('header: "createdAt" is missing')
  if (value.peerId !== null && typeof value.peerId !== 'string') throw new InvalidBackupError('header: "peerId" must be a string or null')
  if (!Array.isArray(value.groups)) throw new InvalidBackupError('header: "groups" must be an array')
  const expected = value.expectedRecords
  if (typeof expected !== 'number' || !Number.isSafeInteger(expected) || expected < 0) {
    throw new InvalidBackupError('header: "expectedRecords" must be a whole number')
  }
  const seen = new Set<string>()
  const groups = value.groups.map((g: unknown, i: number) => {
    if (!isObject(g)) throw new InvalidBackupError(`header: group ${i} is not an object`)
    let topicId: string
    try {
      topicId = validateTopicId(g.topicId)
    } catch (err: unknown) {
      throw new InvalidBackupError(`header: group ${i}: ${errorMessage(err)}`)
    }
    if (seen.has(topicId)) throw new InvalidBackupError(`header: group "${topicId}" is listed twice`)
    seen.add(topicId)
    if (g.name != null && (typeof g.name !== 'string' || g.name.length > MAX_GROUP_NAME)) {
      throw new InvalidBackupError(`header: group "${topicId}": "name" must be a string of at most ${MAX_GROUP_NAME} characters`)
    }
    let secret: Uint8Array | undefined
    if (g.secret != null) {
      try {
        secret = parseSecret(g.secret)
      } catch {
        throw new InvalidBackupError(`header: group "${topicId}": "secret" is not a group secret`)
      }
    }
    let epochs: Array<{ epoch: number, id: string, secret: Uint8Array }> | undefined
    if (g.epochs != null) {
      if (secret == null || !Array.isArray(g.epochs) || g.epochs.length > MAX_BACKUP_EPOCHS) throw new InvalidBackupError(`header: group "${topicId}": "epochs" must be an array of at most ${MAX_BACKUP_EPOCHS}, beside "secret"`)
      const ids = new Set<string>()
      epochs = g.epochs.map((e: unknown, j: number) => {
        if (!isObject(e) || typeof e.epoch !== 'number' || !Number.isSafeInteger(e.epoch) || e.epoch < 1 || e.epoch > 0xffffffff || typeof e.id !== 'string' || !/^[0-9a-f]{64}$/.test(e.id) || ids.has(e.id)) {
          throw new InvalidBackupError(`header: group "${topicId}": epoch ${j} needs a whole "epoch" from 1, a unique "id" of 64 hex characters and a "secret"`)
        }
        ids.add(e.id)
        try {
          return { epoch: e.epoch, id: e.id, secret: parseSecret(e.secret) }
        } catch {
          throw new InvalidBackupError(`header: group "${topicId}": epoch ${j}: "secret" is not a group secret`)
        }
      })
    }
    return { topicId, name: g.name ?? undefined, secret, ...(epochs != null && epochs.length > 0 ? { epochs } : {}) }
  })
  let identity: ParsedHeader['identity']
  if (value.identity != null) {
    const id = value.identity
    if (!isObject(id) || typeof id.key !== 'string' || id.key.length % 4 !== 0 || !BASE64_RE.test(id.key)) throw new InvalidBackupError('header: "identity" must hold a base64 "key"')
    if (id.name != null && typeof id.name !== 'string') throw new InvalidBackupError('header: "identity.name" must be a string')
    let members: BackupMember[] | undefined
    if (id.members != null) {
      if (!Array.isArray(id.members) || id.members.length > MAX_BACKUP_MEMBERS) throw new InvalidBackupError(`header: "identity.members" must be a list of at most ${MAX_BACKUP_MEMBERS}`)
      members = id.members.map((m: unknown, i: number) => {
        if (!isObject(m) || typeof m.peerId !== 'string' || !Array.isArray(m.addrs) || m.addrs.length > MAX_BACKUP_MEMBER_ADDRS || !m.addrs.every((a: unknown) => typeof a === 'string' && a.startsWith('/') && a.length <= 1024)) {
          throw new InvalidBackupError(`header: "identity.members[${i}]" must be { peerId, addrs: [multiaddr, …] } with at most ${MAX_BACKUP_MEMBER_ADDRS} addresses`)
        }
        return { peerId: m.peerId, addrs: m.addrs as string[] }
      })
    }
    identity = { key: Buffer.from(id.key, 'base64'), ...(typeof id.name === 'string' ? { name: id.name } : {}), ...(members != null ? { members } : {}) }
  }
  return {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: value.createdAt,
    peerId: value.peerId,
    groups,
    expectedRecords: expected,
    ...(identity != null ? { identity } : {})
  }
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/

/** One line after the header: a record, the end line, or what is wrong with it. Never throws. */
export function parseLine (line: Buffer): ParsedLine {
  if (line.byteLength === 0) return { kind: 'bad', reason: 'empty line' }
  let value: unknown
  try {
    value = JSON.parse(line.toString('utf8'))
  } catch {
    return { kind: 'bad', reason: 'not JSON' }
  }
  if (!isObject(value)) return { kind: 'bad', reason: 'not a record' }
  if (value.end === true) {
    const records = value.records
    if (typeof records !== 'number' || !Number.isSafeInteger(records) || records < 0) return { kind: 'bad', reason: 'end line without a record count' }
    return { kind: 'end', records }
  }
  const { topicId, envelope } = value
  if (typeof topicId !== 'string' || typeof envelope !== 'string') return { kind: 'bad', reason: 'not a record (needs "topicId" and "envelope")' }
  if (envelope.length % 4 !== 0 || !BASE64_RE.test(envelope)) return { kind: 'bad', reason: 'envelope is not base64' }
  return { kind: 'record', topicId, bytes: Buffer.from(envelope, 'base64') }
}
