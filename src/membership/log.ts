/**
 * The membership log as a pure fold (docs/PROTOCOL.md, "Membership and
 * epochs"): membership ops and the first message of each author, applied
 * in history order (Lamport, then timestamp, then id: the store's order,
 * the same on every node), each checked against the state the entries
 * before it made. No I/O; deterministic.
 */
import { ADMIN_OPS } from './op.js'
import type { Box, Op } from './op.js'

/** One entry of the fold: a membership op, or (op absent) an author's first message */
export interface LogEntry {
  /** hex message id */
  id: string
  /** hex of the author's raw Ed25519 key */
  author: string
  lamport: bigint
  timestamp: bigint
  epoch: number
  /** the store's sort key: history order */
  cursor: string
  op?: Op
}

export type Role = 'admin' | 'member'

export interface MemberInfo {
  key: string
  role: Role
  /** hex of its X25519 public key, once published (add or key op) */
  x25519?: string
  /** the name its add op gave, if any */
  name?: string
  /** cursor of the entry that admitted it */
  since: string
  addedBy?: string
}

export interface RemovedInfo {
  key: string
  /** the Lamport value of the remove (or leave) op: its messages above it are refused */
  lamport: bigint
  cursor: string
  by: string
  left: boolean
}

export interface Rotation {
  id: string
  epoch: number
  author: string
  /** the first valid rotate to its epoch in history order; others are void but their keys still open their messages */
  valid: boolean
  boxes: Box[]
  cursor: string
}

export interface InviteState {
  tokenHash: string
  expires: number
  uses: number
  used: number
  by: string
  id: string
  /** a remove after it: any outstanding invite may be in the removed member's hands */
  revoked: boolean
}

/** Why an invite admits nobody (now), as the join service answers; undefined when it admits */
export type InviteRefusal = 'unknown' | 'expired' | 'used' | 'revoked' | 'removed'

export interface MembershipState {
  /** a create op adopted the log; before it (a legacy group) every author is admitted at its first message */
  logged: boolean
  creator?: string
  members: Map<string, MemberInfo>
  removed: Map<string, RemovedInfo>
  /** per author: the stretches of history (cursor from, inclusive; to, exclusive, open when absent) it was a member in */
  spans: Map<string, Array<{ from: string, to?: string }>>
  /** every author that has been an admin at some point (ingest refuses admin ops by anyone else) */
  everAdmins: Set<string>
  /** X25519 keys published (add and key ops), any author */
  keys: Map<string, string>
  epoch: number
  /** id of the rotate op that started the current epoch (none in epoch 0) */
  epochId?: string
  /** who holds the current epoch's secret by the log (undefined in epoch 0: whoever got the group secret) */
  recipients?: Set<string>
  /** someone who is no longer a member holds the current epoch's key */
  stale: boolean
  invites: Map<string, InviteState>
  rotations: Rotation[]
  /** op id -> why it had no effect */
  void: Map<string, string>
  /** cursor of the last entry applied */
  last?: string
}

export function emptyState (): MembershipState {
  return {
    logged: false,
    members: new Map(),
    removed: new Map(),
    spans: new Map(),
    everAdmins: new Set(),
    keys: new Map(),
    epoch: 0,
    stale: false,
    invites: new Map(),
    rotations: [],
    void: new Map()
  }
}

/** Entries in history order: Lamport, then the cursor (which sorts by Lamport, timestamp, id) */
export function compareEntries (a: LogEntry, b: LogEntry): number {
  return a.cursor < b.cursor ? -1 : a.cursor > b.cursor ? 1 : 0
}

/** Fold entries (sorted here) from the empty state. */
export function fold (entries: Iterable<LogEntry>): MembershipState {
  const state = emptyState()
  for (const e of [...entries].sort(compareEntries)) apply(state, e)
  return state
}

function admins (state: MembershipState): MemberInfo[] {
  return [...state.members.values()].filter(m => m.role === 'admin')
}

