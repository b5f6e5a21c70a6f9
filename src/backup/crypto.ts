/**
 * Passphrase encryption of a whole backup, streamed in authenticated chunks
 * (docs/BACKUP.md, "Encrypted backups"):
 *
 *   line 1 (clear): {"format":"p2p-chat-backup-encrypted","version":1,"cipher":"aes-256-gcm",
 *                    "kdf":{"name":"scrypt","N":…,"r":…,"p":…,"salt":…},"chunkSize":…,"nonce":…,"check":…}
 *   then frames:    flag (1 byte: 0 more, 1 last) | length (4 bytes BE) | ciphertext | GCM tag (16)
 *
 * scrypt(passphrase, salt) is the master key; HKDF-SHA256 derives the AES
 * key and the `check` value (which tells a wrong passphrase apart from an
 * altered file). Each frame's nonce is nonce prefix (7) | frame counter
 * (4, BE) | flag (1), and its AAD is line 1: frames cannot be reordered,
 * dropped, moved to another file or marked last, and a file cut short has
 * no last frame.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { InvalidBackupError, InvalidInputError, WrongPassphraseError } from '../errors.js'

export const ENCRYPTED_FORMAT = 'p2p-chat-backup-encrypted'
export const ENCRYPTED_VERSION = 1
export const CIPHER = 'aes-256-gcm'
/** Plaintext bytes per frame */
export const DEFAULT_CHUNK_SIZE = 64 * 1024
const MAX_CHUNK_SIZE = 1024 * 1024

export interface ScryptParams { N: number, r: number, p: number }
/** scrypt cost: 2^17 × 8 × 128 B = 128 MiB and about half a second, once per export or import */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 }
/** Largest scrypt work a file may ask for (N × r × p): 4 times the default's, about 2 s; a file cannot make an import spin for minutes */
export const MAX_SCRYPT_WORK = 4 * DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p
/** Largest scrypt memory a file may ask for (128 × N × r bytes) */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

const SALT_LENGTH = 16
const NONCE_PREFIX_LENGTH = 7
const CHECK_LENGTH = 32
const TAG_LENGTH = 16
const FRAME_HEAD_LENGTH = 5
const FLAG_MORE = 0
const FLAG_LAST = 1
const MAX_FRAMES = 2 ** 32
const KEY_INFO = Buffer.from('p2p-chat/backup/1/key', 'utf8')
const CHECK_INFO = Buffer.from('p2p-chat/backup/1/check', 'utf8')

export interface EncryptedHeader {
  format: typeof ENCRYPTED_FORMAT
  version: typeof ENCRYPTED_VERSION
  cipher: typeof CIPHER
  kdf: ScryptParams & { name: 'scrypt', salt: string }
  chunkSize: number
  /** base64 of the 7-byte nonce prefix */
  nonce: string
  /** base64 of a 32-byte value derived from the passphrase: a wrong passphrase is told apart from a damaged file */
  check: string
}

interface Keys { key: Buffer, check: Buffer }

function checkPassphrase (passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase === '') throw new InvalidInputError('the passphrase is empty')
  return passphrase.normalize('NFC')
}

async function deriveKeys (passphrase: string, salt: Buffer, params: ScryptParams): Promise<Keys> {
  const maxmem = 128 * params.N * params.r * params.p + 32 * 1024 * 1024
  const master = await new Promise<Buffer>((resolve, reject) => {
    const refused = (err: Error): void => { reject(new InvalidBackupError(`encrypted backup header: scrypt refused its parameters (${err.message})`, { cause: err })) }
    try {
      scrypt(passphrase, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => { if (err != null) refused(err); else resolve(key) })
    } catch (err) {
      // node checks some parameters before it starts (RangeError)
      refused(err instanceof Error ? err : new Error(String(err)))
    }
  })
  return {
    key: Buffer.from(hkdfSync('sha256', master, salt, KEY_INFO, 32)),
    check: Buffer.from(hkdfSync('sha256', master, salt, CHECK_INFO, CHECK_LENGTH))
  }
}

function nonceFor (prefix: Buffer, counter: number, flag: number): Buffer {
  const nonce = Buffer.alloc(12)
  prefix.copy(nonce, 0)
  nonce.writeUInt32BE(counter, NONCE_PREFIX_LENGTH)
  nonce[11] = flag
  return nonce
}

