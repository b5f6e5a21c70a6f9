/**
 * Mentions: `@name` tokens of a text resolved to members, for the
 * `mentions` of a text message (raw Ed25519 keys, docs/PROTOCOL.md "Body").
 * A token names one member or none: a name two members share is ambiguous
 * unless the end of a peer id follows it (`@name~abcd`, as the CLI shows
 * members); `@~abcd` names a member by the end of its peer id alone.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_MENTIONS } from '../envelope/index.js'

/** What a mention needs of a member (GroupMember of src/node.ts) */
export interface Mentionable { peerId: string, name: string, self?: boolean }

export interface MentionToken {
  /** the token as written, `@` included */
  token: string
  name: string
  /** the end of a peer id given after `~` */
  suffix?: string
}

export interface ResolvedMentions {
  /** peer ids of the members mentioned, in the order written, no two alike, at most MAX_MENTIONS */
  peerIds: string[]
  /** tokens that named no member, or more than one */
  unresolved: string[]
}

// "@" not inside a word (mail addresses stay text), a name of letters, digits and _ . -, an optional ~peer-id end (base58)
const MENTION = /(?<![\p{L}\p{N}_.@])@([\p{L}\p{N}_.-]*)(?:~([1-9A-HJ-NP-Za-km-z]{2,}))?/gu

/** The `@name` and `@name~abcd` tokens of a text. */
export function mentionTokens (text: string): MentionToken[] {
  const out: MentionToken[] = []
  for (const m of text.matchAll(MENTION)) {
    const suffix = m[2]
    // a sentence's full stop or dash after a name is not part of it
    const name = suffix == null ? m[1].replace(/[.-]+$/, '') : m[1]
    if (name === '' && suffix == null) continue
    out.push({ token: m[0], name, ...(suffix != null ? { suffix } : {}) })
  }
  return out
}

/** Resolve the tokens of `text` among `members` (this node excluded): exact names first, else names alike but for case. */
export function resolveMentions (text: string, members: Mentionable[]): ResolvedMentions {
  const peerIds: string[] = []
  const unresolved: string[] = []
  const others = members.filter(m => m.self !== true)
  for (const t of mentionTokens(text)) {
    const bySuffix = t.suffix != null ? others.filter(m => m.peerId.endsWith(t.suffix as string)) : others
    let found = t.name === '' ? bySuffix : bySuffix.filter(m => m.name === t.name)
    if (found.length === 0 && t.name !== '') found = bySuffix.filter(m => m.name.toLowerCase() === t.name.toLowerCase())
    if (found.length !== 1) { unresolved.push(t.token); continue }
    if (!peerIds.includes(found[0].peerId) && peerIds.length < MAX_MENTIONS) peerIds.push(found[0].peerId)
  }
  return { peerIds, unresolved }
}

/** The raw Ed25519 keys of peer ids, as a body's `mentions` carries them (peer ids of other key types are left out). */
export function mentionKeys (peerIds: string[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const id of peerIds) {
    const key = peerIdFromString(id).publicKey
    if (key?.type === 'Ed25519') out.push(key.raw)
  }
  return out
}
