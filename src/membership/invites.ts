/**
 * Revocable invites (issue 15; docs/PROTOCOL.md, "Joining with a revocable
 * invite"): an admin appends an `invite` op holding SHA-256 of a fresh
 * token and hands out a `p2pchat2` code (topic, token, expiry, addresses of
 * members to ask). The joiner shows the token to a member over
 * `/p2p-chat/join/1.0.0`; the member checks it against its log, appends the
 * `add` op and answers with epoch 0's secret and the epoch secrets it
 * holds, each sealed to the joiner's X25519 key. No secret is in the code:
 * an invite that is used up, expired, or revoked by a removal admits nobody.
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeTokenInvite, encodeTokenInvite, TOKEN_LENGTH } from '../groups/index.js'
import { InviteRefusedError, InvalidInputError, NotYourMessageError, DialFailedError, errorMessage } from '../errors.js'
import { inviteRefusal } from './log.js'
import { Membership } from './manager.js'
import { openSecret, sealSecret } from './box.js'
import { JoinResponse, MAX_JOIN_SECRETS } from './join.js'
import type { EpochSecret, Group, GroupRegistry } from '../groups/index.js'
import type { ChatLibp2p } from '../libp2p.js'
import type { InviteRefusal } from './log.js'
import type { X25519KeyPair } from './box.js'
import type { JoinRequest, SecretBox } from './pb/join.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'

const log = logger('p2p-chat:invites')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Default life of a revocable invite: 24 hours */
export const DEFAULT_INVITE_TTL_MS = 24 * 3600_000
/** Longest life of an invite: 30 days */
export const MAX_INVITE_TTL_MS = 30 * 24 * 3600_000
export const MAX_INVITE_USES = 1000
/** Members besides the inviter whose addresses go in an invite (any of them can admit the joiner) */
export const INVITE_MEMBER_ADDRS = 3
/** ms between two requests for missing epoch keys, per group (each a small request to at most 3 peers, triggered by sync) */
export const KEY_REQUEST_INTERVAL_MS = 5000

/** the context a join box is bound to: topic id, epoch, rotate id (empty for epoch 0), joiner */
export function joinBoxContext (topicId: string, epoch: number, id: string, joiner: string): Buffer {
  return Buffer.from(`p2p-chat/membership/join/1\n${topicId}\n${epoch}\n${id}\n${joiner}`, 'utf8')
}

const STATUS_OF: Record<InviteRefusal, JoinResponse.Status> = {
  unknown: JoinResponse.Status.UNKNOWN_INVITE,
  expired: JoinResponse.Status.EXPIRED,
  used: JoinResponse.Status.USED_UP,
  revoked: JoinResponse.Status.REVOKED,
  removed: JoinResponse.Status.REMOVED
}

/** a refusal no other member would answer differently: the joiner stops asking */
const FINAL: ReadonlySet<JoinResponse.Status> = new Set([JoinResponse.Status.EXPIRED, JoinResponse.Status.USED_UP, JoinResponse.Status.REVOKED, JoinResponse.Status.REMOVED])

/** The one line a user reads for a refusal */
export function refusalMessage (status: JoinResponse.Status, topicId: string): string {
  switch (status) {
    case JoinResponse.Status.EXPIRED: return `this invite to ${topicId} has expired: ask an admin for a new one`
    case JoinResponse.Status.USED_UP: return `this invite to ${topicId} was used already (it allows no more joins): ask an admin for a new one`
    case JoinResponse.Status.REVOKED: return `this invite to ${topicId} was revoked (a member was removed after it was made, or its admin no longer is one): ask an admin for a new one`
    case JoinResponse.Status.REMOVED: return `you were removed from ${topicId}: only an admin can add you again ("p2p-chat add")`
    case JoinResponse.Status.UNKNOWN_INVITE: return `no member asked knows this invite to ${topicId} (it may not have reached them yet, or the group left its log behind): try again later or ask for a new one`
    case JoinResponse.Status.UNKNOWN_GROUP: return `no member asked is in ${topicId}`
    case JoinResponse.Status.BUSY: return `the members asked are busy: try again in a few seconds`
    default: return `the members asked could not add you to ${topicId}`
  }
}

