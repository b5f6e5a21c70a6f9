/**
 * Incremental reading of a byte stream: lines (bounded in length, so a file
 * without newlines cannot fill memory) and exact byte counts (encrypted
 * frames). Memory held is one input chunk plus the current line or frame.
 */

const NEWLINE = 0x0a
const EMPTY = Buffer.alloc(0)

export type LineResult =
  | { line: Buffer, tooLong: false, terminated: boolean }
  | { tooLong: true, terminated: boolean }

function toBuffer (chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

export class ByteReader {
  private buf: Buffer = EMPTY
  private readonly it: AsyncIterator<Uint8Array | string>
  private ended = false

  constructor (source: AsyncIterable<Uint8Array | string>) {
    this.it = source[Symbol.asyncIterator]()
  }

  /** Pull the next chunk into the buffer; false at the end of the source. */
  private async fill (): Promise<boolean> {
    while (!this.ended) {
      const next = await this.it.next()
      if (next.done === true) {
        this.ended = true
        return false
      }
      const chunk = toBuffer(next.value)
      if (chunk.byteLength === 0) continue
      this.buf = this.buf.byteLength === 0 ? chunk : Buffer.concat([this.buf, chunk])
      return true
    }
    return false
  }

  /**
   * The next line without its newline, or undefined at the end. A line longer
   * than `max` bytes is skipped up to its newline and reported as `tooLong`.
   * `terminated` is false for a last line that has no newline.
   */
  async readLine (max: number): Promise<LineResult | undefined> {
    const parts: Buffer[] = []
    let length = 0
    let tooLong = false
    while (true) {
      if (this.buf.byteLength === 0 && !await this.fill()) {
        if (length === 0 && !tooLong) return undefined
        return tooLong ? { tooLong, terminated: false } : { line: concat(parts, length), tooLong, terminated: false }
      }
      const at = this.buf.indexOf(NEWLINE)
      const piece = at === -1 ? this.buf : this.buf.subarray(0, at)
      this.buf = at === -1 ? EMPTY : this.buf.subarray(at + 1)
      if (!tooLong) {
        length += piece.byteLength
        if (length > max) {
          tooLong = true
          parts.length = 0
        } else {
          parts.push(piece)
        }
      }
      if (at !== -1) {
        return tooLong ? { tooLong, terminated: true } : { line: concat(parts, length), tooLong, terminated: true }
      }
    }
  }

  /** Exactly `n` bytes; fewer only at the end of the source (empty when nothing was left). */
  async read (n: number): Promise<Buffer> {
    while (this.buf.byteLength < n && await this.fill()) { /* fill */ }
    const out = this.buf.subarray(0, Math.min(n, this.buf.byteLength))
    this.buf = this.buf.subarray(out.byteLength)
    return out
  }

  /** Stop reading: lets a file stream underneath close. */
  async close (): Promise<void> {
    this.buf = EMPTY
    if (!this.ended) {
      this.ended = true
      await this.it.return?.()
    }
  }
}

function concat (parts: Buffer[], length: number): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, length)
}
