// The chat page served by the node (Preact + htm as ES modules, no build step).
import { Component, h, render } from 'preact'
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import htm from 'htm'
import { api, events, login, logout, stream } from './api.js'
import { ago, dayKey, dayLabel, fullTime, isoTime, shortId, suffix, timeOf } from './format.js'
import { QrCode } from './qr.js'
import { InviteTerms, MemberRole, useInvite, useMembership } from './membership.js'
import { KindsFooter, QuoteLine, ReplyBar, Tombstone, applyUpdate, isAct, replyTo, useReplying } from './kinds.js'
import { AttachButton, Marks, MessageBody, SearchBox, SearchResults, TypingLine, UploadList, counts, loadUntil, special, tap, typed, typedDone, unreadText, useJump, useMarkRead } from './extras.js'
import { BrowserCall, CallPanel, ENDED_PANEL_MS, IncomingCall, audioContext } from './calls.js'

const html = htm.bind(h)

/** Messages fetched per history page (the API's cursor pages) */
const PAGE = 200
/** Load the older page when the list is scrolled this close to its top (px) */
const NEAR_TOP = 400
/** Keep following new messages when the list is this close to its bottom (px) */
const NEAR_BOTTOM = 80
const STATUS_POLL_MS = 5000

const CONNECTION_TEXT = { direct: 'connected directly', relayed: 'connected through a relay', none: 'not connected' }

/** A conversation's messages, oldest first, and where its history continues */
function emptyConv () { return { messages: [], ids: new Set(), next: undefined, end: false, loading: false, loaded: false } }

/** Insert messages (any order) into a conversation, skipping those it has */
function merge (conv, list) {
  let appendedOnly = true
  for (const m of list) {
    if (conv.ids.has(m.id)) continue
    conv.ids.add(m.id)
    const last = conv.messages[conv.messages.length - 1]
    if (last == null || order(last, m) <= 0) { conv.messages.push(m); continue }
    appendedOnly = false
    // older than the newest shown (caught up by sync): into its place
    let i = conv.messages.length - 1
    while (i > 0 && order(conv.messages[i - 1], m) > 0) i--
    conv.messages.splice(i, 0, m)
  }
  return appendedOnly
}

function order (a, b) { return (a.timestamp - b.timestamp) || (a.lamport - b.lamport) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) }

/** Is this call (as the node lists it, or its end) the page's own? Before it connects, only its peer and direction tell */
function ownCall (mine, c) {
  return mine != null && (c.callId === mine.callId || (c.direction === mine.direction && c.peerId === mine.peerId))
}

function who (m, names) {
  if (m.own) return 'You'
  return `${m.name || names.get(m.author) || 'unnamed'}`
}

function Dialog ({ title, onClose, children, wide }) {
  const ref = useRef(null)
  useEffect(() => {
    const d = ref.current
    if (d != null && !d.open) d.showModal()
  }, [])
  return html`<dialog ref=${ref} class=${wide ? 'wide' : ''} aria-labelledby="dialog-title" onClose=${onClose} onCancel=${onClose}>
    <header class="dialog-head">
      <h2 id="dialog-title">${title}</h2>
      <button type="button" class="icon" aria-label="Close" onClick=${onClose}>✕</button>
    </header>
    ${children}
  </dialog>`
}

function LoginScreen ({ reason }) {
  return html`<main class="login" aria-labelledby="login-title">
    <h1 id="login-title">p2p-chat</h1>
    <p>${reason ?? 'This page is the chat app of your p2p-chat node.'}</p>
    <p>To open it, run this on the machine the node runs on, and follow the link it prints (it works once):</p>
    <pre><code>p2p-chat open</code></pre>
  </main>`
}

function App () {
  const [auth, setAuth] = useState({ state: 'loading' })
  useEffect(() => {
    login().then(r => setAuth(r.ok ? { state: 'in' } : { state: 'out', reason: r.reason === 'no session' ? undefined : r.reason }))
      .catch(() => setAuth({ state: 'out', reason: 'The node does not answer: is it running?' }))
  }, [])
  if (auth.state === 'loading') return html`<p class="boot">Logging in…</p>`
  if (auth.state === 'out') return html`<${LoginScreen} reason=${auth.reason}/>`
  return html`<${Chat} onLogout=${() => setAuth({ state: 'out', reason: 'You logged out.' })}/>`
}

