/**
 * Who may ring here: the rules the call service applies before a call rings,
 * kept apart from the service's bookkeeping. An inbound stream spends one of
 * its peer's call attempts (a token bucket, reset unread beyond it); its
 * offer must prove that the caller holds the key of a group this side is in
 * (membership.ts); and there must be a free call slot. Outbound, it makes the
 * offer's proofs and checks the callee's answer.
 *
 * Slots: only calls this side placed or answered hold one (`Call.engaged`).
 * A ring that nobody answered never makes this side busy, so a member who
 * rings again and again cannot keep others out; after each of its rings that
 * ends unanswered, that peer waits `ringCooldown` before it may ring again.
 */
import { randomBytes } from 'node:crypto'
import { PeerRateLimiter } from '../rate-limit.js'
import { MAX_PROOFS, NONCE_BYTES, callProof, checkCalleeProof, findProver, offerProofs } from './membership.js'
import type { CallTranscript } from './membership.js'
import type { CallEndReason } from './protocol.js'
import type { Call } from './session.js'
import type { PeerId } from '@libp2p/interface'

export interface AdmissionInit {
  /** this node */
  self: PeerId
  /** the call keys of the groups we are in (see CallServiceInit); absent: everyone is admitted */
  callKeys?: (peer: PeerId) => Uint8Array[]
  /** calls ringing or connected at once */
  maxCalls: number
  /** inbound call streams one peer may open per minute */
  attemptsPerMinute: number
  /** ms after an unanswered ring during which its caller may not ring again */
  ringCooldown: number
  /** inbound calls ringing at once; beyond, callers are told busy */
  maxRinging: number
}

/** peers remembered in a cooldown at most; beyond, expired entries are forgotten, then the oldest */
const MAX_COOLDOWNS = 10_000

/** A decision: admitted (with what to carry), or refused with a reason for the peer. */
export type Verdict<T = object> = ({ ok: true } & T) | { ok: false, reason: CallEndReason, message: string }

/** What an outbound offer carries, and how to check the answer. */
export interface OfferMembership {
  membership: { nonce: Uint8Array, proofs: Uint8Array[] }
  /** undefined: no call keys, any answer is good */
  checkAnswer?: (proof: Uint8Array | undefined) => boolean
}

function transcript (caller: PeerId, callee: PeerId, callId: Uint8Array, nonce: Uint8Array): CallTranscript {
  return { caller: caller.toMultihash().bytes, callee: callee.toMultihash().bytes, callId, nonce }
}

export class Admission {
  /** inbound call streams per peer (fault-hostile.test.ts reads `refused`) */
  readonly attempts: PeerRateLimiter
  private readonly init: AdmissionInit
  /** peer → until when (ms since 1970) it may not ring */
  private readonly cooldowns = new Map<string, number>()

  constructor (init: AdmissionInit) {
    this.init = init
    this.attempts = new PeerRateLimiter({ rate: init.attemptsPerMinute / 60, burst: init.attemptsPerMinute })
  }

  /** An inbound call stream from `peer`: false when it is over its rate (the stream is reset unread). */
  allowStream (peer: PeerId): boolean {
    return this.attempts.take(peer.toString())
  }

  /** Can this side place or answer another call? Unanswered inbound rings do not count. */
  canCall (active: ReadonlyMap<string, Call>): boolean {
    return engaged(active) < this.init.maxCalls
  }

  /** An admitted ring from `peer` ended unanswered: it waits `ringCooldown` before ringing again. */
  cooldown (peer: PeerId, now = Date.now()): void {
    if (this.init.ringCooldown <= 0) return
    const key = peer.toString()
    this.cooldowns.delete(key)
    if (this.cooldowns.size >= MAX_COOLDOWNS) {
      for (const [p, until] of this.cooldowns) if (until <= now) this.cooldowns.delete(p)
      for (const p of this.cooldowns.keys()) {
        if (this.cooldowns.size < MAX_COOLDOWNS) break
        this.cooldowns.delete(p)
      }
    }
    this.cooldowns.set(key, now + this.init.ringCooldown)
  }

  /** Outbound: the membership proofs of an offer to `callee`, and the check of its answer's proof. */
  offer (callee: PeerId, callId: Uint8Array): OfferMembership {
    const t = transcript(this.init.self, callee, callId, new Uint8Array(randomBytes(NONCE_BYTES)))
    const keys = this.init.callKeys?.(callee).slice(0, MAX_PROOFS)
    return {
      membership: { nonce: t.nonce, proofs: offerProofs(keys ?? [], t) },
      checkAnswer: keys == null ? undefined : (proof) => checkCalleeProof(keys, proof, t)
    }
  }

  /**
   * Inbound: does the offer prove that the caller holds the key of one of our
   * groups? If so, the proof to answer with. Without `callKeys` every caller
   * is admitted (and answered without a proof).
   */
  member (call: Call): Verdict<{ proof?: Uint8Array }> {
    if (this.init.callKeys == null) return { ok: true }
    const refused = { ok: false, reason: 'not-a-member', message: 'you share no group with this peer' } as const
    const m = call.membership
    if (m == null) return refused
    const t = transcript(call.remotePeer, this.init.self, call.rawCallId, m.nonce)
    const keys = this.init.callKeys(call.remotePeer)
    const i = findProver(keys, m.proofs, t)
    return i < 0 ? refused : { ok: true, proof: callProof(keys[i], 'callee', t) }
  }

  /**
   * Inbound, a member: may its call ring (`active`: the calls under way
   * here)? Not while this side's slots are taken, nor while too many calls
   * ring, nor within its caller's cooldown.
   */
  slot (call: Call, active: ReadonlyMap<string, Call>, now = Date.now()): Verdict {
    if (!this.canCall(active)) return { ok: false, reason: 'busy', message: 'the peer is in another call' }
    if (active.has(call.id)) return { ok: false, reason: 'rejected', message: 'duplicate call id' }
    const until = this.cooldowns.get(call.peerId) ?? 0
    if (until > now) {
      return { ok: false, reason: 'busy', message: `your last call was not answered: try again in ${Math.ceil((until - now) / 1000)} s` }
    }
    this.cooldowns.delete(call.peerId)
    if (active.size - engaged(active) >= this.init.maxRinging) return { ok: false, reason: 'busy', message: 'too many calls are ringing at the peer' }
    return { ok: true }
  }
}

/** Calls holding a slot: placed by this side, or answered. */
function engaged (active: ReadonlyMap<string, Call>): number {
  let n = 0
  for (const c of active.values()) if (c.engaged) n++
  return n
}
