import type { RangeSet } from '../store/index.js'

/**
 * Seqs of each group that a session of this node is fetching now: other
 * sessions leave them alone, so a node catching up from several members at
 * once gets each record once. Shared by all sessions of one SyncService.
 */
export class Claims {
  private readonly groups = new Map<string, Map<string, RangeSet>>()

  get (groupId: string, author: string): RangeSet | undefined {
    return this.groups.get(groupId)?.get(author)
  }

  add (groupId: string, author: string, set: RangeSet): void {
    let authors = this.groups.get(groupId)
    if (authors == null) this.groups.set(groupId, authors = new Map<string, RangeSet>())
    const claimed = authors.get(author)
    if (claimed == null) authors.set(author, set.clone())
    else claimed.addAll(set)
  }

  remove (groupId: string, author: string, set: RangeSet): void {
    const authors = this.groups.get(groupId)
    const claimed = authors?.get(author)
    if (authors == null || claimed == null) return
    const left = claimed.minus(set)
    if (left.empty) authors.delete(author)
    else authors.set(author, left)
    if (authors.size === 0) this.groups.delete(groupId)
  }

  /** Release every seq of a request (a map author -> seqs). */
  release (groupId: string, request: Map<string, RangeSet>): void {
    for (const [author, set] of request) this.remove(groupId, author, set)
  }
}
