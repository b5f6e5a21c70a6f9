/**
 * What users see of a group's history (issue 18): each text or file
 * message folded with what acts on it (docs/PROTOCOL.md, "Message kinds").
 * Pure: the same messages in any order give the same view, so every node
 * that holds the same records shows the same thing, whatever order they
 * arrived in.
 *
 * - **edits** (kind 3) count only by the author of the message they edit;
 *   the latest in history order gives the text, the earlier versions are
 *   kept (`versions`);
 * - a **delete** (kind 4) by the author turns the message into a tombstone:
 *   no text, no file, no reactions, no versions (deletes by group admins
 *   wait for group roles, issue 15);
 * - **reactions** (kind 2) by any member: per member and emoji, the latest
 *   in history order says whether it is on or taken back;
 * - a **reply** (kind 1 with `replyTo`) carries a short quote of the
 *   message it answers, as folded;
 * - an act ordered before its target in history (only a member lying about
 *   its clock makes one: an author's Lamport value is above everything it
 *   saw) or aimed at something that is not a message is **rejected**, like
 *   an edit or delete by someone else; an act whose target is not among
 *   the messages folded is **waiting** (kept in the store, applied once
 *   the target is there).
 */
import type { ChatMessage, MessageKind } from './message.js'

/** Characters of a replied-to message's text in a quote */
export const QUOTE_CHARS = 120

export interface ReactionCount {
  emoji: string
  count: number
  /** peer ids of the members whose reaction is on, in the order they gave it */
  by: string[]
  /** this node's own reaction is among them */
  mine: boolean
}

/** An earlier text of an edited message */
export interface EarlierVersion {
  text: string
  /** when it was written (the author's clock), ms since 1970 */
  at: number
  /** hex id of the message that carried it: the original, or an edit */
  id: string
}

/** What a reply shows of the message it answers */
export interface Quote {
  /** hex id of the message replied to */
  id: string
  author?: string
  name?: string
  kind?: MessageKind
  /** its latest text, shortened to QUOTE_CHARS */
  text?: string
  /** its author deleted it */
  deleted?: boolean
  /** not held here (not yet, or never) */
  missing?: boolean
}

/** A message as history shows it: the latest text, its edits, reactions and reply quote */
export interface ViewMessage extends ChatMessage {
  /** its author edited it: `text` is the latest version */
  edited: boolean
  /** when the latest edit was written, ms since 1970 */
  editedAt?: number
  /** the earlier versions, oldest first (the original first) */
  versions: EarlierVersion[]
  /** its author deleted it: a tombstone (no text, file, mentions, reactions or versions) */
  deleted: boolean
  /** when the delete was written, ms since 1970 */
  deletedAt?: number
  reactions: ReactionCount[]
  quote?: Quote
}

/** A record whose bytes the store dropped because its author deleted it: a tombstone in its place */
export interface DroppedMessage {
  id: string
  topicId: string
  /** peer id */
  author: string
  cursor: string
  timestamp: number
  lamport: number
  seq: number
  kindNumber: number
  own: boolean
}

export type RejectReason = 'not the author' | 'not a message' | 'before its target'

export interface RejectedAct {
  /** hex id of the refused reaction, edit or delete */
  id: string
  kind: MessageKind
  /** hex id of what it aimed at */
  target: string
  /** peer id of who sent it */
  author: string
  reason: RejectReason
}

export interface FoldResult {
  /** the messages shown, in history order (oldest first) */
  messages: ViewMessage[]
  /** reactions, edits and deletes refused */
  rejected: RejectedAct[]
  /** reactions, edits and deletes whose target is not among the messages folded */
  waiting: ChatMessage[]
  /** ids of messages given (with bytes) that their author deleted, and of that author's edits of them: the store may drop them */
  droppable: string[]
}

const KIND_OF: Record<number, MessageKind> = { 1: 'text', 2: 'reaction', 3: 'edit', 4: 'delete', 5: 'file' }

/** Kinds shown as messages of their own: text, file, and kinds of later versions ("unsupported message") */
export function isShownKind (kind: MessageKind): boolean {
  return kind === 'text' || kind === 'file' || kind === 'unsupported'
}

/** History order: the store's (Lamport, timestamp, id), by cursor when both have one. */
export function historyOrder (a: Pick<ChatMessage, 'cursor' | 'lamport' | 'timestamp' | 'id'>, b: Pick<ChatMessage, 'cursor' | 'lamport' | 'timestamp' | 'id'>): number {
  if (a.cursor != null && b.cursor != null) return a.cursor < b.cursor ? -1 : a.cursor > b.cursor ? 1 : 0
  return (a.lamport - b.lamport) || (a.timestamp - b.timestamp) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** made on first use: ICU's segmentation data costs about 2 MiB of resident memory once touched (issue 16, idle RSS) */
let graphemes: Intl.Segmenter | undefined

/** One line of at most QUOTE_CHARS characters */
export function quoteText (text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  // never more characters than UTF-16 code units: a short line needs no segmenting
  if (flat.length <= QUOTE_CHARS) return flat
  // characters as people count them: an emoji with its modifiers is one
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })
  const chars = Array.from(graphemes.segment(flat), s => s.segment)
  return chars.length > QUOTE_CHARS ? chars.slice(0, QUOTE_CHARS - 1).join('') + '…' : flat
}

interface Reacted { on: boolean, own: boolean, first: number }

interface State {
  base: ChatMessage
  dropped: boolean
  edits: ChatMessage[]
  authorEdits: string[]
  deletedBy?: ChatMessage
  /** emoji -> member -> its latest reaction with that emoji */
  reactions: Map<string, Map<string, Reacted>>
  view?: ViewMessage
}

