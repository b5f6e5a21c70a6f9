import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { logger } from '@libp2p/logger'
import { JournalRecord } from './pb/journal.js'
import { DataDirError, DiskFullError, errorMessage } from '../errors.js'
import type { StorableMessage } from './store.js'

const log = logger('p2p-chat:store:journal')

/**
 * The history's journal (issue 16): every message a history batch claims is
 * appended here, synchronously, before the batch is handed to LevelDB. So a
 * message is on disk (in the page cache, as LevelDB's own unsynced log is)
 * the moment it is claimed, and the node can announce, forward and publish it
 * without waiting for LevelDB's write, which goes through the thread pool
 * and, on a busy event loop, costs one or more turns of it. When the history
 * opens, what the journal holds is written to LevelDB (duplicates skipped),
 * then the journal is emptied.
 *
 * Two files, used in turn: appends go to the active one; once it is past
 * `rotateBytes` and the other is empty, appends move to the other. A file
 * is emptied once every record in it is in LevelDB: the other one at once,
 * the active one once it has reached `rotateBytes`. A record whose LevelDB
 * write failed (a full disk) keeps its file until the store has written it
 * after all (`recovered`; HistoryStore retries) or the next start does.
 *
 * Frame: u32 LE length of the record, u32 LE CRC-32 of the record, the
 * record (JournalRecord, pb/journal.proto). A torn or corrupt frame ends the
 * file: what follows it is not read (a crash tears only the last append).
 */
export interface JournalEntry { groupId: string, msg: StorableMessage }

/** a frame's record at most: a sealed envelope is 8 KiB at most, its search terms 256 of 40 characters */
export const MAX_JOURNAL_RECORD = 64 * 1024
/** a file's size past which appends move to the other file. Default 4 MiB */
export const DEFAULT_ROTATE_BYTES = 4 << 20
const HEADER = 8

/** The frames of entries, one buffer. Pure. */
export function encodeJournal (entries: JournalEntry[]): Uint8Array {
  const frames = entries.map(({ groupId, msg }) => {
    const record = JournalRecord.encode({
      groupId,
      id: msg.id as Uint8Array<ArrayBuffer>,
      bytes: msg.bytes as Uint8Array<ArrayBuffer>,
      author: msg.author as Uint8Array<ArrayBuffer>,
      seq: msg.seq,
      lamport: msg.lamport,
      timestamp: msg.timestamp,
      ...(msg.idempotencyKey != null ? { idempotencyKey: msg.idempotencyKey } : {}),
      ...(msg.arrivedLate != null ? { arrivedLate: BigInt(msg.arrivedLate) } : {}),
      misordered: msg.misordered === true,
      terms: msg.terms ?? [],
      ...(msg.edits != null ? { edits: msg.edits } : {})
    })
    const frame = Buffer.allocUnsafe(HEADER + record.byteLength)
    frame.writeUInt32LE(record.byteLength, 0)
    frame.writeUInt32LE(crc32(record), 4)
    frame.set(record, HEADER)
    return frame
  })
  return Buffer.concat(frames)
}

/**
 * The entries of a journal file, in order, up to the first frame that is
 * torn, corrupt or out of bounds (`dropped`: the bytes not read). Never
 * throws. Pure.
 */
export function decodeJournal (data: Uint8Array): { entries: JournalEntry[], dropped: number } {
  const entries: JournalEntry[] = []
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let at = 0
  while (at + HEADER <= buf.byteLength) {
    const length = buf.readUInt32LE(at)
    if (length === 0 || length > MAX_JOURNAL_RECORD || at + HEADER + length > buf.byteLength) break
    const record = buf.subarray(at + HEADER, at + HEADER + length)
    if (crc32(record) !== buf.readUInt32LE(at + 4)) break
    let r: JournalRecord
    try {
      r = JournalRecord.decode(record, { limits: { terms: 256 } })
    } catch {
      break
    }
    if (r.id.byteLength !== 32 || r.author.byteLength !== 32 || r.bytes.byteLength === 0 || !/^[0-9a-f]+$/.test(r.groupId)) break
    entries.push({
      groupId: r.groupId,
      msg: {
        id: r.id,
        bytes: r.bytes,
        author: r.author,
        seq: r.seq,
        lamport: r.lamport,
        timestamp: r.timestamp,
        ...(r.idempotencyKey != null ? { idempotencyKey: r.idempotencyKey } : {}),
        ...(r.arrivedLate != null ? { arrivedLate: Number(r.arrivedLate) } : {}),
        ...(r.misordered ? { misordered: true } : {}),
        ...(r.terms.length > 0 ? { terms: r.terms } : {}),
        ...(r.edits != null ? { edits: r.edits } : {})
      }
    })
    at += HEADER + length
  }
  return { entries, dropped: buf.byteLength - at }
}

/** outstanding: records appended whose LevelDB write is under way; failed: records whose LevelDB write failed and that are not written since */
interface JournalFile { path: string, fd: number, size: number, outstanding: number, failed: number }

