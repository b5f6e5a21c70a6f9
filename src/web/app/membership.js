// The page's side of issue 15 (docs/PROTOCOL.md, "Membership and epochs"):
// revocable invites, members' roles, and the admin's remove, promote and
// demote. Everything goes through the node's API, as the CLI's commands do.
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import htm from 'htm'
import { api } from './api.js'

const html = htm.bind(h)

const EXPIRIES = [['1 hour', 3600], ['24 hours', 86_400], ['7 days', 7 * 86_400], ['30 days', 30 * 86_400]]
const USES = [1, 5, 25, 100]

/** "one use, expires 3 Dec, 15:00" */
export function inviteTerms (uses, expires) {
  const when = new Date(expires).toLocaleString(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
  return `${uses === 1 ? 'one use' : `${uses} uses`}, expires ${when}`
}

/** The group's membership log as the node folds it (`logged`: it has one) and its members with roles, read every 2 s while shown */
export function useMembership (topicId, guard) {
  const [state, setState] = useState(undefined)
  const load = async () => {
    const [membership, members] = await Promise.all([
      guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/membership`)),
      guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/members`))
    ])
    setState({ membership: membership ?? { logged: false, epoch: 0, members: [], removed: [] }, members: members ?? [] })
  }
  // roles and the epoch change as ops arrive (a removal's new epoch follows it): read again while shown
  useEffect(() => {
    void load()
    const timer = setInterval(() => { void load() }, 2000)
    return () => clearInterval(timer)
  }, [topicId])
  return [state, load]
}

/**
 * The invite of a group: in a group with a membership log a revocable one
 * (made when the dialog opens: one use, 24 hours; "New invite" with other
 * terms), else the one that holds the group secret.
 */
export function useInvite (topicId, given, guard) {
  const [invite, setInvite] = useState(given != null ? { invite: given.invite, revocable: given.invite.startsWith('p2pchat2'), expires: given.expires, uses: given.uses } : undefined)
  const make = async (terms = {}) => {
    const r = await guard(() => api('POST', `/v1/groups/${encodeURIComponent(topicId)}/invites`, terms))
    if (r != null) setInvite({ invite: r.invite, revocable: true, expires: r.expires, uses: r.uses })
  }
  useEffect(() => {
    if (given != null) return
    void (async () => {
      const m = await guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/membership`))
      if (m?.logged === true) {
        // only an admin makes revocable invites
        const members = await guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/members`))
        if (members?.find(x => x.self === true)?.role === 'admin') await make()
        else setInvite({ denied: true })
        return
      }
      const r = await guard(() => api('GET', `/v1/groups/${encodeURIComponent(topicId)}/invite`))
      if (r != null) setInvite({ invite: r.invite, revocable: false })
    })()
  }, [topicId])
  return [invite, make]
}

/** What an invite admits, in one sentence, and (revocable) the choice of new terms */
export function InviteTerms ({ invite, onMake }) {
  const [expiresIn, setExpiresIn] = useState(86_400)
  const [uses, setUses] = useState(1)
  if (!invite.revocable) return html`<p>Anyone with this invite can read and write in the group: share it only with its members. It holds the group's secret and cannot be taken back.</p>`
  return html`<div class="invite-terms">
    <p>This invite admits ${invite.uses === 1 ? 'one person' : `${invite.uses} people`} (${inviteTerms(invite.uses, invite.expires)}). It holds no secret: a member checks it, and removing any member revokes it.</p>
    <form class="form inline" onSubmit=${(e) => { e.preventDefault(); void onMake({ expiresIn, uses }) }}>
      <label>Expires after <select value=${expiresIn} onChange=${(e) => setExpiresIn(Number(e.currentTarget.value))}>
        ${EXPIRIES.map(([label, s]) => html`<option value=${s}>${label}</option>`)}</select></label>
      <label>Uses <select value=${uses} onChange=${(e) => setUses(Number(e.currentTarget.value))}>
        ${USES.map(n => html`<option value=${n}>${n}</option>`)}</select></label>
      <button type="submit">New invite</button>
    </form>
  </div>`
}

const ROLE_TEXT = { admin: 'admin', member: 'member', pending: 'not added yet', removed: 'removed', left: 'left' }

/** A member's role (in a group with a log) and, for an admin, what it may do to the member */
export function MemberRole ({ topicId, member, mine, logged, guard, onChanged, label }) {
  if (!logged || member.role == null) return null
  const act = async (op) => {
    const r = await guard(() => api('POST', `/v1/groups/${encodeURIComponent(topicId)}/members/${encodeURIComponent(member.peerId)}/${op}`, {}))
    if (r != null) onChanged(op)
  }
  const admin = mine === 'admin' && member.self !== true
  return html`<span class="member-role">
    <span class=${`role role-${member.role}`}>${ROLE_TEXT[member.role] ?? member.role}</span>
    ${admin && member.role === 'member' && html`<button type="button" onClick=${() => act('promote')} aria-label=${`Make ${label} an admin`}>Make admin</button>`}
    ${admin && member.role === 'admin' && html`<button type="button" onClick=${() => act('demote')} aria-label=${`Take ${label}'s admin role`}>Demote</button>`}
    ${admin && member.role === 'pending' && html`<button type="button" onClick=${() => act('add')} aria-label=${`Add ${label}`}>Add</button>`}
    ${admin && (member.role === 'member' || member.role === 'admin') && html`<button type="button" class="danger" onClick=${() => act('remove')} aria-label=${`Remove ${label} from the group`}>Remove</button>`}
  </span>`
}