/** A tombstone's base message */
function droppedBase (d: DroppedMessage): ChatMessage {
  return {
    id: d.id,
    topicId: d.topicId,
    author: d.author,
    name: '',
    text: '',
    timestamp: d.timestamp,
    lamport: d.lamport,
    seq: d.seq,
    cursor: d.cursor,
    own: d.own,
    // kind 0: never held, its kind unknown
    kind: d.kindNumber === 0 ? 'text' : KIND_OF[d.kindNumber] ?? 'unsupported',
    kindNumber: d.kindNumber,
    version: 0
  }
}

/**
 * Fold messages (any order, any kinds) and tombstones of dropped records
 * into the messages shown. Deterministic: depends only on the set given.
 */
export function foldView (messages: readonly ChatMessage[], dropped: readonly DroppedMessage[] = []): FoldResult {
  const all = [...messages].sort(historyOrder)
  const states = new Map<string, State>()
  /** every message given, by id, shown or not */
  const known = new Map<string, ChatMessage>()
  for (const d of dropped) {
    const base = droppedBase(d)
    known.set(base.id, base)
    if (isShownKind(base.kind)) states.set(base.id, { base, dropped: true, edits: [], authorEdits: [], reactions: new Map() })
  }
  for (const m of all) {
    known.set(m.id, m)
    if (isShownKind(m.kind)) states.set(m.id, { base: m, dropped: false, edits: [], authorEdits: [], reactions: new Map() })
  }
  const rejected: RejectedAct[] = []
  const waiting: ChatMessage[] = []
  const refuse = (act: ChatMessage, reason: RejectReason): void => {
    rejected.push({ id: act.id, kind: act.kind, target: act.target ?? '', author: act.author, reason })
  }
  let position = 0
  for (const act of all) {
    position++
    if (act.kind !== 'reaction' && act.kind !== 'edit' && act.kind !== 'delete') continue
    const targetId = act.target ?? ''
    const target = known.get(targetId)
    if (target == null) { waiting.push(act); continue }
    const s = states.get(targetId)
    if (s == null) { refuse(act, 'not a message'); continue }
    // (a dropped record never held has no place of its own to be after)
    if (!s.dropped && historyOrder(act, s.base) <= 0) { refuse(act, 'before its target'); continue }
    if (act.kind === 'reaction') {
      const emoji = act.emoji ?? ''
      const per = s.reactions.get(emoji) ?? new Map<string, Reacted>()
      const before = per.get(act.author)
      per.set(act.author, { on: act.remove !== true, own: act.own, first: before?.on === true ? before.first : position })
      s.reactions.set(emoji, per)
      continue
    }
    if (act.author !== s.base.author) { refuse(act, 'not the author'); continue }
    if (act.kind === 'edit') {
      if (s.base.kind === 'unsupported') { refuse(act, 'not a message'); continue }
      s.authorEdits.push(act.id)
      if (s.deletedBy == null) s.edits.push(act)
    } else {
      s.deletedBy ??= act
    }
  }
  const shown: ViewMessage[] = []
  const droppable: string[] = []
  for (const s of states.values()) {
    s.view = present(s)
    shown.push(s.view)
    if (s.view.deleted && !s.dropped) droppable.push(s.base.id)
    if (s.view.deleted) droppable.push(...s.authorEdits)
  }
  for (const v of shown) {
    if (v.replyTo == null) continue
    const t = states.get(v.replyTo)?.view
    v.quote = t == null
      ? { id: v.replyTo, missing: true }
      : t.deleted
        ? { id: t.id, author: t.author, name: t.name, kind: t.kind, deleted: true }
        : { id: t.id, author: t.author, name: t.name, kind: t.kind, text: quoteText(t.kind === 'file' && t.text === '' ? t.file?.name ?? '' : t.text) }
  }
  shown.sort(historyOrder)
  return { messages: shown, rejected, waiting, droppable }
}

/** A state as shown */
function present (s: State): ViewMessage {
  const base = s.base
  if (s.dropped || s.deletedBy != null) {
    const { replyTo: _r, file: _f, mentions: _m, ...rest } = base
    return {
      ...rest,
      name: base.name !== '' ? base.name : s.deletedBy?.name ?? '',
      text: '',
      edited: false,
      versions: [],
      deleted: true,
      ...(s.deletedBy != null ? { deletedAt: s.deletedBy.timestamp } : {}),
      reactions: []
    }
  }
  const view: ViewMessage = { ...base, edited: false, versions: [], deleted: false, reactions: reactionCounts(s.reactions) }
  const latest = s.edits[s.edits.length - 1]
  if (latest != null) {
    view.edited = true
    view.editedAt = latest.timestamp
    view.text = latest.text
    if (latest.mentions != null) view.mentions = latest.mentions
    else delete view.mentions
    view.versions = [base, ...s.edits.slice(0, -1)].map(m => ({ text: m.text, at: m.timestamp, id: m.id }))
  }
  return view
}

/** Per emoji, the members whose reaction is on; emojis in the order they were first given */
function reactionCounts (reactions: Map<string, Map<string, Reacted>>): ReactionCount[] {
  const out: Array<ReactionCount & { first: number }> = []
  for (const [emoji, per] of reactions) {
    const on = [...per.entries()].filter(([, r]) => r.on).sort((a, b) => a[1].first - b[1].first)
    if (on.length === 0) continue
    out.push({ emoji, count: on.length, by: on.map(([who]) => who), mine: on.some(([, r]) => r.own), first: on[0][1].first })
  }
  return out.sort((a, b) => a.first - b.first).map(({ first: _f, ...r }) => r)
}
