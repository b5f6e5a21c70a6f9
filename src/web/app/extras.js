// The page's files, read markers, typing indicators, search and message marks
// (docs/API.md "Files" and "Unread counts, mentions, typing, search").
import { h } from 'preact'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import htm from 'htm'
import { ApiFailure, api, pageHeaders, stream } from './api.js'
import { fullTime, dayKey, isoTime, suffix, timeOf } from './format.js'

const html = htm.bind(h)

/** Images up to this size are fetched and previewed by themselves; larger ones on a click */
export const AUTO_PREVIEW_BYTES = 4 * 1024 * 1024
/** The node sends a typing indicator at most this often; the page asks no more often */
const TYPING_EVERY_MS = 3000
/** Media types the node serves inline (and so the page previews) */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])

const enc = encodeURIComponent

export function bytes (n) {
  if (!Number.isFinite(n)) return '? bytes'
  if (n < 1024) return `${n} bytes`
  const units = ['KiB', 'MiB', 'GiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

const percent = (done, total) => total > 0 ? Math.min(100, Math.round(done / total * 100)) : 0

// ---------------------------------------------------------------- small stores

/** A value components subscribe to (uploads and typing outlive a conversation's mount) */
function store (initial) {
  let value = initial
  const subs = new Set()
  return {
    get: () => value,
    set: (next) => { value = typeof next === 'function' ? next(value) : next; for (const s of subs) s(value) },
    use: () => {
      const [v, setV] = useState(value)
      useEffect(() => { subs.add(setV); setV(value); return () => { subs.delete(setV) } }, [])
      return v
    }
  }
}

// ---------------------------------------------------------------- uploads

/** Uploads under way or failed: [{ id, topicId, name, size, loaded, error? }] */
const uploads = store([])

/**
 * Send a file as a streamed POST (the browser reads it from disk as it goes);
 * XMLHttpRequest, because fetch reports no upload progress. Resolves the message.
 */
export function uploadFile (topicId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new window.XMLHttpRequest()
    xhr.open('POST', `/v1/groups/${enc(topicId)}/files?name=${enc(file.name)}`)
    for (const [k, v] of Object.entries(pageHeaders())) xhr.setRequestHeader(k, v)
    xhr.setRequestHeader('content-type', file.type !== '' ? file.type : 'application/octet-stream')
    xhr.upload.onprogress = (e) => { onProgress(e.loaded, e.lengthComputable ? e.total : file.size) }
    xhr.onload = () => {
      let json
      try { json = JSON.parse(xhr.responseText) } catch { json = undefined }
      if (xhr.status === 201) { resolve(json); return }
      const e = json?.error
      reject(new ApiFailure(e?.message ?? `the node answered HTTP ${xhr.status}`, e?.code ?? 'ERR_API', xhr.status))
    }
    xhr.onerror = () => { reject(new ApiFailure('the upload stopped: the node closed the connection (is it still running?)', 'ERR_NODE_NOT_RUNNING', 0)) }
    xhr.send(file)
  })
}

/** What a failed upload says: a 413 with the node's limit in words */
function uploadError (err, file) {
  if (err.status === 413) {
    const max = /up to (\d+) bytes/.exec(err.message)
    return `${file.name} is too large (${bytes(file.size)}): this node takes files up to ${max != null ? bytes(Number(max[1])) : 'its limit'} (p2p-chat start --max-file-size)`
  }
  return `${file.name} was not sent: ${err.message}`
}

export async function sendFiles (topicId, files, onSent) {
  for (const file of files) {
    const id = Math.random()
    uploads.set(u => [...u, { id, topicId, name: file.name, size: file.size, loaded: 0 }])
    const patch = (p) => uploads.set(u => u.map(x => x.id === id ? { ...x, ...p } : x))
    try {
      const m = await uploadFile(topicId, file, (loaded) => { patch({ loaded }) })
      uploads.set(u => u.filter(x => x.id !== id))
      if (m != null) onSent(m)
    } catch (err) {
      patch({ error: uploadError(err, file) })
    }
  }
}