export interface InvitesHost {
  registry: GroupRegistry
  membership: Membership
  libp2p: ChatLibp2p
  x25519: X25519KeyPair
  /** hex of this node's raw Ed25519 key */
  self: string
  displayName: () => string
  /** join a group locally (registry, the later epochs' secrets, subscriptions, sync) */
  addGroup: (topicId: string, secret: Uint8Array, name: string | undefined, epochs: EpochSecret[]) => Promise<Group>
  /** dial addresses; the peers reached */
  dialAll: (addrs: string[]) => Promise<number>
}

export interface InviteResult {
  topicId: string
  invite: string
  /** ms since 1970 */
  expires: number
  uses: number
}

export class Invites {
  private readonly host: InvitesHost

  constructor (host: InvitesHost) {
    this.host = host
  }

  /** Make a revocable invite (admins of a group with a log): append its op, return the code. */
  async create (group: Group, opts: { ttlMs?: number, uses?: number } = {}): Promise<InviteResult> {
    const { membership } = this.host
    const ttl = opts.ttlMs ?? DEFAULT_INVITE_TTL_MS
    const uses = opts.uses ?? 1
    if (!Number.isFinite(ttl) || ttl < 1000 || ttl > MAX_INVITE_TTL_MS) throw new InvalidInputError('an invite expires between 1 second and 30 days from now (--expires 1h, 7d, 90s)')
    if (!Number.isInteger(uses) || uses < 1 || uses > MAX_INVITE_USES) throw new InvalidInputError(`an invite allows 1 to ${MAX_INVITE_USES} joins (--uses)`)
    const state = membership.state(group)
    if (state.members.get(this.host.self)?.role !== 'admin') throw new NotYourMessageError(`only an admin of ${group.topicId} makes invites ("p2p-chat members ${group.topicId}" shows who is); "--legacy-secret" prints the group secret instead, which cannot be taken back`)
    const token = new Uint8Array(randomBytes(TOKEN_LENGTH))
    const expires = Date.now() + ttl
    await membership.append(group, { type: 'invite', tokenHash: Membership.tokenHash(token), expires, uses })
    const invite = encodeTokenInvite({ topicId: group.topicId, token, addrs: await this.addrs(group), expires, ...(group.name != null ? { name: group.name } : {}) })
    return { topicId: group.topicId, invite, expires, uses }
  }

  /** This node's addresses, then those of a few online members (each with /p2p/<id>) */
  private async addrs (group: Group): Promise<string[]> {
    const { libp2p, membership } = this.host
    const out = libp2p.getMultiaddrs().map(a => a.toString())
    const state = membership.state(group)
    let others = 0
    for (const peer of libp2p.services.pubsub.getSubscribers(group.keys.wireTopic)) {
      if (others >= INVITE_MEMBER_ADDRS) break
      const key = peer.publicKey?.raw
      if (key == null || !state.members.has(hex(key))) continue
      const stored = await libp2p.peerStore.get(peer).catch(() => undefined)
      const addr = stored?.addresses.map(a => a.multiaddr).find(a => !a.toString().includes('/p2p-circuit'))
      if (addr == null) continue
      out.push(addr.encapsulate(`/p2p/${peer.toString()}`).toString())
      others++
    }
    return out
  }

