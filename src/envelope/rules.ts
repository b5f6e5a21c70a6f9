/**
 * The rules on an envelope's numbers, links and body that seal() and open()
 * share (docs/PROTOCOL.md, "Envelope rules"). Pure; each returns a reason
 * when a rule is broken, undefined when all hold.
 */
import type { Body, FileRef } from './pb/envelope.js'

export const KIND_TEXT = 1
export const KIND_REACTION = 2
export const KIND_EDIT = 3
export const KIND_DELETE = 4
export const KIND_FILE = 5
/** A membership op (src/membership, docs/PROTOCOL.md "Membership and epochs"): body field `op` only */
export const KIND_OP = 6
/** Kinds this version understands; a v2 kind above these (up to MAX_KIND) is kept and shown as unsupported */
export const KNOWN_KINDS: readonly number[] = [KIND_TEXT, KIND_REACTION, KIND_EDIT, KIND_DELETE, KIND_FILE, KIND_OP]
export const MAX_KIND = 0xffff

/** Largest message text, in UTF-8 bytes */
export const MAX_TEXT_BYTES = 4096
/** Largest display name, in UTF-8 bytes */
export const MAX_NAME_BYTES = 64
/** Largest reaction, in UTF-8 bytes (an emoji with modifiers and joiners) */
export const MAX_EMOJI_BYTES = 32
export const MAX_PARENTS = 4
export const MAX_MENTIONS = 16
/** Largest encoded membership op (kind 6), in bytes */
export const MAX_OP_BYTES = 4096
export const MAX_FILE_NAME_BYTES = 255
export const MAX_MIME_BYTES = 127
/** Largest file a FileRef may describe: 2^40 bytes (a node's own limit is lower, see src/files) */
export const MAX_FILE_REF_SIZE = 2n ** 40n
export const MIN_CHUNK_SIZE = 4096
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024
/** Largest Lamport value: 2^63 - 1, so that an increment always still encodes (uint64 varints wrap at 2^64) */
export const MAX_LAMPORT = (1n << 63n) - 1n
/** Largest timestamp: below 2^48 ms (the year 10889), what the store's sort key holds exactly */
export const MAX_TIMESTAMP = (1n << 48n) - 1n
/** Length of a message id (SHA-256) */
export const ID_LENGTH = 32

/**
 * seq and lamport from 1 to MAX_LAMPORT, timestamp at most MAX_TIMESTAMP,
 * and a kind the version allows: 1 only in version 1; 1 to MAX_KIND in
 * version 2 (0 is none).
 */
export function fieldProblem (seq: bigint, lamport: bigint, timestamp: bigint, kind: number, version: number): string | undefined {
  if (seq < 1n || seq > MAX_LAMPORT) return 'seq out of range'
  if (lamport < 1n || lamport > MAX_LAMPORT) return 'lamport out of range'
  if (timestamp < 0n || timestamp > MAX_TIMESTAMP) return 'timestamp out of range'
  if (version === 1 ? kind !== KIND_TEXT : kind < 1 || kind > MAX_KIND) return 'unknown kind'
  return undefined
}

/**
 * v2 links: `prev` is empty at seq 1 and a message id from seq 2; at most
 * MAX_PARENTS parents, each a message id, no two alike.
 */
export function linkProblem (seq: bigint, prev: Uint8Array, parents: Uint8Array[]): string | undefined {
  if (seq === 1n ? prev.byteLength !== 0 : prev.byteLength !== ID_LENGTH) return 'bad link'
  if (parents.length > MAX_PARENTS) return 'bad link'
  const seen = new Set<string>()
  for (const p of parents) {
    if (p.byteLength !== ID_LENGTH) return 'bad link'
    const k = Buffer.from(p).toString('hex')
    if (seen.has(k)) return 'bad link'
    seen.add(k)
  }
  return undefined
}

const bytesOf = (s: string): number => Buffer.byteLength(s)
const isId = (b: Uint8Array): boolean => b.byteLength === ID_LENGTH
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/** The fields a kind may carry; every other must be empty (one encoding per meaning) */
interface Shape {
  text: 'required' | 'optional' | 'none'
  replyTo: boolean
  target: boolean
  emoji: boolean
  remove: boolean
  file: boolean
  mentions: boolean
  /** kind 6: `op` required (1 to MAX_OP_BYTES bytes) */
  op?: boolean
}

