/**
 * Unread counts and read markers. A group's read marker is the cursor of
 * the last message read here, kept in the history database (`r!<group>`,
 * this node's own state: never sent, synced or backed up). Unread: the
 * messages after the marker not written by this node, and how many of those
 * mention it. Only what history shows as a message counts (texts, files,
 * kinds of later versions): reactions, edits and deletes change a message,
 * they are not one. Counted once per group from the store (at most MAX_UNREAD + 1
 * are counted: "999+"), then kept up to date as messages are stored.
 */
import { peek, KIND_DELETE, KIND_EDIT, KIND_OP, KIND_REACTION } from '../envelope/index.js'
import type { Group } from '../groups/index.js'
import type { HistoryStore } from '../store/index.js'

/** Unread counts shown exactly up to this; above, `unreadMore` */
export const MAX_UNREAD = 999
/** Records read per step of a count */
const COUNT_BATCH = 500
/** Records read at most by one count (own messages after the marker are read but not counted) */
const MAX_SCANNED = 20 * (MAX_UNREAD + 1)

export interface UnreadInfo {
  /** messages after the read marker not written by this node; at most MAX_UNREAD */
  unread: number
  /** there are more than MAX_UNREAD ("999+") */
  unreadMore?: true
  /** of the unread (the first MAX_UNREAD + 1 of them), how many mention this node */
  unreadMentions: number
  /** the read marker, when one was set */
  readCursor?: string
}

interface Count { marker?: string, unread: number, mentions: number }

/** Kinds that act on a message instead of being one: not counted */
/** kinds that are no message of their own: acts on one, and membership ops (never shown) */
const ACTS = new Set([KIND_REACTION, KIND_EDIT, KIND_DELETE, KIND_OP])

export class UnreadCounts {
  private readonly store: HistoryStore
  private readonly self: Uint8Array
  private readonly counts = new Map<string, Count>()
  private readonly loads = new Map<string, Promise<Count>>()
  /** groups that stored a message while their count was being made: counted again */
  private readonly changed = new Set<string>()

  constructor (store: HistoryStore, self: Uint8Array) {
    this.store = store
    this.self = self
  }

  /** The unread counts of a group. */
  async get (group: Group): Promise<UnreadInfo> {
    return info(await this.count(group))
  }

  /** A message of the group was stored: counted when it is after the marker, not our own and shown as a message (`counts`). */
  noted (groupId: string, cursor: string, counts: boolean, mentionsMe: boolean): void {
    if (this.loads.has(groupId)) { this.changed.add(groupId); return }
    const c = this.counts.get(groupId)
    if (c == null || !counts || (c.marker != null && cursor <= c.marker)) return
    c.unread++
    if (mentionsMe) c.mentions++
  }

  /** Records were stored without being noted (a backup import): count again on next use. */
  invalidate (groupId: string): void {
    this.counts.delete(groupId)
    if (this.loads.has(groupId)) this.changed.add(groupId)
  }

  /**
   * Mark the group read up to `cursor` (default: its newest message). The
   * marker only moves forward: an older cursor leaves it where it is.
   */
  async mark (group: Group, cursor?: string): Promise<UnreadInfo> {
    const gid = group.keys.groupId
    const at = cursor ?? await this.store.newestCursor(gid)
    const current = (await this.count(group)).marker
    if (at != null && (current == null || at > current)) {
      await this.store.setReadMarker(gid, at)
      this.counts.delete(gid)
      if (this.loads.has(gid)) this.changed.add(gid)
    }
    return info(await this.count(group))
  }

  private async count (group: Group): Promise<Count> {
    const gid = group.keys.groupId
    const ready = this.counts.get(gid)
    if (ready != null) return ready
    let load = this.loads.get(gid)
    if (load == null) {
      load = this.load(group).finally(() => this.loads.delete(gid))
      this.loads.set(gid, load)
    }
    return load
  }

  private async load (group: Group): Promise<Count> {
    const gid = group.keys.groupId
    for (let attempt = 1; ; attempt++) {
      this.changed.delete(gid)
      const marker = await this.store.readMarker(gid)
      const c: Count = { marker, unread: 0, mentions: 0 }
      let after = marker
      let scanned = 0
      while (c.unread <= MAX_UNREAD && scanned < MAX_SCANNED) {
        const records = await this.store.after(gid, after, COUNT_BATCH)
        if (records.length === 0) break
        for (const r of records) {
          const p = peek(group.keys, r.bytes)
          if (!p.ok || Buffer.from(p.message.envelope.author).equals(this.self) || ACTS.has(p.message.envelope.kind)) continue
          c.unread++
          if (p.message.body.mentions.some(k => Buffer.from(k).equals(this.self))) c.mentions++
        }
        scanned += records.length
        after = records[records.length - 1].cursor
      }
      // a message stored meanwhile may or may not have been read by the scan: count again (a few times at most on a busy group)
      if (this.changed.has(gid) && attempt < 3) continue
      this.counts.set(gid, c)
      return c
    }
  }
}

function info (c: Count): UnreadInfo {
  return {
    unread: Math.min(c.unread, MAX_UNREAD),
    ...(c.unread > MAX_UNREAD ? { unreadMore: true as const } : {}),
    unreadMentions: c.mentions,
    ...(c.marker != null ? { readCursor: c.marker } : {})
  }
}

/** An unread count for people: "999+" above MAX_UNREAD */
export function unreadText (u: Pick<UnreadInfo, 'unread' | 'unreadMore'>): string {
  return u.unreadMore === true ? `${MAX_UNREAD}+` : String(u.unread)
}