  /** The join service's answer (the request's lengths are checked already). Never throws. */
  async answer (request: JoinRequest, peer: PeerId, options: AbortOptions): Promise<JoinResponse> {
    const refuse = (status: JoinResponse.Status, message: string): JoinResponse => ({ status, message, name: '', secrets: [] })
    const group = this.host.registry.get(request.topicId)
    if (group == null) return refuse(JoinResponse.Status.UNKNOWN_GROUP, 'not in this group')
    const joiner = peer.publicKey?.raw
    if (joiner == null) return refuse(JoinResponse.Status.FAILED, 'no key in the peer id')
    const joinerHex = hex(joiner)
    const { membership } = this.host
    const tokenHash = Membership.tokenHash(request.token)
    const state = membership.state(group)
    // a joiner whose add went through already (its first answer was lost): answer again, add nothing
    const added = state.members.get(joinerHex)
    if (added == null || added.x25519 !== hex(request.x25519)) {
      const refusal = state.logged ? inviteRefusal(state, tokenHash, Date.now(), joinerHex) : 'unknown'
      if (refusal != null) return refuse(STATUS_OF[refusal], refusalMessage(STATUS_OF[refusal], group.topicId))
      if (added != null) return refuse(JoinResponse.Status.FAILED, 'a member already, with another key')
      try {
        options.signal?.throwIfAborted()
        await membership.append(group, { type: 'add', member: joinerHex, x25519: hex(request.x25519), name: request.name, invite: tokenHash })
      } catch (err: unknown) {
        log('add of %p to %s failed: %e', peer, group.topicId, err)
        return refuse(JoinResponse.Status.FAILED, 'the add was not written')
      }
      // the fold may have found the add void (a concurrent use took the last one): say so
      const now = membership.state(group)
      if (!now.members.has(joinerHex)) return refuse(JoinResponse.Status.USED_UP, refusalMessage(JoinResponse.Status.USED_UP, group.topicId))
    }
    log('added %p to %s by invite', peer, group.topicId)
    return { status: JoinResponse.Status.OK, message: '', name: group.name ?? '', secrets: this.secrets(group, joinerHex, request.x25519) }
  }

  /** Epoch 0's secret and every epoch secret held (at most MAX_JOIN_SECRETS), sealed to the joiner */
  private secrets (group: Group, joiner: string, x25519: Uint8Array): SecretBox[] {
    const seal = (epoch: number, id: string, secret: Uint8Array): SecretBox => {
      const { ephemeral, sealed } = sealSecret(x25519, secret, joinBoxContext(group.topicId, epoch, id, joiner))
      return { epoch, id: new Uint8Array(Buffer.from(id, 'hex')), ephemeral: ephemeral as Uint8Array<ArrayBuffer>, sealed: sealed as Uint8Array<ArrayBuffer> }
    }
    const epochs = [...(group.epochs ?? [])].sort((a, b) => b.epoch - a.epoch).slice(0, MAX_JOIN_SECRETS - 1)
    return [seal(0, '', group.secret), ...epochs.map(e => seal(e.epoch, e.id, e.secret))]
  }

  /**
   * Join with a p2pchat2 code: dial the addresses it names, ask each peer
   * in turn, take the secrets of the first that admits us. A refusal every
   * member would give (expired, used, revoked, removed) ends it at once.
   */
  async join (code: string, options: AbortOptions = {}): Promise<{ group: Group, dialed: number, admittedBy: string }> {
    const inv = decodeTokenInvite(code)
    if (Date.now() > inv.expires) throw new InviteRefusedError('expired', refusalMessage(JoinResponse.Status.EXPIRED, inv.topicId))
    const { libp2p, registry } = this.host
    if (registry.get(inv.topicId) != null) throw new InvalidInputError(`you are in ${inv.topicId} already`)
    const dialed = await this.host.dialAll(inv.addrs)
    const peers: PeerId[] = []
    for (const a of inv.addrs) {
      const id = peerIdOrUndefined(a)
      if (id != null && !peers.some(p => p.equals(id)) && !id.equals(libp2p.peerId)) peers.push(id)
    }
    const request: JoinRequest = { topicId: inv.topicId, token: inv.token as Uint8Array<ArrayBuffer>, x25519: this.host.x25519.publicKey as Uint8Array<ArrayBuffer>, name: this.host.displayName().slice(0, 64) }
    let last: JoinResponse.Status | undefined
    let reached = 0
    for (const peer of peers) {
      let response: JoinResponse
      try {
        response = await libp2p.services.join.ask(peer, request, options)
      } catch (err: unknown) {
        log('join via %p: %s', peer, errorMessage(err))
        continue
      }
      reached++
      if (response.status === JoinResponse.Status.OK) {
        const group = await this.take(inv.topicId, response, inv.name)
        return { group, dialed, admittedBy: peer.toString() }
      }
      last = response.status
      if (FINAL.has(response.status)) throw new InviteRefusedError(refusalName(response.status), refusalMessage(response.status, inv.topicId))
    }
    if (reached === 0) throw new DialFailedError(`none of the ${peers.length} member(s) this invite names answered (${dialed} reached by dialling): they may be offline; try again when one is online`)
    throw new InviteRefusedError(refusalName(last ?? JoinResponse.Status.FAILED), refusalMessage(last ?? JoinResponse.Status.FAILED, inv.topicId))
  }

