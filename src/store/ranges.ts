/**
 * A set of sequence numbers kept as sorted, disjoint, non-adjacent inclusive
 * ranges. Pure. Appending the next number (the usual case) is O(1).
 */
export class RangeSet {
  private readonly starts: bigint[] = []
  private readonly ends: bigint[] = []

  /** From a flat list `[start1, end1, start2, end2, ...]` (any order, may overlap). */
  static fromFlat (flat: readonly bigint[]): RangeSet {
    const set = new RangeSet()
    for (let i = 0; i + 1 < flat.length; i += 2) set.addRange(flat[i], flat[i + 1])
    return set
  }

  /** number of ranges */
  get size (): number { return this.starts.length }

  /** true when empty */
  get empty (): boolean { return this.starts.length === 0 }

  /** lowest number held, or undefined */
  get first (): bigint | undefined { return this.starts[0] }

  /** highest number held, or undefined */
  get last (): bigint | undefined { return this.ends[this.ends.length - 1] }

  /** index of the last range whose start is <= n, or -1 */
  private floor (n: bigint): number {
    let lo = 0
    let hi = this.starts.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.starts[mid] <= n) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  has (n: bigint): boolean {
    const i = this.floor(n)
    return i >= 0 && this.ends[i] >= n
  }

  /** Add one number; false when it was already there. */
  add (n: bigint): boolean {
    const k = this.ends.length - 1
    if (k < 0 || n > this.ends[k] + 1n) {
      this.starts.push(n)
      this.ends.push(n)
      return true
    }
    if (n === this.ends[k] + 1n) {
      this.ends[k] = n
      return true
    }
    if (this.has(n)) return false
    this.addRange(n, n)
    return true
  }

  /** Add every number of [start, end]. */
  addRange (start: bigint, end: bigint): void {
    if (end < start) return
    // ranges that overlap or touch [start, end] are merged into it
    let i = this.floor(start)
    if (i >= 0 && this.ends[i] + 1n >= start) {
      start = this.starts[i] < start ? this.starts[i] : start
    } else {
      i++
    }
    let j = i
    while (j < this.starts.length && this.starts[j] <= end + 1n) {
      if (this.ends[j] > end) end = this.ends[j]
      j++
    }
    this.starts.splice(i, j - i, start)
    this.ends.splice(i, j - i, end)
  }

  /** True when every number of [start, end] is held. */
  hasRange (start: bigint, end: bigint): boolean {
    const i = this.floor(start)
    return i >= 0 && this.ends[i] >= end
  }

  /** The lowest `n` numbers held, as a new set. */
  take (n: bigint): RangeSet {
    const out = new RangeSet()
    for (let i = 0; i < this.starts.length && n > 0n; i++) {
      const len = this.ends[i] - this.starts[i] + 1n
      const k = len < n ? len : n
      out.starts.push(this.starts[i])
      out.ends.push(this.starts[i] + k - 1n)
      n -= k
    }
    return out
  }

  /** Add every number of `other`. */
  addAll (other: RangeSet): void {
    for (let i = 0; i < other.starts.length; i++) this.addRange(other.starts[i], other.ends[i])
  }

  /** Remove one number; false when it was not there. */
  delete (n: bigint): boolean {
    const i = this.floor(n)
    if (i < 0 || this.ends[i] < n) return false
    const s = this.starts[i]
    const e = this.ends[i]
    if (s === e) {
      this.starts.splice(i, 1)
      this.ends.splice(i, 1)
    } else if (n === s) {
      this.starts[i] = n + 1n
    } else if (n === e) {
      this.ends[i] = n - 1n
    } else {
      this.ends[i] = n - 1n
      this.starts.splice(i + 1, 0, n + 1n)
      this.ends.splice(i + 1, 0, e)
    }
    return true
  }

  /** How many numbers are held. */
  count (): bigint {
    let n = 0n
    for (let i = 0; i < this.starts.length; i++) n += this.ends[i] - this.starts[i] + 1n
    return n
  }

  /** True when every number from 1 to n is held. */
  coversPrefix (n: bigint): boolean {
    return this.starts.length > 0 && this.starts[0] === 1n && this.ends[0] >= n
  }

  /** The ranges as [start, end] pairs, ascending; at most `max` of them. */
  ranges (max = Infinity): Array<[bigint, bigint]> {
    const out: Array<[bigint, bigint]> = []
    for (let i = 0; i < this.starts.length && out.length < max; i++) out.push([this.starts[i], this.ends[i]])
    return out
  }

  /** Flat `[start1, end1, ...]`, at most `max` ranges. */
  toFlat (max = Infinity): bigint[] {
    const out: bigint[] = []
    for (let i = 0; i < this.starts.length && i < max; i++) out.push(this.starts[i], this.ends[i])
    return out
  }

  /** The numbers of this set that `other` lacks, at most up to `limit` (inclusive). */
  minus (other: RangeSet, limit?: bigint): RangeSet {
    const out = new RangeSet()
    let j = 0
    for (let i = 0; i < this.starts.length; i++) {
      let s = this.starts[i]
      let e = this.ends[i]
      if (limit != null) {
        if (s > limit) break
        if (e > limit) e = limit
      }
      while (j < other.starts.length && other.ends[j] < s) j++
      let k = j
      while (s <= e) {
        if (k >= other.starts.length || other.starts[k] > e) {
          out.starts.push(s)
          out.ends.push(e)
          break
        }
        if (other.starts[k] > s) {
          out.starts.push(s)
          out.ends.push(other.starts[k] - 1n)
        }
        s = other.ends[k] + 1n
        k++
      }
    }
    return out
  }

  clone (): RangeSet {
    const copy = new RangeSet()
    copy.starts.push(...this.starts)
    copy.ends.push(...this.ends)
    return copy
  }
}