function admit (state: MembershipState, key: string, role: Role, since: string, extra: Partial<MemberInfo> = {}): MemberInfo {
  const m: MemberInfo = { key, role, since, ...(state.keys.has(key) ? { x25519: state.keys.get(key) } : {}), ...extra }
  state.members.set(key, m)
  state.removed.delete(key)
  const spans = state.spans.get(key) ?? []
  spans.push({ from: since })
  state.spans.set(key, spans)
  if (role === 'admin') state.everAdmins.add(key)
  return m
}

function expel (state: MembershipState, key: string, e: LogEntry, left: boolean): void {
  state.members.delete(key)
  state.removed.set(key, { key, lamport: e.lamport, cursor: e.cursor, by: e.author, left })
  const spans = state.spans.get(key)
  const open = spans?.[spans.length - 1]
  if (open != null && open.to == null) open.to = e.cursor
  // whoever leaves holds the current key: a new epoch is due
  if (state.recipients == null || state.recipients.has(key)) state.stale = true
  // a group never stays without an admin: the earliest admitted member left becomes one
  if (admins(state).length === 0 && state.members.size > 0) {
    const next = [...state.members.values()].sort((a, b) => a.since < b.since ? -1 : a.since > b.since ? 1 : a.key < b.key ? -1 : 1)[0]
    next.role = 'admin'
    state.everAdmins.add(next.key)
  }
}

/** Why an op has no effect in this state, or undefined when it applies */
function problem (state: MembershipState, e: LogEntry, op: Op): string | undefined {
  const author = state.members.get(e.author)
  if (op.type === 'create') {
    if (state.logged) return 'the group has a log already'
    if (state.members.size > 0 && author?.role !== 'admin') return 'only the admin of a legacy group adopts a log'
    return undefined
  }
  if (op.type === 'key') return undefined
  if (author == null) return 'author is not a member'
  if (op.type === 'leave') return undefined
  if (op.type === 'add') {
    if (state.members.has(op.member)) return 'already a member'
    // an add that names an invite is checked against it, an admin's too (one use is one use)
    if (op.invite == null) return author.role === 'admin' ? undefined : 'only an admin adds (or a member, with an invite)'
    const refusal = inviteRefusal(state, op.invite ?? '', Number(e.timestamp), op.member)
    return refusal != null ? `invite ${refusal}` : undefined
  }
  if (ADMIN_OPS.has(op.type) && author.role !== 'admin') return `only an admin may ${op.type}`
  switch (op.type) {
    case 'remove':
      return state.members.has(op.member) ? undefined : 'not a member'
    case 'promote':
      return state.members.get(op.member)?.role === 'member' ? undefined : 'not a member, or an admin already'
    case 'demote':
      if (state.members.get(op.member)?.role !== 'admin') return 'not an admin'
      return admins(state).length > 1 ? undefined : 'the last admin'
    case 'rotate':
      if (op.epoch !== state.epoch + 1) return `epoch ${op.epoch} is not ${state.epoch + 1}`
      if (op.boxes.some(b => !state.members.has(b.member))) return 'a box for a non-member'
      return undefined
    case 'invite':
      return undefined
  }
  return 'unknown op'
}