function Chat ({ onLogout }) {
  const [status, setStatus] = useState(undefined)
  const [groups, setGroups] = useState([])
  const [current, setCurrent] = useState(undefined)
  const [view, setView] = useState('list')
  const [live, setLive] = useState(false)
  const [dialog, setDialog] = useState(undefined)
  const [toasts, setToasts] = useState([])
  const [calls, setCalls] = useState([])
  const [syncs, setSyncs] = useState({})
  const [synced, setSynced] = useState([])
  const [version, setVersion] = useState(0)
  const convs = useRef(new Map())
  const names = useRef(new Map())
  const currentRef = useRef(current)
  currentRef.current = current
  // the call of this page (browser microphone and camera), and a re-render on each of its changes
  const [myCall, setMyCall] = useState(undefined)
  const [, setCallVersion] = useState(0)
  const myCallRef = useRef(myCall)
  myCallRef.current = myCall

  const bump = useCallback(() => setVersion(v => v + 1), [])
  const conv = (topicId) => {
    let c = convs.current.get(topicId)
    if (c == null) { c = emptyConv(); convs.current.set(topicId, c) }
    return c
  }
  const toast = useCallback((text, kind = 'error') => {
    const id = Math.random()
    setToasts(t => [...t.slice(-3), { id, text, kind }])
    setTimeout(() => setToasts(t => t.filter(x => x.id !== id)), kind === 'error' ? 8000 : 4000)
  }, [])
  const guard = useCallback(async (fn) => {
    try { return await fn() } catch (err) { toast(err.message); return undefined }
  }, [toast])

  const refreshStatus = useCallback(async () => {
    try { setStatus(await api('GET', '/v1/status')) } catch { /* shown as offline by the WebSocket state */ }
  }, [])
  const refreshGroups = useCallback(async (quiet = false) => {
    let list
    try { list = await api('GET', '/v1/groups') } catch (err) { if (!quiet) toast(err.message); return }
    setGroups(list)
    if (currentRef.current == null && list.length > 0 && window.matchMedia('(min-width: 721px)').matches) setCurrent(list[0].topicId)
    if (currentRef.current != null && !list.some(g => g.topicId === currentRef.current)) setCurrent(undefined)
  }, [toast])
  const refreshCalls = useCallback(async () => {
    const list = await guard(() => api('GET', '/v1/calls'))
    if (list != null) setCalls(list)
  }, [guard])

  const loadOlder = useCallback(async (topicId) => {
    const c = conv(topicId)
    if (c.loading || c.end) return
    c.loading = true
    try {
      const q = new URLSearchParams({ limit: String(PAGE) })
      if (c.next != null) q.set('before', c.next)
      // folded: edits applied, tombstones, reactions, reply quotes (the page's rows)
      const page = await api('GET', `/v1/groups/${encodeURIComponent(topicId)}/view?${q}`)
      for (const m of page.messages) if (!m.own && !names.current.has(m.author)) names.current.set(m.author, m.name)
      merge(c, page.messages)
      c.next = page.next
      c.end = page.next == null
      c.loaded = true
    } catch (err) {
      toast(err.message)
      c.end = true
    } finally {
      c.loading = false
      bump()
    }
  }, [bump, toast])

  // the node's events, live
  useEffect(() => {
    void refreshStatus()
    void refreshGroups()
    void refreshCalls()
    const timer = setInterval(() => { void refreshStatus(); void refreshGroups(true) }, STATUS_POLL_MS)
    const stop = events((ev) => {
      tap(ev)
      switch (ev.type) {
        case 'message': {
          const { type: _t, ...m } = ev
          if (!m.own) names.current.set(m.author, m.name)
          const c = convs.current.get(m.topicId)
          // a reaction, an edit or a delete is no row: its message's `updated` event follows
          if (c != null && c.loaded && !isAct(m)) { merge(c, [m]); bump() }
          // the node's unread counts (GET /v1/groups, polled) go up at once here
          if (m.topicId !== currentRef.current && !m.own && counts(m)) setGroups(gs => gs.map(g => g.topicId === m.topicId ? { ...g, unread: (g.unread ?? 0) + 1, unreadMentions: (g.unreadMentions ?? 0) + (m.mentionsMe === true ? 1 : 0) } : g))
          break
        }
        case 'updated': if (applyUpdate(convs.current.get(ev.topicId), ev.message)) bump(); break
        case 'group:joined': case 'group:left': void refreshGroups(); break
        case 'peer:connect': case 'peer:disconnect': void refreshStatus(); void refreshGroups(); break
        case 'synced': setSynced(s => [{ ...ev, at: Date.now() }, ...s].slice(0, 20)); break
        case 'call:incoming': case 'call:outgoing': case 'call:connected': case 'call:ended': case 'call:refused':
          void refreshCalls()
          // this page's own call shows how it ended in its panel
          if (ev.type === 'call:ended' && !ownCall(myCallRef.current, ev)) toast(`Call with ${nameOf(ev.peerId)} ended: ${ev.reason} (by ${ev.by})`, 'info')
          if (ev.type === 'call:refused') toast(`Refused a call from ${nameOf(ev.peerId)}: ${ev.reason}`, 'info')
          break
        default: break
      }
    }, (up) => {
      setLive(up)
      if (up) {
        // after a reconnect: what happened meanwhile
        void refreshGroups()
        void refreshStatus()
        const t = currentRef.current
        if (t != null && conv(t).loaded) {
          api('GET', `/v1/groups/${encodeURIComponent(t)}/view?limit=${PAGE}`).then(p => { merge(conv(t), p.messages); bump() }).catch(() => undefined)
        }
      }
    })
    return () => { clearInterval(timer); stop() }
  }, [])

  const nameOf = (peerId) => {
    const n = names.current.get(peerId)
    return n != null ? `${n} ~${suffix(peerId)}` : shortId(peerId)
  }

  const open = (topicId) => {
    setCurrent(topicId)
    setView('chat')
  }
  useEffect(() => {
    if (current != null && !conv(current).loaded) void loadOlder(current)
  }, [current])

  // the node's read marker follows what the open conversation shows
  useMarkRead({ current, conv, view, setGroups })
  // search results: open the group, load back to the message, then the conversation scrolls to it
  const [jump, setJump] = useState(undefined)
  const jumpTo = async (r) => {
    setDialog(undefined)
    open(r.topicId)
    if (await loadUntil(conv(r.topicId), () => loadOlder(r.topicId), r.id)) setJump({ id: r.id, topicId: r.topicId })
    else toast('That message is not in this group\'s history on this node')
  }

  const group = groups.find(g => g.topicId === current)
  // the page's own call is shown by its panel; calls of other clients (the CLI) get a banner
  const mine = (c) => myCall != null && !myCall.over && ownCall(myCall, c)
  const ringing = calls.filter(c => c.direction === 'inbound' && c.state === 'ringing' && !mine(c))
  const active = calls.filter(c => !(c.direction === 'inbound' && c.state === 'ringing') && !mine(c))

  const startCall = (opts) => {
    if (myCall != null && !myCall.over) { toast('You are in a call already: hang up first.'); return }
    // made in the click: a browser lets a page play sound only after a user gesture
    const ctx = audioContext()
    let dismissing = false
    const c = new BrowserCall({
      ...opts,
      ctx,
      nameOf,
      onChange: (x) => {
        setCallVersion(v => v + 1)
        if (x.over && !dismissing) {
          dismissing = true
          void refreshCalls()
          setTimeout(() => { setMyCall(cur => cur === x ? undefined : cur) }, ENDED_PANEL_MS)
        }
      }
    })
    setMyCall(c)
    void c.start()
  }
  const callActions = {
    call: (peerId, video) => { startCall({ peerId, video }) },
    answer: (c) => { startCall({ peerId: c.peerId, video: c.video, callId: c.callId }) },
    reject: (c) => guard(() => api('POST', '/v1/calls/reject', { callId: c.callId })).then(refreshCalls),
    hangup: (c) => guard(() => api('POST', '/v1/calls/hangup', { callId: c.callId })).then(refreshCalls)
  }

  const sync = async (topicId) => {
    setSyncs(s => ({ ...s, [topicId]: { running: true, text: 'Syncing…' } }))
    try {
      const r = await stream('POST', `/v1/groups/${encodeURIComponent(topicId)}/sync`, {}, (p) => {
        setSyncs(s => ({ ...s, [topicId]: { running: true, text: `Syncing with ~${suffix(p.peer)}: ${p.received}${p.expected != null ? ` of ${p.expected}` : ''} received, ${p.sent} sent` } }))
      })
      setSyncs(s => ({ ...s, [topicId]: { running: false, text: `Synced with ${r.peers} peer(s): ${r.received} received, ${r.sent} sent${r.failed > 0 ? `, ${r.failed} failed` : ''}` } }))
    } catch (err) {
      setSyncs(s => ({ ...s, [topicId]: { running: false, text: `Sync failed: ${err.message}` } }))
    }
  }

  const peers = status?.peers ?? 0
  return html`<div class=${`app view-${view}`}>
    <a class="skip" href="#composer-text">Skip to the message box</a>
    <header class="top">
      <h1 class="brand">p2p-chat</h1>
      <button type="button" class="status-pill" onClick=${() => setDialog({ kind: 'status' })} aria-label=${`Node status: ${live ? 'live' : 'not connected to the node'}, ${peers} peers, reachability ${status?.reachability ?? 'unknown'}`}>
        <span class=${`dot ${live ? (peers > 0 ? 'ok' : 'idle') : 'bad'}`} aria-hidden="true"></span>
        <span>${live ? `${peers} peer${peers === 1 ? '' : 's'}` : 'offline'}</span>
        <span class="muted">· ${status?.reachability ?? '…'}</span>
      </button>
      <button type="button" class="me" onClick=${() => setDialog({ kind: 'profile' })} aria-label=${`Your name: ${status?.name ?? ''}. Change it`}>${status?.name ?? '…'}</button>
      <${SearchBox} onSearch=${(q) => setDialog({ kind: 'search', q })}/>
    </header>
    <div class="ring-area">${ringing.map(c => html`<${IncomingCall} key=${c.callId} call=${c} name=${nameOf(c.peerId)}
      onAccept=${() => callActions.answer(c)} onDecline=${() => callActions.reject(c)}/>`)}</div>
    <div class="call-area">
      ${myCall != null ? html`<${CallPanel} call=${myCall} name=${nameOf(myCall.peerId)} onClose=${() => setMyCall(undefined)}/>` : null}
      ${active.map(c => html`<div class="banner call" role="status" key=${c.callId}>
        <span>${c.state === 'connected' ? 'In a call with' : 'Calling'} <strong>${nameOf(c.peerId)}</strong>${c.video ? ' (video)' : ''}${c.connectedAt != null ? ` since ${timeOf(c.connectedAt)}` : ''} · placed by another client of the node (its media is not in this page)</span>
        <button type="button" class="danger" onClick=${() => callActions.hangup(c)}>Hang up</button>
      </div>`)}
    </div>
    <nav class="groups" aria-label="Groups">
      <div class="groups-head">
        <h2>Groups</h2>
        <button type="button" onClick=${() => setDialog({ kind: 'create' })}>New</button>
        <button type="button" onClick=${() => setDialog({ kind: 'join' })}>Join</button>
      </div>
      ${groups.length === 0
        ? html`<p class="empty">No groups yet: create one, or join one with an invite.</p>`
        : html`<ul class="group-list">${groups.map(g => html`<li key=${g.topicId}>
          <button type="button" class="group" aria-current=${g.topicId === current ? 'page' : undefined} onClick=${() => open(g.topicId)}
            aria-label=${`${g.name ?? g.topicId}${unreadText(g) !== '' ? `, ${unreadText(g)} unread` : ''}${g.unreadMentions > 0 ? `, ${g.unreadMentions} mentioning you` : ''}, ${g.peers} peers online`}>
            <span class="group-name">${g.name ?? g.topicId}</span>
            <span class="group-meta">${g.peers} online</span>
            ${unreadText(g) !== '' ? html`<span class=${`badge${g.unreadMentions > 0 ? ' mentions' : ''}`} aria-hidden="true">${g.unreadMentions > 0 ? '@ ' : ''}${unreadText(g)}</span>` : null}
          </button></li>`)}</ul>`}
      <footer class="groups-foot">
        <button type="button" class="link" onClick=${() => setDialog({ kind: 'status' })}>Node and peers</button>
        <button type="button" class="link" onClick=${() => { void logout().then(onLogout) }}>Log out</button>
      </footer>
    </nav>
    <main class="conversation" aria-label=${group != null ? `Conversation in ${group.name ?? group.topicId}` : 'Conversation'}>
      ${group == null
        ? html`<div class="placeholder"><p>${groups.length === 0 ? 'Create a group or join one to start.' : 'Choose a group.'}</p></div>`
        : html`<${Conversation} key=${group.topicId} group=${group} conv=${conv(group.topicId)} version=${version} names=${names.current}
            loadOlder=${() => loadOlder(group.topicId)} onBack=${() => setView('list')} toast=${toast} guard=${guard} sync=${syncs[group.topicId]}
            onSync=${() => sync(group.topicId)} onDialog=${setDialog} onSent=${(m) => { merge(conv(group.topicId), [m]); bump() }}
            jump=${jump?.topicId === group.topicId ? jump : undefined}/>`}
    </main>
    <div class="toasts" aria-live="polite">${toasts.map(t => html`<div key=${t.id} class=${`toast ${t.kind}`} role=${t.kind === 'error' ? 'alert' : 'status'}>
      <span>${t.text}</span><button type="button" class="icon" aria-label="Dismiss" onClick=${() => setToasts(x => x.filter(y => y.id !== t.id))}>✕</button></div>`)}</div>
    ${dialog?.kind === 'create' && html`<${CreateDialog} onClose=${() => setDialog(undefined)} guard=${guard} onCreated=${(g) => { void refreshGroups(); open(g.topicId); setDialog({ kind: 'invite', topicId: g.topicId, invite: { invite: g.invite, expires: g.expires, uses: g.uses } }) }}/>`}
    ${dialog?.kind === 'join' && html`<${JoinDialog} onClose=${() => setDialog(undefined)} guard=${guard} onJoined=${(g) => { convs.current.delete(g.topicId); void refreshGroups(); open(g.topicId); void loadOlder(g.topicId); setDialog(undefined); toast(`Joined ${g.name ?? g.topicId}${g.dialed > 0 ? ' (connected to the inviter)' : ''}`, 'info') }}/>`}
    ${dialog?.kind === 'invite' && html`<${InviteDialog} topicId=${dialog.topicId} invite=${dialog.invite} guard=${guard} onClose=${() => setDialog(undefined)}/>`}
    ${dialog?.kind === 'members' && html`<${MembersDialog} topicId=${dialog.topicId} status=${status} nameOf=${nameOf} guard=${guard} onCall=${callActions.call} onClose=${() => setDialog(undefined)}/>`}
    ${dialog?.kind === 'leave' && html`<${LeaveDialog} group=${groups.find(g => g.topicId === dialog.topicId)} guard=${guard} onClose=${() => setDialog(undefined)}
      onLeft=${(t) => { convs.current.delete(t); setCurrent(undefined); setView('list'); setDialog(undefined); void refreshGroups(); toast(`Left ${t}: its history stays on this machine`, 'info') }}/>`}
    ${dialog?.kind === 'status' && html`<${StatusDialog} status=${status} live=${live} synced=${synced} nameOf=${nameOf} guard=${guard} refresh=${refreshStatus} onClose=${() => setDialog(undefined)}/>`}
    ${dialog?.kind === 'search' && html`<${Dialog} title=${`Search: ${dialog.q}`} onClose=${() => setDialog(undefined)} wide><${SearchResults} query=${dialog.q} groups=${groups} onJump=${jumpTo}/><//>`}
    ${dialog?.kind === 'profile' && html`<${ProfileDialog} name=${status?.name ?? ''} guard=${guard} onClose=${() => setDialog(undefined)} onSaved=${() => { void refreshStatus(); setDialog(undefined) }}/>`}
  </div>`
}

/** One message; messages never change, so a row renders once (10,000 rows stay cheap to re-render around) */
class Row extends Component {
  shouldComponentUpdate (next) {
    return next.m !== this.props.m || next.cont !== this.props.cont || next.name !== this.props.name
  }

  render ({ m, cont, name, guard, lookup }) {
    return html`<li class=${`msg${m.own ? ' own' : ''}${cont ? ' cont' : ''}${m.mentionsMe === true ? ' mention' : ''}${m.conflict === true ? ' conflict' : ''}`} data-id=${m.id}>
      <div class="bubble">
        ${cont ? null : html`<div class="meta"><span class="author">${name}</span>${m.own ? null : html` <span class="peer" title=${m.author}>~${suffix(m.author)}</span>`}</div>`}
        <${QuoteLine} m=${m} lookup=${lookup}/>
        ${m.deleted === true ? html`<${Tombstone}/>` : special(m) ? html`<${MessageBody} m=${m}/>` : html`<div class="text">${m.text}</div>`}
        ${m.mentionsMe === true ? html`<span class="visually-hidden">(mentions you)</span>` : null}
        <time datetime=${isoTime(m.timestamp)} title=${fullTime(m.timestamp)}>${timeOf(m.timestamp)}</time>
        <${Marks} m=${m}/>
        <${KindsFooter} m=${m} guard=${guard}/>
      </div>
    </li>`
  }
}

function Conversation ({ group, conv, version, names, loadOlder, onBack, guard, sync, onSync, onDialog, onSent, jump }) {
  const list = useRef(null)
  const anchor = useRef(undefined)
  const stick = useRef(true)

  // keep the view where it was when older messages arrive above, follow the bottom when it was there
  useLayoutEffect(() => {
    const el = list.current
    if (el == null) return
    if (anchor.current != null) {
      el.scrollTop = anchor.current.top + (el.scrollHeight - anchor.current.height)
      anchor.current = undefined
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight
    }
    // a first page shorter than the window: fetch on until it scrolls or history ends
    if (conv.loaded && !conv.end && !conv.loading && el.scrollHeight <= el.clientHeight + NEAR_TOP) older()
  }, [version, conv.messages.length])

  // a search result jumped to: scrolled into view once it is rendered
  useJump(list, stick, jump, version)

  const older = () => {
    const el = list.current
    if (el == null || conv.loading || conv.end) return
    anchor.current = { top: el.scrollTop, height: el.scrollHeight }
    void loadOlder()
  }
  const onScroll = () => {
    const el = list.current
    if (el == null) return
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM
    if (el.scrollTop < NEAR_TOP) older()
  }

  const items = []
  let prevDay
  let prevAuthor
  // the messages replies quote, for those that came live (the view's carry their quote)
  const byId = new Map(conv.messages.map(x => [x.id, x]))
  const lookup = (id) => byId.get(id)
  for (const m of conv.messages) {
    const day = dayKey(m.timestamp)
    if (day !== prevDay) {
      items.push(html`<li key=${`d${day}`} class="day" role="separator" aria-label=${dayLabel(m.timestamp)}><span>${dayLabel(m.timestamp)}</span></li>`)
      prevDay = day
      prevAuthor = undefined
    }
    const cont = prevAuthor === m.author
    prevAuthor = m.author
    items.push(html`<${Row} key=${m.id} m=${m} cont=${cont} name=${who(m, names)} guard=${guard} lookup=${lookup}/>`)
  }

  return html`<section class="conv" aria-labelledby="conv-title">
    <header class="conv-head">
      <button type="button" class="back icon" aria-label="Back to the groups" onClick=${onBack}>←</button>
      <div class="conv-title">
        <h2 id="conv-title">${group.name ?? group.topicId}</h2>
        <p class="muted">${group.name != null ? `${group.topicId} · ` : ''}${group.peers} peer${group.peers === 1 ? '' : 's'} online${sync != null ? ` · ${sync.text}` : ''}</p>
      </div>
      <div class="conv-actions">
        <button type="button" onClick=${() => onDialog({ kind: 'members', topicId: group.topicId })}>Members</button>
        <button type="button" onClick=${() => onDialog({ kind: 'invite', topicId: group.topicId })}>Invite</button>
        <button type="button" disabled=${sync?.running === true} onClick=${onSync}>Sync</button>
        <button type="button" class="danger" onClick=${() => onDialog({ kind: 'leave', topicId: group.topicId })}>Leave</button>
      </div>
    </header>
    <ol class="messages" ref=${list} onScroll=${onScroll} role="log" aria-label=${`Messages in ${group.name ?? group.topicId}`} tabindex="0" aria-busy=${conv.loading ? 'true' : 'false'}>
      <li class="history-edge" aria-live="polite">${conv.end ? (conv.messages.length === 0 ? 'No messages yet: say hello.' : 'Start of the conversation') : 'Loading older messages…'}</li>
      ${items}
    </ol>
    <${UploadList} topicId=${group.topicId}/>
    <${TypingLine} topicId=${group.topicId}/>
    <${Composer} topicId=${group.topicId} guard=${guard} onSent=${(m) => { stick.current = true; onSent(m) }}/>
  </section>`
}

function Composer ({ topicId, guard, onSent }) {
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const ref = useRef(null)
  const reply = useReplying(topicId)
  useEffect(() => { ref.current?.focus() }, [topicId, reply])
  const send = async () => {
    if (text.trim() === '' || busy) return
    setBusy(true)
    const m = await guard(() => api('POST', `/v1/groups/${encodeURIComponent(topicId)}/messages`, { text, ...(reply != null ? { replyTo: reply.id } : {}) }, { 'idempotency-key': crypto.randomUUID() }))
    setBusy(false)
    if (m != null) { setText(''); typedDone(topicId); if (reply != null) replyTo(topicId, undefined); onSent(m) }
    ref.current?.focus()
  }
  const onKeyDown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void send() }
  }
  return html`<${ReplyBar} topicId=${topicId}/><form class="composer" onSubmit=${(e) => { e.preventDefault(); void send() }}>
    <label for="composer-text" class="visually-hidden">Message</label>
    <textarea id="composer-text" ref=${ref} rows="1" placeholder="Message (Enter sends, Shift+Enter for a new line)" value=${text}
      onInput=${(e) => { setText(e.currentTarget.value); typed(topicId, e.currentTarget.value) }} onKeyDown=${onKeyDown} maxlength="4096" aria-describedby="composer-hint"></textarea>
    <span id="composer-hint" class="visually-hidden">Enter sends, Shift+Enter starts a new line</span>
    <${AttachButton} topicId=${topicId} onSent=${onSent}/>
    <button type="submit" class="primary" disabled=${busy || text.trim() === ''}>Send</button>
  </form>`
}

function CreateDialog ({ onClose, onCreated, guard }) {
  const [topicId, setTopicId] = useState('')
  const [name, setName] = useState('')
  const [managed, setManaged] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    const g = await guard(() => api('POST', '/v1/groups', { topicId: topicId.trim(), name: name.trim() === '' ? undefined : name.trim(), ...(managed ? { managed: true } : {}) }))
    if (g != null) onCreated(g)
  }
  return html`<${Dialog} title="New group" onClose=${onClose}>
    <form onSubmit=${submit} class="form">
      <label>Topic id <span class="muted">(letters, digits, - and _; no spaces)</span>
        <input required autofocus value=${topicId} onInput=${(e) => setTopicId(e.currentTarget.value)} pattern="\\S+" autocomplete="off"/></label>
      <label>Name <span class="muted">(optional, shown to members)</span>
        <input value=${name} onInput=${(e) => setName(e.currentTarget.value)} autocomplete="off"/></label>
      <label class="check"><input type="checkbox" checked=${managed} onChange=${(e) => setManaged(e.currentTarget.checked)}/>
        Managed: you are its admin, invites can be revoked, members can be removed <span class="muted">(a new key for the others on each removal)</span></label>
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button><button type="submit" class="primary">Create</button></div>
    </form>
  <//>`
}