/** which file an append went to: hand it back to `settled` once its batch's LevelDB write ended */
export type JournalTicket = number

export class Journal {
  private readonly files: [JournalFile, JournalFile]
  private active = 0
  private readonly rotateBytes: number
  private closed = false
  /** a failed append could not be cut off: no more appends (the reader stops at its torn frame) */
  private broken = false

  /** Opens (creates) `${base}.0` and `${base}.1`. Throws DataDirError. */
  constructor (base: string, options: { rotateBytes?: number } = {}) {
    this.rotateBytes = options.rotateBytes ?? DEFAULT_ROTATE_BYTES
    const open = (path: string): JournalFile => {
      try {
        const fd = openSync(path, 'a', 0o600)
        return { path, fd, size: fstatSync(fd).size, outstanding: 0, failed: 0 }
      } catch (err) {
        throw new DataDirError(`cannot open the history database at ${path} (its journal): ${errorMessage(err)}`, { cause: err })
      }
    }
    const first = open(`${base}.0`)
    try {
      this.files = [first, open(`${base}.1`)]
    } catch (err) {
      closeSync(first.fd)
      throw err
    }
  }

  /**
   * What the files hold (after a crash: records that may not be in LevelDB).
   * Their order does not matter: LevelDB keys history by Lamport value, and
   * a record read twice is a duplicate.
   */
  read (): JournalEntry[] {
    const out: JournalEntry[] = []
    for (const f of this.files) {
      if (f.size === 0) continue
      const { entries, dropped } = decodeJournal(readFileSync(f.path))
      if (dropped > 0) log('%s: %d bytes after the last whole record not read (a torn append)', f.path, dropped)
      out.push(...entries)
    }
    return out
  }

  /** Empty both files: what they held is in LevelDB. */
  reset (): void {
    for (const f of this.files) this.truncate(f)
    this.active = 0
  }

  /** Is every record appended in LevelDB (no write under way, none failed)? */
  clean (): boolean {
    return this.files.every(f => f.outstanding === 0 && f.failed === 0)
  }

  /**
   * Append the entries, before their batch goes to LevelDB. Synchronous: on
   * return they are in the file. Throws DiskFullError or DataDirError, and
   * then the file is as before.
   */
  append (entries: JournalEntry[]): JournalTicket {
    if (this.closed) throw new DataDirError('the history journal is closed')
    if (this.broken) throw new DataDirError(`cannot write to the history database at ${this.files[this.active].path} (its journal): an earlier failed write could not be cut off: restart the node`)
    const other = this.files[1 - this.active]
    if (this.files[this.active].size >= this.rotateBytes && other.size === 0 && other.outstanding === 0 && other.failed === 0) this.active = 1 - this.active
    const f = this.files[this.active]
    const data = encodeJournal(entries)
    let written = 0
    try {
      while (written < data.byteLength) written += writeSync(f.fd, data, written)
    } catch (err) {
      // a part written: cut it off, so that the next append does not follow a torn frame (nor read back a
      // record of this failed batch); should that fail too, the file is closed for appends
      if (written > 0) {
        try {
          ftruncateSync(f.fd, f.size)
        } catch {
          this.broken = true
        }
      }
      const why = errorMessage(err)
      if (/ENOSPC/.test(why)) throw new DiskFullError(`cannot write to the history database at ${f.path} (its journal): the disk is full (${why}): free some space; nothing acknowledged is lost`, { cause: err })
      throw new DataDirError(`cannot write to the history database at ${f.path} (its journal): ${why}`, { cause: err })
    }
    f.size += data.byteLength
    f.outstanding += entries.length
    return this.active
  }

  /** The LevelDB write of an append's batch ended: a file all of whose records are in LevelDB is emptied. */
  settled (ticket: JournalTicket, count: number, ok: boolean): void {
    const f = this.files[ticket]
    f.outstanding -= count
    if (!ok) f.failed += count
    this.maybeEmpty(ticket)
  }

  /** Records whose LevelDB write had failed are in LevelDB now. */
  recovered (ticket: JournalTicket, count: number): void {
    const f = this.files[ticket]
    f.failed = Math.max(0, f.failed - count)
    this.maybeEmpty(ticket)
  }

  private maybeEmpty (ticket: JournalTicket): void {
    const f = this.files[ticket]
    if (this.closed || f.outstanding > 0 || f.failed > 0 || f.size === 0) return
    // the active file only once it is big: emptying costs a system call, appends are many
    if (ticket !== this.active || f.size >= this.rotateBytes) this.truncate(f)
  }

  /** Bytes in the files now (for tests and status) */
  sizes (): [number, number] {
    return [this.files[0].size, this.files[1].size]
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    for (const f of this.files) closeSync(f.fd)
  }

  private truncate (f: JournalFile): void {
    try {
      ftruncateSync(f.fd, 0)
      f.size = 0
    } catch (err) {
      // kept: the next start writes its records again (duplicates are skipped)
      log.error('cannot empty %s: %e', f.path, err)
    }
  }
}