/** Apply one entry (in history order) to the state. */
export function apply (state: MembershipState, e: LogEntry): void {
  state.last = e.cursor
  // legacy groups: every author is admitted at its first message; the first is the admin
  if (!state.logged && !state.members.has(e.author) && !state.removed.has(e.author) && e.op?.type !== 'create') {
    admit(state, e.author, state.members.size === 0 ? 'admin' : 'member', e.cursor)
  }
  const op = e.op
  if (op == null) return
  // a rotate by a member keeps its key even when void: the messages sealed with it stay readable
  if (op.type === 'rotate' && state.members.has(e.author)) {
    state.rotations.push({ id: e.id, epoch: op.epoch, author: e.author, valid: false, boxes: op.boxes, cursor: e.cursor })
  }
  const why = problem(state, e, op)
  if (why != null) {
    state.void.set(e.id, why)
    return
  }
  switch (op.type) {
    case 'create': {
      state.logged = true
      state.creator = e.author
      const m = state.members.get(e.author)
      if (m == null) admit(state, e.author, 'admin', e.cursor)
      else m.role = 'admin'
      state.everAdmins.add(e.author)
      for (const a of op.admins) {
        const x = state.members.get(a)
        if (x == null) admit(state, a, 'admin', e.cursor)
        else { x.role = 'admin'; state.everAdmins.add(a) }
      }
      break
    }
    case 'key': {
      state.keys.set(e.author, op.x25519)
      const m = state.members.get(e.author)
      if (m != null) m.x25519 = op.x25519
      break
    }
    case 'add': {
      state.keys.set(op.member, op.x25519)
      admit(state, op.member, 'member', e.cursor, { x25519: op.x25519, addedBy: e.author, ...(op.name !== '' ? { name: op.name } : {}) })
      if (op.invite != null) {
        const inv = state.invites.get(op.invite)
        if (inv != null) inv.used++
      }
      break
    }
    case 'remove':
      expel(state, op.member, e, op.member === e.author)
      // whoever is removed may hold an invite not used yet: none admits anyone any more
      for (const inv of state.invites.values()) inv.revoked = true
      break
    case 'leave':
      expel(state, e.author, e, true)
      break
    case 'promote': {
      const m = state.members.get(op.member)
      if (m != null) { m.role = 'admin'; state.everAdmins.add(m.key) }
      break
    }
    case 'demote': {
      const m = state.members.get(op.member)
      if (m != null) m.role = 'member'
      break
    }
    case 'rotate': {
      state.epoch = op.epoch
      state.epochId = e.id
      state.recipients = new Set(op.boxes.map(b => b.member))
      state.stale = false
      const r = state.rotations.find(x => x.id === e.id)
      if (r != null) r.valid = true
      break
    }
    case 'invite':
      state.invites.set(op.tokenHash, { tokenHash: op.tokenHash, expires: op.expires, uses: op.uses, used: 0, by: e.author, id: e.id, revoked: false })
      break
  }
}

/**
 * Does the invite with this token hash admit `joiner` at time `now` (ms)?
 * The fold checks an add against it with the add's timestamp; the join
 * service with its clock. A removed member is re-admitted only by an admin's
 * add, never by an invite.
 */
export function inviteRefusal (state: MembershipState, tokenHash: string, now: number, joiner: string): InviteRefusal | undefined {
  const inv = state.invites.get(tokenHash)
  if (inv == null) return 'unknown'
  if (inv.revoked || !state.everAdmins.has(inv.by) || state.removed.has(inv.by)) return 'revoked'
  if (now > inv.expires) return 'expired'
  if (inv.used >= inv.uses) return 'used'
  if (state.removed.has(joiner)) return 'removed'
  return undefined
}

/** Was `author` a member at this point of history (a message at `cursor`)? */
export function memberAt (state: MembershipState, author: string, cursor: string): boolean {
  const spans = state.spans.get(author)
  if (spans == null) return false
  return spans.some(s => s.from <= cursor && (s.to == null || cursor < s.to))
}

/**
 * Is a new epoch due? Someone no longer a member holds the current key, or
 * (from epoch 1) a member with a published key has no box in it.
 */
export function rotationDue (state: MembershipState): boolean {
  if (!state.logged) return state.stale
  if (state.stale) return true
  if (state.recipients == null) return false
  for (const m of state.members.values()) if (m.x25519 != null && !state.recipients.has(m.key)) return true
  return false
}

/** The members a new epoch's secret is sealed to: every member with a published X25519 key */
export function rotationRecipients (state: MembershipState): MemberInfo[] {
  return [...state.members.values()].filter(m => m.x25519 != null)
}

export function roleOf (state: MembershipState, key: string): Role | undefined {
  return state.members.get(key)?.role
}