function JoinDialog ({ onClose, onJoined, guard }) {
  const [invite, setInvite] = useState('')
  const [topicId, setTopicId] = useState('')
  const [secret, setSecret] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    const body = invite.trim() !== '' ? { invite: invite.trim() } : { topicId: topicId.trim(), secret: secret.trim() }
    const g = await guard(() => api('POST', '/v1/groups/join', body))
    setBusy(false)
    if (g != null) onJoined(g)
  }
  return html`<${Dialog} title="Join a group" onClose=${onClose}>
    <form onSubmit=${submit} class="form">
      <label>Invite <span class="muted">(as a member gave it to you)</span>
        <textarea rows="4" autofocus value=${invite} onInput=${(e) => setInvite(e.currentTarget.value)} spellcheck="false"></textarea></label>
      <details><summary>Or a topic id and secret</summary>
        <label>Topic id <input value=${topicId} onInput=${(e) => setTopicId(e.currentTarget.value)} autocomplete="off"/></label>
        <label>Secret (hex) <input value=${secret} onInput=${(e) => setSecret(e.currentTarget.value)} autocomplete="off" spellcheck="false"/></label>
      </details>
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button><button type="submit" class="primary" disabled=${busy}>${busy ? 'Joining…' : 'Join'}</button></div>
    </form>
  <//>`
}

