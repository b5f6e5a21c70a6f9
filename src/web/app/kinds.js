// The page's replies, reactions, edits and deletes (docs/API.md "Replies,
// reactions, edits, deletes"): history comes folded from GET …/view, a
// message's changes as `updated` events; here the bits a message row shows
// and the actions on it.
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import htm from 'htm'
import { api } from './api.js'
import { suffix } from './format.js'

const html = htm.bind(h)
const enc = encodeURIComponent

/** The reactions offered at a click */
export const QUICK_EMOJIS = ['👍', '❤️', '😂', '🎉', '😮', '😢']

/** A reaction, an edit or a delete: it changes a message (an `updated` event follows), it is no row of its own */
export const isAct = (m) => m.kind === 'reaction' || m.kind === 'edit' || m.kind === 'delete'

/** Put a message's new view in its conversation (an `updated` event); true when it was there */
export function applyUpdate (conv, message) {
  if (conv == null || !conv.loaded || !conv.ids.has(message.id)) return false
  const i = conv.messages.findIndex(m => m.id === message.id)
  if (i < 0) return false
  conv.messages[i] = message
  return true
}

// the message being replied to, per group: the composer shows it and sends with it
let replying = {}
const replySubs = new Set()
export function replyTo (topicId, m) {
  replying = { ...replying, [topicId]: m }
  for (const s of replySubs) s(replying)
}
export function useReplying (topicId) {
  const [r, setR] = useState(replying)
  useEffect(() => { replySubs.add(setR); setR(replying); return () => { replySubs.delete(setR) } }, [])
  return r[topicId]
}

/** Above the composer: what the next message replies to, with a way out */
export function ReplyBar ({ topicId }) {
  const m = useReplying(topicId)
  if (m == null) return null
  return html`<div class="reply-bar" role="status">
    <span>Replying to <strong>${m.own ? 'yourself' : (m.name || 'unnamed')}</strong>: <span class="muted">${short(m.text)}</span></span>
    <button type="button" class="icon" aria-label="Cancel the reply" onClick=${() => replyTo(topicId, undefined)}>✕</button>
  </div>`
}

function short (text) {
  const t = (text ?? '').replace(/\s+/g, ' ').trim()
  return t.length > 80 ? `${t.slice(0, 79)}…` : t
}

/** A reply's quote of the message it answers (from the view, or from the conversation for a reply that just came) */
export function QuoteLine ({ m, lookup }) {
  if (m.replyTo == null && m.quote == null) return null
  const target = m.quote ?? (() => { const t = lookup?.(m.replyTo); return t != null ? { id: t.id, name: t.name, author: t.author, text: t.text, deleted: t.deleted } : { id: m.replyTo, missing: true } })()
  const text = target.deleted === true ? 'deleted message' : target.missing === true ? 'a message not here' : short(target.text)
  return html`<div class=${`quote${target.deleted === true ? ' deleted' : ''}`}>
    ${target.name != null ? html`<span class="quote-who">${target.name || 'unnamed'}${target.author != null ? ` ~${suffix(target.author)}` : ''}</span> ` : null}<span class="quote-text">${text}</span>
  </div>`
}

/** The text of a deleted message */
export function Tombstone () {
  return html`<div class="text deleted">Message deleted</div>`
}

/** Under a message: edited, its reactions, and what one can do with it */
export function KindsFooter ({ m, guard }) {
  const [picking, setPicking] = useState(false)
  if (m.deleted === true) return null
  const path = `/v1/groups/${enc(m.topicId)}/messages/${m.id}`
  const key = () => ({ 'idempotency-key': crypto.randomUUID() })
  const react = (emoji, remove) => guard(() => api('POST', `${path}/reactions`, { emoji, remove }, key()))
  const edit = () => {
    const text = window.prompt('Edit your message', m.text)
    if (text == null || text.trim() === '' || text === m.text) return
    void guard(() => api('PATCH', path, { text }, key()))
  }
  const remove = () => {
    if (!window.confirm('Delete this message for everyone? Members see that a message was deleted.')) return
    void guard(() => api('DELETE', path, undefined, key()))
  }
  const reactions = m.reactions ?? []
  return html`<div class="kinds">
    ${m.edited === true ? html`<span class="edited" title=${(m.versions ?? []).map(v => v.text).join('\n→ ')}>(edited)</span>` : null}
    ${reactions.length > 0
      ? html`<ul class="reactions" aria-label="Reactions">${reactions.map(r => html`<li key=${r.emoji}>
          <button type="button" class=${`reaction${r.mine ? ' mine' : ''}`} aria-pressed=${r.mine ? 'true' : 'false'}
            title=${`${r.count} reaction${r.count === 1 ? '' : 's'}${r.mine ? ' (yours: click to take it back)' : ''}`}
            onClick=${() => { void react(r.emoji, r.mine) }}>${r.emoji} ${r.count}</button></li>`)}</ul>`
      : null}
    <span class="msg-actions">
      <button type="button" class="link" onClick=${() => replyTo(m.topicId, m)}>Reply</button>
      <button type="button" class="link" aria-expanded=${picking ? 'true' : 'false'} onClick=${() => setPicking(p => !p)}>React</button>
      ${m.own && m.kind !== 'unsupported' ? html`<button type="button" class="link" onClick=${edit}>Edit</button>` : null}
      ${m.own ? html`<button type="button" class="link danger" onClick=${remove}>Delete</button>` : null}
    </span>
    ${picking
      ? html`<span class="emoji-picker" role="group" aria-label="Choose a reaction">${QUICK_EMOJIS.map(e => html`<button type="button" class="icon" key=${e} aria-label=${`React with ${e}`} onClick=${() => { setPicking(false); void react(e, false) }}>${e}</button>`)}</span>`
      : null}
  </div>`
}