  /**
   * Records of an epoch this node holds no key for came by sync: a node
   * added by an admin after it joined with the secret's invite cannot open
   * the rotate that holds its box (sealed with an epoch it never had). Ask
   * the group's peers for the secrets over the join service, with no token:
   * a member whose log lists this node (with its X25519 key) answers OK. At
   * most once per KEY_REQUEST_INTERVAL_MS per group: until an admin adds
   * this node, members answer UNKNOWN_INVITE and the next sync asks again.
   */
  keysMissing (group: Group): void {
    const now = Date.now()
    if (now - (this.asked.get(group.topicId) ?? 0) < KEY_REQUEST_INTERVAL_MS) return
    this.asked.set(group.topicId, now)
    this.requestKeys(group).catch((err: unknown) => { log('keys of %s not received: %e', group.topicId, err) })
  }

  private readonly asked = new Map<string, number>()

  private async requestKeys (group: Group): Promise<void> {
    const { libp2p, registry, membership } = this.host
    const request: JoinRequest = { topicId: group.topicId, token: new Uint8Array(TOKEN_LENGTH), x25519: this.host.x25519.publicKey as Uint8Array<ArrayBuffer>, name: '' }
    for (const peer of libp2p.services.pubsub.getSubscribers(group.keys.wireTopic).slice(0, 3)) {
      const response = await libp2p.services.join.ask(peer, request).catch(() => undefined)
      if (response?.status !== JoinResponse.Status.OK) continue
      const known = new Set((registry.get(group.topicId)?.epochs ?? []).map(e => e.id))
      const fresh = this.open(group.topicId, response).filter(o => o.epoch > 0 && !known.has(o.id))
      for (const o of fresh) registry.putEpoch(group.topicId, o)
      log('%d epoch key(s) of %s from %p', fresh.length, group.topicId, peer)
      const g = registry.get(group.topicId)
      if (g != null && fresh.length > 0) membership.keysAdded(g)
      return
    }
  }

  /** Open every box of an OK answer (one that does not open fails it) */
  private open (topicId: string, response: JoinResponse): EpochSecret[] {
    const opened: EpochSecret[] = []
    for (const b of response.secrets) {
      const id = hex(b.id)
      const secret = openSecret(this.host.x25519, b.ephemeral, b.sealed, joinBoxContext(topicId, b.epoch, id, this.host.self))
      if (secret == null) throw new InviteRefusedError('failed', `the member that admitted you to ${topicId} sent a key that does not open: ask another member or an admin`)
      opened.push({ epoch: b.epoch, id, secret })
    }
    return opened
  }

  /** Open the boxes of an OK answer, join the group with epoch 0's secret, keep the others */
  private async take (topicId: string, response: JoinResponse, name?: string): Promise<Group> {
    const opened = this.open(topicId, response)
    const zero = opened.find(o => o.epoch === 0)
    if (zero == null) throw new InviteRefusedError('failed', `the member that admitted you to ${topicId} sent no group key`)
    // the later epochs' keys before the first subscription and sync: their records open from the start
    return await this.host.addGroup(topicId, zero.secret, response.name !== '' ? response.name : name, opened.filter(o => o.epoch > 0))
  }
}

/** The refusal a status stands for (STATUS_OF read backwards); 'failed' for any other */
function refusalName (status: JoinResponse.Status): string {
  return (Object.keys(STATUS_OF) as InviteRefusal[]).find(r => STATUS_OF[r] === status) ?? 'failed'
}

function peerIdOrUndefined (addr: string): PeerId | undefined {
  try {
    const id = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value
    return id != null ? peerIdFromString(id) : undefined
  } catch {
    return undefined
  }
}