const SHAPES: Record<number, Shape> = {
  [KIND_TEXT]: { text: 'required', replyTo: true, target: false, emoji: false, remove: false, file: false, mentions: true },
  [KIND_REACTION]: { text: 'none', replyTo: false, target: true, emoji: true, remove: true, file: false, mentions: false },
  [KIND_EDIT]: { text: 'required', replyTo: false, target: true, emoji: false, remove: false, file: false, mentions: true },
  [KIND_DELETE]: { text: 'none', replyTo: false, target: true, emoji: false, remove: false, file: false, mentions: false },
  [KIND_FILE]: { text: 'optional', replyTo: true, target: false, emoji: false, remove: false, file: true, mentions: false },
  [KIND_OP]: { text: 'none', replyTo: false, target: false, emoji: false, remove: false, file: false, mentions: false, op: true }
}

/**
 * The body of a message of `kind`: a non-empty name; the fields of its kind
 * within their limits and no others. Version 1 bodies are text and name
 * only. A v2 kind this version does not know: the name rules alone.
 */
export function bodyProblem (kind: number, body: Body, version: number): string | undefined {
  if (bytesOf(body.text) > MAX_TEXT_BYTES || bytesOf(body.name) > MAX_NAME_BYTES) return 'body too large'
  if (body.name.trim() === '') return 'empty name'
  const shape = version === 1 ? { ...SHAPES[KIND_TEXT], replyTo: false, mentions: false } : SHAPES[kind]
  if (shape == null) return undefined
  if (shape.text === 'required' && body.text.trim() === '') return 'empty text'
  if (shape.text === 'none' && body.text !== '') return 'field not of its kind'
  if (shape.target ? !isId(body.target) : body.target.byteLength !== 0) return shape.target ? 'bad target' : 'field not of its kind'
  if (body.replyTo.byteLength !== 0 && (!shape.replyTo || !isId(body.replyTo))) return 'bad reply'
  if (!shape.remove && body.remove) return 'field not of its kind'
  if (shape.emoji) {
    if (body.emoji.trim() === '' || bytesOf(body.emoji) > MAX_EMOJI_BYTES || CONTROL.test(body.emoji) || /\s/.test(body.emoji)) return 'bad emoji'
  } else if (body.emoji !== '') return 'field not of its kind'
  if (shape.file) {
    if (body.file == null) return 'bad file'
    const f = fileProblem(body.file)
    if (f != null) return f
  } else if (body.file != null) return 'field not of its kind'
  if (shape.op === true ? body.op == null || body.op.byteLength === 0 || body.op.byteLength > MAX_OP_BYTES : body.op != null) return shape.op === true ? 'bad op' : 'field not of its kind'
  if (body.mentions.length > 0) {
    if (!shape.mentions || body.mentions.length > MAX_MENTIONS || body.mentions.some(m => m.byteLength !== 32)) return 'bad mention'
  }
  return undefined
}

/** A file reference: a plain name, a size, hashes and key of their lengths, a power-of-two chunk size. */
export function fileProblem (f: FileRef): string | undefined {
  const n = f.name
  if (n === '' || n === '.' || n === '..' || bytesOf(n) > MAX_FILE_NAME_BYTES || /[/\\]/.test(n) || CONTROL.test(n) || n.trim() !== n) return 'bad file name'
  if (f.size < 1n || f.size > MAX_FILE_REF_SIZE) return 'bad file size'
  if (bytesOf(f.mime) > MAX_MIME_BYTES || !/^[\x21-\x7e]*$/.test(f.mime)) return 'bad file type'
  if (!isId(f.hash) || !isId(f.manifest) || f.key.byteLength !== 32) return 'bad file hash'
  const c = f.chunkSize
  if (c < MIN_CHUNK_SIZE || c > MAX_CHUNK_SIZE || (c & (c - 1)) !== 0) return 'bad chunk size'
  if (f.width > 65535 || f.height > 65535) return 'bad image size'
  return undefined
}