function InviteDialog ({ topicId, invite: given, guard, onClose }) {
  const [made, make] = useInvite(topicId, given, guard)
  const invite = made?.invite
  const [copied, setCopied] = useState('')
  const area = useRef(null)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(invite)
    } catch {
      area.current?.select()
      document.execCommand('copy')
    }
    setCopied('Copied to the clipboard')
  }
  return html`<${Dialog} title=${`Invite to ${topicId}`} onClose=${onClose}>
    ${made?.denied === true
      ? html`<p>Only an admin of this group can invite: ask one (Members shows who is).</p>`
      : invite == null
      ? html`<p>Loading…</p>`
      : html`<div class="invite">
        <label for="invite-text">Invite</label>
        <textarea id="invite-text" ref=${area} readonly rows="4" spellcheck="false" value=${invite} onFocus=${(e) => e.currentTarget.select()}></textarea>
        <div class="actions"><span role="status" class="muted">${copied}</span><button type="button" class="primary" onClick=${copy}>Copy invite</button></div>
        <${InviteTerms} invite=${made} onMake=${async (terms) => { setCopied(''); await make(terms) }}/>
        <${QrCode} text=${invite} label=${`QR code of the invite to ${topicId}`}/>
      </div>`}
  <//>`
}

function MembersDialog ({ topicId, status, nameOf, guard, onCall, onClose }) {
  const [peers, setPeers] = useState(undefined)
  const [roles, reloadRoles] = useMembership(topicId, guard)
  useEffect(() => {
    void guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/peers`)).then(p => setPeers(p ?? []))
  }, [topicId])
  const members = new Map((status?.members ?? []).filter(m => m.groups.includes(topicId)).map(m => [m.peerId, m]))
  for (const p of peers ?? []) if (!members.has(p)) members.set(p, { peerId: p, groups: [topicId], connection: 'none' })
  // a group with a log: its members (and the removed) as the log has them, also when they are offline
  const logged = roles?.membership.logged === true
  const byPeer = new Map((roles?.members ?? []).map(m => [m.peerId, m]))
  if (logged) for (const m of roles.members) if (m.self !== true && !members.has(m.peerId)) members.set(m.peerId, { peerId: m.peerId, groups: [topicId], connection: m.connection ?? 'none' })
  const self = byPeer.get(status?.peerId)
  const mine = self?.role
  const changed = () => { void reloadRoles() }
  return html`<${Dialog} title=${`Members of ${topicId}`} onClose=${onClose}>
    ${logged && html`<p class="muted">Key epoch ${roles.membership.epoch}; ${roles.membership.members.length} member(s)${roles.membership.removed.length > 0 ? `, ${roles.membership.removed.length} removed or left` : ''}.</p>`}
    <ul class="members">
      <li><span class="dot ok" aria-hidden="true"></span><span class="member-name">${status?.name ?? 'You'} (you)</span><span class="muted">~${suffix(status?.peerId)}</span>
        ${self != null && html`<${MemberRole} topicId=${topicId} member=${self} mine=${mine} logged=${logged} guard=${guard} onChanged=${changed} label="you"/>`}</li>
      ${peers == null ? html`<li>Loading…</li>` : [...members.values()].map(m => html`<li key=${m.peerId}>
        <span class=${`dot ${m.connection === 'direct' ? 'ok' : m.connection === 'relayed' ? 'idle' : 'bad'}`} aria-hidden="true"></span>
        <span class="member-name" title=${m.peerId}>${nameOf(m.peerId)}</span>
        <span class="muted">${CONNECTION_TEXT[m.connection] ?? m.connection}${(peers ?? []).includes(m.peerId) ? ', online in this group' : ''}</span>
        ${byPeer.has(m.peerId) && html`<${MemberRole} topicId=${topicId} member=${byPeer.get(m.peerId)} mine=${mine} logged=${logged} guard=${guard} onChanged=${changed} label=${nameOf(m.peerId)}/>`}
        <span class="member-actions">
          <button type="button" onClick=${() => { onCall(m.peerId, false); onClose() }} aria-label=${`Voice call ${nameOf(m.peerId)}`}>Call</button>
          <button type="button" onClick=${() => { onCall(m.peerId, true); onClose() }} aria-label=${`Video call ${nameOf(m.peerId)}`}>Video</button>
        </span>
      </li>`)}
    </ul>
    ${peers != null && members.size === 0 ? html`<p class="muted">No other member has been seen yet.</p>` : null}
    <p class="muted">Calls use this browser's microphone (and camera for a video call); your node carries them to the member.</p>
  <//>`
}

function LeaveDialog ({ group, guard, onClose, onLeft }) {
  if (group == null) return null
  const leave = async () => {
    const r = await guard(() => api('DELETE', `/v1/groups/${encodeURIComponent(group.topicId)}`))
    if (r != null) onLeft(group.topicId)
  }
  return html`<${Dialog} title=${`Leave ${group.name ?? group.topicId}?`} onClose=${onClose}>
    <p>You stop receiving its messages and this node forgets the group's secret; its history stays on this machine. You can join again with an invite.</p>
    <div class="actions"><button type="button" onClick=${onClose} autofocus>Cancel</button><button type="button" class="danger" onClick=${leave}>Leave the group</button></div>
  <//>`
}

function ProfileDialog ({ name: given, guard, onClose, onSaved }) {
  const [name, setName] = useState(given)
  const submit = async (e) => {
    e.preventDefault()
    const r = await guard(() => api('PUT', '/v1/profile', { name }))
    if (r != null) onSaved()
  }
  return html`<${Dialog} title="Your name" onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <label>Display name <span class="muted">(shown with your messages, with the end of your peer id)</span>
        <input required autofocus value=${name} onInput=${(e) => setName(e.currentTarget.value)} autocomplete="off"/></label>
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button><button type="submit" class="primary">Save</button></div>
    </form>
  <//>`
}

function StatusDialog ({ status, live, synced, nameOf, guard, refresh, onClose }) {
  const [peers, setPeers] = useState([])
  const [address, setAddress] = useState('')
  const load = async () => { const p = await guard(() => api('GET', '/v1/peers')); if (p != null) setPeers(p) }
  useEffect(() => { void load(); void refresh() }, [])
  const dial = async (e) => {
    e.preventDefault()
    const p = await guard(() => api('POST', '/v1/peers', { address: address.trim() }))
    if (p != null) { setAddress(''); void load(); void refresh() }
  }
  const [stopping, setStopping] = useState(false)
  const stop = async () => {
    // as /quit in the terminal: the node stops (and with it this page's API)
    if (!window.confirm('Stop the node? Nobody can reach you until it is started again.')) return
    const r = await guard(() => api('POST', '/v1/shutdown', {}))
    if (r != null) setStopping(true)
  }
  const members = status?.members ?? []
  return html`<${Dialog} title="Node and peers" onClose=${onClose} wide>
    <dl class="facts">
      <dt>Node</dt><dd>${status?.name} <code class="wrap">${status?.peerId}</code></dd>
      <dt>Page</dt><dd>${live ? 'live (events from the node arrive)' : 'not connected to the node: retrying'}</dd>
      <dt>Reachability</dt><dd>${status?.reachability ?? 'unknown'}</dd>
      <dt>Addresses</dt><dd>${(status?.addresses ?? []).length === 0 ? 'none' : html`<ul class="plain">${status.addresses.map(a => html`<li key=${a}><code class="wrap">${a}</code></li>`)}</ul>`}</dd>
      <dt>Relay addresses</dt><dd>${(status?.relayAddresses ?? []).length === 0 ? 'none' : html`<ul class="plain">${status.relayAddresses.map(a => html`<li key=${a}><code class="wrap">${a}</code></li>`)}</ul>`}</dd>
      <dt>Members</dt><dd>${members.length} known: ${members.filter(m => m.connection === 'direct').length} direct, ${members.filter(m => m.connection === 'relayed').length} relayed, ${members.filter(m => m.connection === 'none').length} not connected</dd>
      <dt>Sync</dt><dd>${synced.length === 0 ? 'no catch-up since this page opened' : html`<ul class="plain">${synced.slice(0, 5).map(s => html`<li key=${s.at + s.peer}>${s.topicId}: ${s.received} received, ${s.sent} sent with ${nameOf(s.peer)} in ${s.ms} ms, ${ago(s.at)}</li>`)}</ul>`}</dd>
    </dl>
    <h3>Connected peers (${peers.length})</h3>
    <ul class="plain peers">${peers.map(p => html`<li key=${p.peerId}><strong>${nameOf(p.peerId)}</strong> <code class="wrap">${p.addrs.join(' ')}</code></li>`)}</ul>
    <div class="actions">
      ${stopping ? html`<span role="status">The node is stopping: this page stops working; start it again with p2p-chat start.</span>` : null}
      <button type="button" class="danger" disabled=${stopping} onClick=${stop}>Stop the node</button>
    </div>
    <form class="form inline" onSubmit=${dial}>
      <label>Connect to a peer <span class="muted">(multiaddr with /p2p/, or a known peer id)</span>
        <input value=${address} onInput=${(e) => setAddress(e.currentTarget.value)} autocomplete="off" spellcheck="false" required/></label>
      <button type="submit">Connect</button>
    </form>
  <//>`
}

render(html`<${App}/>`, document.getElementById('root'))
