import { RangeSet } from '../store/index.js'

/** ms a claim keeps other sessions away from its seqs; after that they may fetch them too */
export const DEFAULT_CLAIM_HOLD = 2_000

interface Claim { set: RangeSet, at: number }

/**
 * Seqs of each group that a session of this node is fetching now: other
 * sessions leave them alone for a while (`hold` ms), so a node catching up
 * from several members at once gets each record once. A claim older than
 * that no longer keeps others away: a peer that claims a range and answers
 * slowly, or not at all, cannot stop the others from serving it. Shared by
 * all sessions of one SyncService.
 */
export class Claims {
  readonly hold: number
  private readonly groups = new Map<string, Map<string, Claim[]>>()

  constructor (hold = DEFAULT_CLAIM_HOLD) {
    this.hold = hold
  }

  /** The seqs of `author` claimed less than `hold` ms ago, or undefined. */
  get (groupId: string, author: string, now = Date.now()): RangeSet | undefined {
    let out: RangeSet | undefined
    for (const claim of this.groups.get(groupId)?.get(author) ?? []) {
      if (now - claim.at >= this.hold) continue
      out ??= new RangeSet()
      out.addAll(claim.set)
    }
    return out
  }

  add (groupId: string, author: string, set: RangeSet, now = Date.now()): void {
    let authors = this.groups.get(groupId)
    if (authors == null) this.groups.set(groupId, authors = new Map<string, Claim[]>())
    let claims = authors.get(author)
    if (claims == null) authors.set(author, claims = [])
    claims.push({ set: set.clone(), at: now })
  }

  remove (groupId: string, author: string, set: RangeSet): void {
    const authors = this.groups.get(groupId)
    const claims = authors?.get(author)
    if (authors == null || claims == null) return
    const left = claims.map(c => ({ set: c.set.minus(set), at: c.at })).filter(c => !c.set.empty)
    if (left.length === 0) authors.delete(author)
    else authors.set(author, left)
    if (authors.size === 0) this.groups.delete(groupId)
  }

  /** Release every seq of a request (a map author -> seqs). */
  release (groupId: string, request: Map<string, RangeSet>): void {
    for (const [author, set] of request) this.remove(groupId, author, set)
  }
}