/** The composer's file button; also makes the conversation a drop target */
export function AttachButton ({ topicId, onSent }) {
  const input = useRef(null)
  const button = useRef(null)
  useEffect(() => {
    const section = button.current?.closest('section.conv')
    if (section == null) return
    let depth = 0
    const has = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files')
    const enter = (e) => { if (!has(e)) return; e.preventDefault(); depth++; section.classList.add('dropping') }
    const over = (e) => { if (!has(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = 'copy' }
    const leave = (e) => { if (!has(e)) return; depth = Math.max(0, depth - 1); if (depth === 0) section.classList.remove('dropping') }
    const drop = (e) => {
      if (!has(e)) return
      e.preventDefault()
      depth = 0
      section.classList.remove('dropping')
      const files = [...(e.dataTransfer?.files ?? [])]
      if (files.length > 0) void sendFiles(topicId, files, onSent)
    }
    section.addEventListener('dragenter', enter)
    section.addEventListener('dragover', over)
    section.addEventListener('dragleave', leave)
    section.addEventListener('drop', drop)
    return () => {
      section.removeEventListener('dragenter', enter)
      section.removeEventListener('dragover', over)
      section.removeEventListener('dragleave', leave)
      section.removeEventListener('drop', drop)
    }
  }, [topicId])
  const picked = (e) => {
    const files = [...e.currentTarget.files]
    e.currentTarget.value = ''
    if (files.length > 0) void sendFiles(topicId, files, onSent)
  }
  return html`<input type="file" multiple ref=${input} class="visually-hidden" tabindex="-1" aria-hidden="true" id="composer-file" onChange=${picked}/>
    <button type="button" ref=${button} class="attach" aria-label="Send a file (or drop files on the conversation)" title="Send a file (or drop files on the conversation)"
      onClick=${() => input.current?.click()}>File…</button>`
}

/** Uploads of this group: a progress bar each, or what went wrong */
export function UploadList ({ topicId }) {
  const list = uploads.use().filter(u => u.topicId === topicId)
  if (list.length === 0) return null
  return html`<ul class="uploads" aria-label="Files being sent">${list.map(u => html`<li key=${u.id} class=${u.error != null ? 'failed' : ''}>
    ${u.error != null
      ? html`<span role="alert" class="error">${u.error}</span>
        <button type="button" class="icon" aria-label=${`Dismiss the error about ${u.name}`} onClick=${() => uploads.set(x => x.filter(y => y.id !== u.id))}>✕</button>`
      : html`<span class="file-name">${u.name}</span>
        <progress max="100" value=${percent(u.loaded, u.size)} aria-label=${`Sending ${u.name}`}></progress>
        <span class="muted">${bytes(u.loaded)} of ${bytes(u.size)}</span>`}
  </li>`)}</ul>`
}

// ---------------------------------------------------------------- file messages

/** GET a file's content with download progress; resolves a Blob */
async function content (id, onProgress) {
  const r = await fetch(`/v1/files/${enc(id)}/content`, { headers: pageHeaders() })
  if (!r.ok || r.body == null) {
    const json = await r.json().catch(() => undefined)
    throw new ApiFailure(json?.error?.message ?? `the node answered HTTP ${r.status}`, json?.error?.code ?? 'ERR_API', r.status)
  }
  const total = Number(r.headers.get('content-length'))
  const reader = r.body.getReader()
  const parts = []
  let got = 0
  while (true) {
    const { value, done } = await reader.read()
    if (done) break
    parts.push(value)
    got += value.byteLength
    onProgress(got, total)
  }
  return new window.Blob(parts, { type: r.headers.get('content-type') ?? 'application/octet-stream' })
}

/** A preview that grew its row: a conversation followed to its bottom stays there */
function keepBottom (e) {
  const img = e.currentTarget
  const list = img.closest('ol.messages')
  if (list != null && list.scrollHeight - list.scrollTop - list.clientHeight < img.clientHeight + 120) list.scrollTop = list.scrollHeight
}

/** A file message: name, size, a preview for images, download with progress */
function FileBody ({ m }) {
  const f = m.file ?? { name: 'file', size: NaN, mime: '' }
  const image = IMAGE_TYPES.has(f.mime)
  const [held, setHeld] = useState(undefined)
  const [progress, setProgress] = useState(undefined)
  const [error, setError] = useState(undefined)
  const [preview, setPreview] = useState(undefined)
  const urls = useRef([])
  const busy = useRef(false)
  useEffect(() => () => { for (const u of urls.current) window.URL.revokeObjectURL(u) }, [])

  /** Held complete here? Else fetch it from the members, with progress */
  const ensure = async () => {
    const st = await api('GET', `/v1/files/${enc(m.id)}`)
    if (st.complete) { setHeld(true); return }
    setProgress({ text: 'Fetching from members…', done: st.bytes ?? 0, total: f.size })
    await stream('POST', `/v1/files/${enc(m.id)}/fetch`, {}, (p) => {
      setProgress({ text: p.state === 'verifying' ? 'Checking…' : `Fetching from ${p.sources ?? 0} member${p.sources === 1 ? '' : 's'}…`, done: p.bytes ?? 0, total: p.size ?? f.size })
    })
    setHeld(true)
  }
  const run = async (what) => {
    if (busy.current) return
    busy.current = true
    setError(undefined)
    try {
      await ensure()
      setProgress({ text: 'Reading…', done: 0, total: f.size })
      const blob = await content(m.id, (done, total) => setProgress({ text: 'Reading…', done, total }))
      const url = window.URL.createObjectURL(blob)
      urls.current.push(url)
      if (what === 'preview') setPreview(url)
      else {
        const a = document.createElement('a')
        a.href = url
        a.download = f.name
        document.body.append(a)
        a.click()
        a.remove()
        if (image) setPreview(url)
      }
    } catch (err) {
      setError(err.message)
    } finally {
      setProgress(undefined)
      busy.current = false
    }
  }
  useEffect(() => {
    let gone = false
    api('GET', `/v1/files/${enc(m.id)}`).then((st) => {
      if (gone) return
      setHeld(st.complete === true)
      if (image && (st.complete === true || f.size <= AUTO_PREVIEW_BYTES)) void run('preview')
    }).catch(() => { if (!gone) setHeld(false) })
    return () => { gone = true }
  }, [m.id])

  const ratio = f.width > 0 && f.height > 0 ? `${f.width} / ${f.height}` : undefined
  return html`<div class="file" role="group" aria-label=${`File ${f.name}, ${bytes(f.size)}`}>
    ${preview != null
      ? html`<img class="preview" src=${preview} alt=${`Preview of ${f.name}`} width=${f.width} height=${f.height} style=${ratio != null ? { aspectRatio: ratio } : undefined} onLoad=${keepBottom}/>`
      : image && ratio != null && progress != null ? html`<div class="preview pending" style=${{ aspectRatio: ratio, width: `min(100%, ${f.width}px)` }} aria-hidden="true"></div>` : null}
    <div class="file-row">
      <span class="file-name" title=${f.name}>${f.name}</span>
      <span class="muted file-size">${bytes(f.size)}${held === true ? '' : held === false ? ' · not fetched yet' : ''}</span>
      ${image && preview == null && progress == null ? html`<button type="button" onClick=${() => run('preview')} aria-label=${`Show a preview of ${f.name}`}>Preview</button>` : null}
      <button type="button" disabled=${progress != null} onClick=${() => run('download')} aria-label=${`Download ${f.name}`}>Download</button>
    </div>
    ${progress != null ? html`<div class="file-progress"><progress max="100" value=${percent(progress.done, progress.total)} aria-label=${`${progress.text} ${f.name}`}></progress>
      <span class="muted">${progress.text} ${bytes(progress.done)} of ${bytes(progress.total)}</span></div>` : null}
    ${error != null ? html`<p class="error" role="alert">Could not get ${f.name}: ${error}</p>` : null}
  </div>`
}

/** The body of a message the page shows differently from a text: files, kinds this version does not know */
export function MessageBody ({ m }) {
  if (m.kind === 'unsupported') {
    return html`<div class="text unsupported">Unsupported message <span class="muted">(kind ${m.kindNumber}: a newer version of p2p-chat can show it)</span></div>`
  }
  return html`<${FileBody} m=${m}/>${m.text !== '' && m.text != null ? html`<div class="text">${m.text}</div>` : null}`
}

/** Is this message shown by MessageBody rather than as a plain text? */
export const special = (m) => m.kind === 'file' || m.kind === 'unsupported'

/** What the receiving node observed about a message: late, out of order, an author who signed two versions */
export function Marks ({ m }) {
  if (m.arrivedLate == null && m.misordered !== true && m.conflict !== true) return null
  const lateAt = m.arrivedLate != null ? (dayKey(m.arrivedLate) === dayKey(m.timestamp) ? timeOf(m.arrivedLate) : fullTime(m.arrivedLate)) : ''
  return html`<div class="marks">
    ${m.conflict === true ? html`<span class="mark warn" title="Its author signed two different messages in the same place in this group: do not trust what this author wrote">⚠ conflict: this author signed two versions of a message</span>` : null}
    ${m.misordered === true ? html`<span class="mark" title="Its place in history contradicts its own links: its author claims an order that cannot be">misordered</span>` : null}
    ${m.arrivedLate != null ? html`<span class="mark" title=${`Written ${fullTime(m.timestamp)}, arrived ${fullTime(m.arrivedLate)}`}>arrived late, <time datetime=${isoTime(m.arrivedLate)}>${lateAt}</time></span>` : null}
  </div>`
}

// ---------------------------------------------------------------- typing

/** Who is typing where: { [topicId]: { [peerId]: { name, until } } } */
const typing = store({})
const typingTimers = new Map()

function dropTyper (topicId, peerId) {
  typing.set(t => {
    if (t[topicId]?.[peerId] == null) return t
    const { [peerId]: _gone, ...rest } = t[topicId]
    return { ...t, [topicId]: rest }
  })
}

/** The events the page's extras follow: typing, and a message ends its author's typing */
export function tap (ev) {
  if (ev.type === 'typing') {
    const ms = Math.max(1000, Math.min(15_000, (ev.expiresAt ?? 0) - (ev.timestamp ?? 0) || 6000))
    const key = `${ev.topicId} ${ev.peerId}`
    clearTimeout(typingTimers.get(key))
    typingTimers.set(key, setTimeout(() => { typingTimers.delete(key); dropTyper(ev.topicId, ev.peerId) }, ms))
    typing.set(t => ({ ...t, [ev.topicId]: { ...t[ev.topicId], [ev.peerId]: { name: ev.name } } }))
  } else if (ev.type === 'message' && !ev.own) {
    dropTyper(ev.topicId, ev.author)
  }
}

export function TypingLine ({ topicId }) {
  const who = Object.entries(typing.use()[topicId] ?? {}).map(([peerId, t]) => `${t.name || 'unnamed'} ~${suffix(peerId)}`)
  const text = who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : who.length === 2 ? `${who[0]} and ${who[1]} are typing…` : `${who.length} members are typing…`
  return html`<p class="typing" aria-live="polite">${text}</p>`
}

/** When the page may ask the node again, per group */
const nextTyping = new Map()
/**
 * The user typed in the composer: tell the group, at most every 3 s. The
 * node keeps its own 3 s limit (a send just before counts): when it sent
 * nothing, ask again half a second later while the user types on.
 */
export function typed (topicId, text) {
  if (text.trim() === '') return
  const now = Date.now()
  if (now < (nextTyping.get(topicId) ?? 0)) return
  nextTyping.set(topicId, now + TYPING_EVERY_MS)
  api('POST', `/v1/groups/${enc(topicId)}/typing`, {})
    .then((r) => { if (r?.sent === false) nextTyping.set(topicId, Date.now() + 500) })
    .catch(() => { nextTyping.delete(topicId) })
}
/** After a send, the next keystroke tells again */
export function typedDone (topicId) { nextTyping.delete(topicId) }

// ---------------------------------------------------------------- read markers

/** Counted as unread by the node (reactions, edits and deletes change a message, they are none) */
export const counts = (m) => m.kind == null || m.kind === 'text' || m.kind === 'file' || m.kind === 'unsupported'

export function unreadText (g) {
  if (!(g.unread > 0)) return ''
  return `${g.unread}${g.unreadMore === true ? '+' : ''}`
}

/**
 * Mark the open group read on the node (the marker it keeps and shares with
 * the CLI) up to the newest message shown, while the conversation is
 * visible and the window focused.
 */
export function useMarkRead ({ current, conv, view, setGroups }) {
  const sent = useRef(new Map())
  const [, setFocus] = useState(0)
  useEffect(() => {
    const again = () => setFocus(n => n + 1)
    window.addEventListener('focus', again)
    document.addEventListener('visibilitychange', again)
    return () => { window.removeEventListener('focus', again); document.removeEventListener('visibilitychange', again) }
  }, [])
  useEffect(() => {
    if (current == null || document.visibilityState !== 'visible' || !document.hasFocus()) return
    if (view !== 'chat' && !window.matchMedia('(min-width: 721px)').matches) return
    const c = conv(current)
    if (!c.loaded) return
    let last
    for (let i = c.messages.length - 1; i >= 0 && last == null; i--) if (c.messages[i].cursor != null) last = c.messages[i]
    if (last == null || sent.current.get(current) === last.cursor) return
    const topicId = current
    sent.current.set(topicId, last.cursor)
    api('POST', `/v1/groups/${enc(topicId)}/read`, { cursor: last.cursor })
      .then((r) => { setGroups(gs => gs.map(g => g.topicId === topicId ? { ...g, unread: r.unread, unreadMore: r.unreadMore, unreadMentions: r.unreadMentions, readCursor: r.readCursor } : g)) })
      .catch(() => { sent.current.delete(topicId) })
  })
}

// ---------------------------------------------------------------- search

export function SearchBox ({ onSearch }) {
  const [q, setQ] = useState('')
  return html`<form role="search" class="search" aria-label="Search messages" onSubmit=${(e) => { e.preventDefault(); if (q.trim() !== '') onSearch(q.trim()) }}>
    <label for="search-q" class="visually-hidden">Search messages</label>
    <input id="search-q" type="search" placeholder="Search messages" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} autocomplete="off"/>
  </form>`
}

/** Results of GET /v1/search; a click jumps to the message in its conversation */
export function SearchResults ({ query, groups, onJump }) {
  const [res, setRes] = useState(undefined)
  const [error, setError] = useState(undefined)
  useEffect(() => {
    setRes(undefined)
    api('GET', `/v1/search?${new URLSearchParams({ q: query, limit: '50' })}`).then(setRes, (err) => setError(err.message))
  }, [query])
  const nameOf = (t) => groups.find(g => g.topicId === t)?.name ?? t
  if (error != null) return html`<p class="error" role="alert">Search failed: ${error}</p>`
  if (res == null) return html`<p role="status">Searching…</p>`
  return html`<p role="status" class="muted">${res.results.length === 0 ? `Nothing found for “${query}”.` : `${res.results.length}${res.results.length === 50 ? '+' : ''} message${res.results.length === 1 ? '' : 's'} with “${query}”, newest first`}</p>
    <ul class="search-results">${res.results.map(r => html`<li key=${r.id}>
      <button type="button" class="result" onClick=${() => onJump(r)} aria-label=${`${r.own ? 'You' : r.name || 'unnamed'} in ${nameOf(r.topicId)}, ${fullTime(r.timestamp)}: ${r.snippet}`}>
        <span class="result-head"><strong>${r.own ? 'You' : r.name || 'unnamed'}</strong> <span class="muted">in ${nameOf(r.topicId)} · <time datetime=${isoTime(r.timestamp)}>${fullTime(r.timestamp)}</time></span></span>
        <span class="snippet">${r.snippet}</span>
      </button></li>`)}</ul>`
}

/** Load older pages of a conversation until it holds message `id` (or its history ends) */
export async function loadUntil (conv, loadOlder, id) {
  for (let i = 0; i < 1000 && !conv.ids.has(id); i++) {
    if (conv.loading) { await new Promise(resolve => setTimeout(resolve, 30)); continue }
    if (conv.loaded && conv.end) break
    await loadOlder()
  }
  return conv.ids.has(id)
}

/** In a conversation: scroll to the message jumped to, highlight and focus it */
export function useJump (list, stick, jump, version) {
  const done = useRef(undefined)
  useLayoutEffect(() => {
    if (jump == null || done.current === jump || list.current == null) return
    const li = list.current.querySelector(`li.msg[data-id="${jump.id}"]`)
    if (li == null) return
    done.current = jump
    stick.current = false
    for (const old of list.current.querySelectorAll('li.msg.found')) old.classList.remove('found')
    li.classList.add('found')
    li.setAttribute('tabindex', '-1')
    li.scrollIntoView({ block: 'center' })
    li.focus({ preventScroll: true })
    // rows above it render at their real height only now (content-visibility): keep it centred a moment, unless the user scrolls
    const el = list.current
    let frames = 0
    let quit = false
    const stop = () => { quit = true }
    for (const type of ['wheel', 'pointerdown', 'keydown', 'touchstart']) el.addEventListener(type, stop, { once: true, passive: true })
    const again = () => {
      if (quit || frames++ > 45 || !li.isConnected) return
      li.scrollIntoView({ block: 'center' })
      window.requestAnimationFrame(again)
    }
    window.requestAnimationFrame(again)
  }, [jump, version])
}
