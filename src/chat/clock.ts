/**
 * Per group: the last sequence number this node wrote as an author, and the
 * group's Lamport clock. The one place either advances (own sends, ingest,
 * imports); pure bookkeeping, no I/O.
 */
export interface ClockReading {
  /** this author's last sequence number in the group */
  seq: bigint
  /** the highest Lamport value seen in the group */
  lamport: bigint
}

export class GroupClocks {
  private readonly readings = new Map<string, ClockReading>()

  /** Has the group's reading been loaded from the store? */
  has (groupId: string): boolean {
    return this.readings.has(groupId)
  }

  /** Set the reading loaded from the store (on subscribe). */
  load (groupId: string, reading: ClockReading): void {
    this.readings.set(groupId, { ...reading })
  }

  /** The current reading (zeros for a group not loaded). */
  read (groupId: string): ClockReading {
    const r = this.readings.get(groupId)
    return r != null ? { ...r } : { seq: 0n, lamport: 0n }
  }

  /**
   * Numbers for `count` new own messages after the current reading, without
   * taking them: the caller calls `observe` once they are on disk, so a
   * failed write leaves no gap.
   */
  peekNext (groupId: string, count: number): ClockReading[] {
    let { seq, lamport } = this.read(groupId)
    const out: ClockReading[] = []
    for (let i = 0; i < count; i++) out.push({ seq: ++seq, lamport: ++lamport })
    return out
  }

  /**
   * A message is on disk: raise the clock to its Lamport value and, when it
   * is ours (`own`), our sequence number to its seq. Never lowers either.
   */
  observe (groupId: string, lamport: bigint, own: boolean, seq: bigint): void {
    const r = this.readings.get(groupId) ?? { seq: 0n, lamport: 0n }
    if (lamport > r.lamport) r.lamport = lamport
    if (own && seq > r.seq) r.seq = seq
    this.readings.set(groupId, r)
  }

  forget (groupId: string): void {
    this.readings.delete(groupId)
  }
}
