import { randomBytes } from 'node:crypto'
import { SessionChannel } from './channel.js'
import { SyncProtocolError, SyncSessionError } from './errors.js'
import { exchange, u8 } from './exchange.js'
import { NONCE_LENGTH, PROOF_LENGTH, digest, equalBytes, proof, syncKey } from './proof.js'
import { MAX_RANGES_PER_AUTHOR, MAX_SUMMARY_AUTHORS, buildSummary, parseSummary } from './summary.js'
import { Auth, AuthReply, Frame, Hello, Summary } from './pb/sync.js'
import type { Claims } from './claims.js'
import type { Transcript } from './proof.js'
import type { HistoryStore, SeqIndex } from '../store/index.js'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'

/**
 * One sync session over one stream: the handshake of each end (initiator,
 * responder), then the exchange both run alike (exchange.ts) over the
 * session's framed stream (channel.ts).
 */

/** What sync needs of a group */
export interface SyncGroup {
  topicId: string
  keys: { groupId: string, macKey: Uint8Array }
}

export type Verdict = 'accept' | 'ignore' | 'reject'

/** The author (hex of the raw key) and seq of a sealed envelope of the group, without verifying its signature; undefined when it is not one. Never throws. */
export type RecordKeyFn<G extends SyncGroup> = (group: G, bytes: Uint8Array) => { author: string, seq: bigint } | undefined

/** Verify and store one sealed envelope (ChatNode.ingest): never throws for bad input. */
export type IngestFn<G extends SyncGroup> = (group: G, bytes: Uint8Array, from: string) => Promise<Verdict>

export interface SyncProgress {
  topicId: string
  peer: string
  /** new records stored from this peer so far */
  received: number
  /** records this peer holds that this node lacked when the session started (gossip or another session may bring some instead) */
  expected: number
  /** records sent to this peer so far */
  sent: number
  /** records this node holds that the peer lacks, at most (the peer asks for them) */
  toSend: number
}

export type SessionStatus = 'synced' | 'in-sync' | 'unknown' | 'busy'

export interface SessionResult {
  status: SessionStatus
  /** new records stored */
  received: number
  /** records sent */
  sent: number
  /** records refused as duplicates (already held: gossip got there first) */
  duplicates: number
  /** stream payload bytes read and written (length prefixes included) */
  bytesIn: number
  bytesOut: number
  /** seqs this end lacked were left to another session of this node that claimed them (come back later: they may still be missing) */
  deferred?: boolean
}

export interface SessionOptions<G extends SyncGroup> extends AbortOptions {
  stream: Stream
  local: PeerId
  remote: PeerId
  store: Pick<HistoryStore, 'seqIndex' | 'recordsBySeq'>
  ingest: IngestFn<G>
  recordKey: RecordKeyFn<G>
  /** per author (hex): the id of the message held at its last seq, told in summaries (equivocation shows as two heads); none: not told */
  heads?: (group: G, index: SeqIndex) => Promise<ReadonlyMap<string, Uint8Array>>
  /** aborts the whole session (service stop, caller's signal, session deadline) */
  signal: AbortSignal
  /** ms allowed for each read */
  readTimeout: number
  /** ms the peer has to prove membership (default 5 s); a peer that misses it stalled: SyncProtocolError */
  handshakeTimeout?: number
  /** the peer proved membership of this group (either end, as soon as its proof verifies) */
  onProven?: (group: G) => void
  batchRecords?: number
  batchBytes?: number
  onProgress?: (progress: SyncProgress) => void
  /** still a member of this group? checked between batches */
  isCurrent?: (group: G) => boolean
  /** seqs being fetched by this node's sessions, shared by them */
  claims?: Claims
  /** a record recordKey cannot read is of a key epoch not held yet (issue 15): skipped, fetched again once the key is there */
  unknownEpoch?: (group: G, bytes: Uint8Array) => boolean
}

/** How the responding end finds the group and whether it may go on */
export interface Responder<G extends SyncGroup> {
  /** the group whose MAC key passes `match` (the initiator's proof), if this node is in one */
  lookup: (match: (macKey: Uint8Array) => boolean) => G | undefined
  /** may a session for this group begin now? true also means it has begun (the caller counts it); false answers BUSY, a throw ends the session */
  admit: (group: G) => boolean
}

const SUMMARY_LIMITS = { authors: MAX_SUMMARY_AUTHORS, authors$: { ranges: 2 * MAX_RANGES_PER_AUTHOR } }

function transcript (initiator: PeerId, responder: PeerId, initiatorNonce: Uint8Array, responderNonce: Uint8Array): Transcript {
  return { initiator: initiator.toMultihash().bytes, responder: responder.toMultihash().bytes, initiatorNonce, responderNonce }
}