export interface Encryptor {
  /** line 1 of the file, newline included */
  headerLine: Buffer
  /** turns the plaintext stream into frames */
  frames: (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Buffer>
}

/** Keys and header for a new encrypted backup. */
export async function createEncryptor (passphraseInput: string, options: { scrypt?: ScryptParams, chunkSize?: number } = {}): Promise<Encryptor> {
  const passphrase = checkPassphrase(passphraseInput)
  const params = options.scrypt ?? DEFAULT_SCRYPT
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const salt = randomBytes(SALT_LENGTH)
  const prefix = randomBytes(NONCE_PREFIX_LENGTH)
  const { key, check } = await deriveKeys(passphrase, salt, params)
  const header: EncryptedHeader = {
    format: ENCRYPTED_FORMAT,
    version: ENCRYPTED_VERSION,
    cipher: CIPHER,
    kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, salt: salt.toString('base64') },
    chunkSize,
    nonce: prefix.toString('base64'),
    check: check.toString('base64')
  }
  const aad = Buffer.from(JSON.stringify(header), 'utf8')
  let counter = 0
  const frame = (plain: Buffer, flag: number): Buffer => {
    if (counter >= MAX_FRAMES) throw new InvalidInputError('backup too large for one file')
    const cipher = createCipheriv(CIPHER, key, nonceFor(prefix, counter++, flag), { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    const head = Buffer.alloc(FRAME_HEAD_LENGTH)
    head[0] = flag
    head.writeUInt32BE(plain.byteLength, 1)
    return Buffer.concat([head, cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  }
  async function * frames (source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    let parts: Buffer[] = []
    let size = 0
    for await (const chunk of source) {
      parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      size += chunk.byteLength
      // keep at least one byte back: the last frame is never empty unless the input was
      while (size > chunkSize) {
        const all = Buffer.concat(parts, size)
        yield frame(all.subarray(0, chunkSize), FLAG_MORE)
        parts = [all.subarray(chunkSize)]
        size -= chunkSize
      }
    }
    yield frame(Buffer.concat(parts, size), FLAG_LAST)
  }
  return { headerLine: Buffer.concat([aad, Buffer.from('\n')]), frames }
}

export interface Decryptor {
  /** decrypts frames read by `read(n)` into plaintext chunks; InvalidBackupError on damage */
  plaintext: (read: (n: number) => Promise<Buffer>) => AsyncGenerator<Buffer>
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkInt (v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidBackupError(`encrypted backup header: ${what} is out of range`)
  }
  return v
}

function base64Field (v: unknown, length: number, what: string): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v, 'base64') : undefined
  if (b?.byteLength !== length) throw new InvalidBackupError(`encrypted backup header: ${what} is malformed`)
  return b
}

/**
 * Check the clear header (line 1, exactly as read) and the passphrase.
 * WrongPassphraseError when the passphrase does not match.
 */
export async function createDecryptor (headerValue: Record<string, unknown>, headerBytes: Buffer, passphraseInput: string | undefined): Promise<Decryptor> {
  if (headerValue.version !== ENCRYPTED_VERSION) {
    throw new InvalidBackupError(`unknown encrypted backup version ${JSON.stringify(headerValue.version)}: this p2p-chat reads version ${ENCRYPTED_VERSION}`)
  }
  if (headerValue.cipher !== CIPHER) throw new InvalidBackupError(`encrypted backup: unknown cipher ${JSON.stringify(headerValue.cipher)}`)
  const kdf = headerValue.kdf
  if (!isObject(kdf) || kdf.name !== 'scrypt') throw new InvalidBackupError('encrypted backup: unknown key derivation')
  const N = checkInt(kdf.N, 2, 2 ** 24, 'kdf.N')
  const r = checkInt(kdf.r, 1, 64, 'kdf.r')
  const p = checkInt(kdf.p, 1, 16, 'kdf.p')
  if ((N & (N - 1)) !== 0 || 128 * N * r > MAX_SCRYPT_MEMORY || N * r * p > MAX_SCRYPT_WORK) throw new InvalidBackupError('encrypted backup header: scrypt parameters are out of range (this p2p-chat derives keys at most 4 times as costly as its own)')
  const salt = base64Field(kdf.salt, SALT_LENGTH, 'kdf.salt')
  const chunkSize = checkInt(headerValue.chunkSize, 1, MAX_CHUNK_SIZE, 'chunkSize')
  const prefix = base64Field(headerValue.nonce, NONCE_PREFIX_LENGTH, 'nonce')
  const expectedCheck = base64Field(headerValue.check, CHECK_LENGTH, 'check')
  if (passphraseInput == null) throw new InvalidInputError('this backup is encrypted: give its passphrase')
  const { key, check } = await deriveKeys(checkPassphrase(passphraseInput), salt, { N, r, p })
  if (!timingSafeEqual(check, expectedCheck)) throw new WrongPassphraseError()

  async function * plaintext (read: (n: number) => Promise<Buffer>): AsyncGenerator<Buffer> {
    for (let counter = 0; ; counter++) {
      const head = await read(FRAME_HEAD_LENGTH)
      if (head.byteLength < FRAME_HEAD_LENGTH) {
        throw new InvalidBackupError(`the encrypted backup is truncated: it ends ${head.byteLength === 0 ? 'after' : 'inside'} chunk ${counter} without its last chunk`)
      }
      const flag = head[0]
      const length = head.readUInt32BE(1)
      if ((flag !== FLAG_MORE && flag !== FLAG_LAST) || length > chunkSize || (flag === FLAG_MORE && length !== chunkSize)) {
        throw new InvalidBackupError(`encrypted chunk ${counter} has a damaged frame header`)
      }
      const body = await read(length + TAG_LENGTH)
      if (body.byteLength < length + TAG_LENGTH) throw new InvalidBackupError(`the encrypted backup is truncated inside chunk ${counter}`)
      let plain: Buffer
      try {
        const decipher = createDecipheriv(CIPHER, key, nonceFor(prefix, counter, flag), { authTagLength: TAG_LENGTH })
        decipher.setAAD(headerBytes)
        decipher.setAuthTag(body.subarray(length))
        plain = Buffer.concat([decipher.update(body.subarray(0, length)), decipher.final()])
      } catch {
        throw new InvalidBackupError(`encrypted chunk ${counter} fails authentication: the file was altered or damaged`)
      }
      yield plain
      if (flag === FLAG_LAST) {
        if ((await read(1)).byteLength !== 0) throw new InvalidBackupError(`unexpected data after the last encrypted chunk (${counter})`)
        return
      }
    }
  }
  return { plaintext }
}