async function initiate<G extends SyncGroup> (channel: SessionChannel, group: G, options: SessionOptions<G>): Promise<SessionResult> {
  const myNonce = randomBytes(NONCE_LENGTH)
  await channel.write({ nonce: u8(myNonce) }, Hello)
  const hello = await channel.read(Hello)
  if (hello.nonce.byteLength !== NONCE_LENGTH) throw new SyncProtocolError('bad nonce')
  const t = transcript(options.local, options.remote, myNonce, hello.nonce)
  const key = syncKey(group.keys.macKey)
  const index = await options.store.seqIndex(group.keys.groupId)
  const { summary, holdings } = buildSummary(index, {}, await options.heads?.(group, index))
  const encoded = Summary.encode(summary)
  await channel.write({ proof: u8(proof(key, 'initiator', t)), digest: u8(summary.truncated ? new Uint8Array(0) : digest(key, t, encoded)) }, Auth)
  const reply = await channel.read(AuthReply, { summary: SUMMARY_LIMITS })
  if (reply.status === AuthReply.Status.UNKNOWN) return channel.done('unknown')
  if (reply.status === AuthReply.Status.BUSY) return channel.done('busy')
  if (reply.status !== AuthReply.Status.OK) throw new SyncProtocolError('unknown status')
  if (!equalBytes(reply.proof, proof(key, 'responder', t))) throw new SyncProtocolError('responder failed to prove membership')
  channel.proven()
  options.onProven?.(group)
  if (reply.inSync) return channel.done('in-sync')
  const theirs = parseSummary(reply.summary)
  await channel.write({ kind: Frame.Kind.SUMMARY, summary, records: [], done: false, wants: [] }, Frame)
  await exchange(channel, group, holdings, theirs, options)
  return channel.done('synced')
}

async function respond<G extends SyncGroup> (channel: SessionChannel, responder: Responder<G>, options: SessionOptions<G>): Promise<SessionResult & { group?: G }> {
  // until the initiator proves membership the channel has a tiny budget
  const hello = await channel.read(Hello)
  if (hello.nonce.byteLength !== NONCE_LENGTH) throw new SyncProtocolError('bad nonce')
  const myNonce = randomBytes(NONCE_LENGTH)
  await channel.write({ nonce: u8(myNonce) }, Hello)
  const auth = await channel.read(Auth)
  const t = transcript(options.remote, options.local, hello.nonce, myNonce)
  let key: Buffer | undefined
  const group = auth.proof.byteLength !== PROOF_LENGTH
    ? undefined
    : responder.lookup(macKey => {
      const k = syncKey(macKey)
      if (!equalBytes(auth.proof, proof(k, 'initiator', t))) return false
      key = k
      return true
    })
  if (group == null || key == null) {
    // the same answer for a group this node is not in and a proof that fails
    await channel.write({ status: AuthReply.Status.UNKNOWN, proof: new Uint8Array(0), inSync: false }, AuthReply)
    return channel.done('unknown')
  }
  channel.proven()
  options.onProven?.(group)
  if (!responder.admit(group)) {
    await channel.write({ status: AuthReply.Status.BUSY, proof: new Uint8Array(0), inSync: false }, AuthReply)
    return { ...channel.done('busy'), group }
  }
  channel.widen()
  const index = await options.store.seqIndex(group.keys.groupId)
  const { summary, holdings } = buildSummary(index, {}, await options.heads?.(group, index))
  const myProof = u8(proof(key, 'responder', t))
  if (auth.digest.byteLength > 0 && !summary.truncated && equalBytes(auth.digest, digest(key, t, Summary.encode(summary)))) {
    await channel.write({ status: AuthReply.Status.OK, proof: myProof, inSync: true }, AuthReply)
    return { ...channel.done('in-sync'), group }
  }
  await channel.write({ status: AuthReply.Status.OK, proof: myProof, inSync: false, summary }, AuthReply)
  const frame = await channel.read(Frame, { records: 0, summary: SUMMARY_LIMITS })
  if (frame.kind !== Frame.Kind.SUMMARY) throw new SyncProtocolError('expected a summary')
  const theirs = parseSummary(frame.summary)
  await exchange(channel, group, holdings, theirs, options)
  return { ...channel.done('synced'), group }
}

/**
 * Run the initiating end of a session for `group` over an open stream.
 * Failures throw SyncSessionError: its `cause` says why, its `stats` what
 * the session did first.
 */
export async function initiateSession<G extends SyncGroup> (group: G, options: SessionOptions<G>): Promise<SessionResult> {
  const channel = new SessionChannel(options.stream, 'frames', options)
  try {
    return await initiate(channel, group, options)
  } catch (err: unknown) {
    throw new SyncSessionError(err, channel.stats)
  } finally {
    channel.release()
  }
}

/** Run the responding end of a session over an inbound stream; failures throw SyncSessionError. */
export async function respondSession<G extends SyncGroup> (responder: Responder<G>, options: SessionOptions<G>): Promise<SessionResult & { group?: G }> {
  const channel = new SessionChannel(options.stream, 'handshake', options)
  try {
    return await respond(channel, responder, options)
  } catch (err: unknown) {
    throw new SyncSessionError(err, channel.stats)
  } finally {
    channel.release()
  }
}
