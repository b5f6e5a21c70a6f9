/**
 * A hostile peer for tests: a plain libp2p node (createBaseLibp2p, no
 * ChatNode) on a group's wire topic that floods it with forgeries, and opens
 * sync and call streams to write junk on them. It knows the group's keys, so
 * it can also forge a valid MAC over a bad signature (a member gone bad).
 */
import { once } from 'node:events'
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createBaseLibp2p } from '../src/libp2p.js'
import { Envelope, MAX_ENVELOPE_BYTES, Sealed, Signed, ed25519Signer, peek, sealInOrder } from '../src/envelope/index.js'
import type { GroupKeys, Signer } from '../src/envelope/index.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { PeerId, Stream } from '@libp2p/interface'
import type { TestContext } from 'node:test'
import { defer } from './helpers.js'

export const FORGERY_KINDS = ['forged-mac', 'bad-signature', 'impersonation', 'replay', 'bit-flip', 'oversized', 'truncated', 'malformed'] as const
export type ForgeryKind = typeof FORGERY_KINDS[number]

/** Re-MAC an envelope with the group key: what a member (or anyone holding the secret) can do. */
function remac (keys: GroupKeys, env: Envelope): Uint8Array {
  env.mac = new Uint8Array(0)
  env.mac = Uint8Array.from(createHmac('sha256', keys.macKey).update(Envelope.encode(env)).digest())
  return Envelope.encode(env)
}

/**
 * One forgery of a kind, different bytes every call (`i` and fresh random
 * bytes), so that gossipsub's content-addressed dedupe does not hide it.
 * `genuine`: sealed envelopes of the honest members (for replays, flips, impersonation).
 */
export function forge (kind: ForgeryKind, keys: GroupKeys, genuine: Uint8Array[], i: number, signer: Signer = ed25519Signer(randomBytes(32))): Uint8Array {
  const base = genuine.length > 0 ? genuine[i % genuine.length] : sealInOrder(keys, signer, { seq: 1n, lamport: 1n, timestamp: Date.now(), text: 'x', name: 'x' }).bytes
  switch (kind) {
    case 'forged-mac': {
      // sealed under a key the attacker made up: fails the MAC
      const wrong = { ...keys, macKey: randomBytes(32) }
      return sealInOrder(wrong, signer, { seq: BigInt(i + 1), lamport: 1n, timestamp: Date.now(), text: `forged ${i}`, name: 'mallory' }).bytes
    }
    case 'bad-signature':
      // valid MAC and encryption over a signature that is random bytes
      return craft(keys, signer, { seq: BigInt(i + 1), lamport: 1n, timestamp: BigInt(Date.now()), text: `unsigned ${i}`, signature: Uint8Array.from(randomBytes(64)) })
    case 'impersonation': {
      // an honest member named as the author, signed by the attacker: MAC and encryption valid
      const honest = peek(keys, base)
      const author = honest.ok ? honest.message.envelope.author : Uint8Array.from(randomBytes(32))
      return craft(keys, signer, { author, seq: BigInt(i + 2), lamport: 1n, timestamp: BigInt(Date.now()), text: `impersonated ${i}` })
    }
    case 'replay':
      return Uint8Array.from(base)
    case 'bit-flip': {
      const flipped = Uint8Array.from(base)
      const bit = (i * 7919 + Math.floor(Math.random() * 1e6)) % (flipped.byteLength * 8)
      flipped[bit >> 3] ^= 1 << (bit & 7)
      return flipped
    }
    case 'oversized': {
      const big = new Uint8Array(MAX_ENVELOPE_BYTES + 1 + (i % 1024))
      big.set(base)
      big.set(randomBytes(16), big.byteLength - 16)
      return big
    }
    case 'truncated': {
      const cut = 1 + ((i * 31 + Math.floor(Math.random() * 1e6)) % (base.byteLength - 1))
      // two forgeries may cut at the same place: append nothing, prepend a varying unknown field instead
      const out = new Uint8Array(cut + 3)
      out.set([0xf8, 0x07, i & 0x7f])
      out.set(base.subarray(0, cut), 3)
      return out
    }
    case 'malformed': {
      const junk = randomBytes(1 + (i % 300))
      // now and then a varint that never ends, or a length far past the end
      if (i % 3 === 0) junk.set([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f].slice(0, junk.byteLength))
      return Uint8Array.from(junk)
    }
  }
}

export interface FloodResult {
  /** publishes that reached at least one peer */
  sent: number
  perKind: Record<ForgeryKind, number>
  ms: number
  /** messages per second */
  rate: number
}

/** Every field a member could choose, unchecked */
export interface CraftFields {
  seq: bigint
  lamport: bigint
  timestamp: bigint
  kind?: number
  text?: string
  name?: string
  /** the exact Body bytes instead of Body(text, name): invalid UTF-8, non-canonical encodings */
  plain?: Uint8Array
  /** the author named (default: the signer's key): impersonation */
  author?: Uint8Array
  /** the signature instead of the signer's */
  signature?: Uint8Array
  prev?: Uint8Array
  parents?: Uint8Array[]
  /** the padded plaintext's size instead of the right bucket */
  paddedTo?: number
  /** bytes written after the inner message (padding should be zeros) */
  padding?: Uint8Array
}

/**
 * A validly MACed, signed and encrypted envelope (version 2) with whatever
 * fields a member chooses, none of seal()'s rules applied: what a member
 * gone bad (it holds the secret and its own key) can publish. Built as
 * docs/PROTOCOL.md says, from scratch, so that it also checks the spec.
 */
export function craft (keys: GroupKeys, signer: Signer, f: CraftFields): Uint8Array {
  const topic = Buffer.from(keys.wireTopic, 'utf8')
  const epoch = Buffer.alloc(4)
  epoch.writeUInt32BE(keys.epoch, 0)
  const seq = BigInt.asUintN(64, f.seq)
  const prev = f.prev ?? (seq > 1n ? Uint8Array.from(createHash('sha256').update(`crafted prev ${seq}`).digest()) : new Uint8Array(0))
  let signed: Uint8Array = Signed.encode({
    author: Uint8Array.from(f.author ?? signer.publicKey),
    seq,
    lamport: BigInt.asUintN(64, f.lamport),
    timestamp: BigInt.asUintN(64, f.timestamp),
    kind: f.kind ?? 1,
    prev: Uint8Array.from(prev),
    parents: (f.parents ?? []).map(p => Uint8Array.from(p)),
    ...(f.plain == null ? { body: { text: f.text ?? 'crafted', name: f.name ?? 'mallory', replyTo: new Uint8Array(0), target: new Uint8Array(0), emoji: '', remove: false, mentions: [] } } : {})
  })
  if (f.plain != null) {
    // the exact body bytes as field 8, the last field of Signed
    const len: number[] = []
    let n = f.plain.byteLength
    do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>= 7 } while (n > 0)
    signed = Buffer.concat([signed, Uint8Array.of((8 << 3) | 2, ...len), f.plain])
  }
  const signature = f.signature ?? Uint8Array.from(signer.sign(Buffer.concat([Buffer.from('p2p-chat/envelope-signature/2\n', 'utf8'), topic, epoch, signed])))
  const inner = Sealed.encode({ signed: Uint8Array.from(signed), signature: Uint8Array.from(signature) })
  const size = f.paddedTo ?? [256, 512, 1024, 2048, 4096, 8192].find(b => b >= inner.byteLength + 4) ?? 8192
  const plain = Buffer.alloc(size)
  plain.writeUInt32BE(inner.byteLength, 0)
  plain.set(inner, 4)
  if (f.padding != null) plain.set(f.padding, 4 + inner.byteLength)
  const nonce = Uint8Array.from(randomBytes(12))
  const cipher = createCipheriv('chacha20-poly1305', keys.encKey, nonce, { authTagLength: 16 })
  cipher.setAAD(Buffer.concat([topic, Uint8Array.of(2), epoch]), { plaintextLength: plain.byteLength })
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  const env: Envelope = {
    version: 2,
    epoch: keys.epoch,
    author: new Uint8Array(0),
    seq: 0n,
    lamport: 0n,
    timestamp: 0n,
    kind: 0,
    nonce,
    ciphertext: Uint8Array.from(ciphertext),
    signature: new Uint8Array(0),
    mac: new Uint8Array(0)
  }
  return remac(keys, env)
}

/**
 * The same version 2 envelope with one bit of its signature flipped, MAC and
 * encryption redone with the group keys: only the signature is wrong.
 */
export function withBrokenSignature (keys: GroupKeys, bytes: Uint8Array): Uint8Array {
  const env = Envelope.decode(Uint8Array.from(bytes))
  const topic = Buffer.from(keys.wireTopic, 'utf8')
  const epoch = Buffer.alloc(4)
  epoch.writeUInt32BE(keys.epoch, 0)
  const aad = Buffer.concat([topic, Uint8Array.of(2), epoch])
  const ct = env.ciphertext
  const decipher = createDecipheriv('chacha20-poly1305', keys.encKey, env.nonce, { authTagLength: 16 })
  decipher.setAAD(aad, { plaintextLength: ct.byteLength - 16 })
  decipher.setAuthTag(ct.subarray(ct.byteLength - 16))
  const plain = Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - 16)), decipher.final()])
  const length = plain.readUInt32BE(0)
  const inner = Sealed.decode(plain.subarray(4, 4 + length))
  inner.signature = Uint8Array.from(inner.signature)
  inner.signature[5] ^= 0x01
  const again = Sealed.encode(inner)
  plain.set(again, 4)
  const cipher = createCipheriv('chacha20-poly1305', keys.encKey, env.nonce, { authTagLength: 16 })
  cipher.setAAD(aad, { plaintextLength: plain.byteLength })
  env.ciphertext = Uint8Array.from(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]))
  return remac(keys, env)
}

export interface Hostile {
  node: BaseLibp2p
  peerId: PeerId
  /** connect to a node by one of its multiaddrs (with /p2p/) */
  dial: (addr: string) => Promise<void>
  /** publish forgeries round-robin over `kinds`, `count` of them or for `ms`, in batches */
  flood: (opts: { count?: number, ms?: number, kinds?: readonly ForgeryKind[], genuine?: Uint8Array[], batch?: number }) => Promise<FloodResult>
  /** open a stream of `protocol` to `peer`, write `chunks`, and resolve when the other side closed or reset it */
  junkStream: (peer: PeerId, protocol: string, chunks: Uint8Array[], opts?: { timeout?: number, keepOpen?: boolean }) => Promise<{ closed: boolean, ms: number, error?: string }>
}

/**
 * Start a hostile peer subscribed to `keys.wireTopic`; stopped when the test
 * ends. Its own gossipsub gives every publish a random id, so it can send the
 * same bytes (replays) again and again.
 */
export async function startHostile (t: TestContext, keys: GroupKeys): Promise<Hostile> {
  const node = await createBaseLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    inboundConnectionThreshold: 1000,
    gossipsub: { msgIdFn: () => Uint8Array.from(randomBytes(32)) }
  })
  defer(t, async () => { await node.stop() })
  node.services.pubsub.subscribe(keys.wireTopic)
  const signer = ed25519Signer(randomBytes(32))

  const flood: Hostile['flood'] = async (opts) => {
    const kinds = opts.kinds ?? FORGERY_KINDS
    const batch = opts.batch ?? 200
    const perKind = Object.fromEntries(FORGERY_KINDS.map(k => [k, 0])) as Record<ForgeryKind, number>
    const started = Date.now()
    const until = opts.ms != null ? started + opts.ms : Infinity
    const count = opts.count ?? Infinity
    let sent = 0
    let i = 0
    while (i < count && Date.now() < until) {
      const n = Math.min(batch, count - i)
      const results = await Promise.allSettled(Array.from({ length: n }, async (_, j) => {
        const kind = kinds[(i + j) % kinds.length]
        const r = await node.services.pubsub.publish(keys.wireTopic, forge(kind, keys, opts.genuine ?? [], i + j, signer))
        if (r.recipients.length > 0) perKind[kind]++
        return r.recipients.length > 0
      }))
      sent += results.filter(r => r.status === 'fulfilled' && r.value).length
      i += n
      // let the event loop breathe (and the node under test, on the same machine)
      await new Promise(resolve => setImmediate(resolve))
    }
    const ms = Date.now() - started
    return { sent, perKind, ms, rate: Math.round(sent / Math.max(ms, 1) * 1000) }
  }

  const junkStream: Hostile['junkStream'] = async (peer, protocol, chunks, opts = {}) => {
    const started = Date.now()
    let stream: Stream
    try {
      stream = await node.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(5_000) })
    } catch (err: any) {
      // refused outright (a reset during negotiation) counts as closed
      return { closed: true, ms: Date.now() - started, error: err.name }
    }
    // whatever the other end answers is read and dropped
    stream.addEventListener('message', () => {}) // nothing to do with it
    const closedEvent = stream.status === 'open' || stream.status === 'closing'
      ? once(stream, 'close', { signal: AbortSignal.timeout(opts.timeout ?? 10_000) })
      : Promise.resolve()
    closedEvent.catch(() => {}) // awaited below (a timeout lands in the catch there): no unhandled rejection meanwhile
    try {
      for (const c of chunks) {
        if (stream.status !== 'open') break
        if (!stream.send(c)) await once(stream, 'drain', { signal: AbortSignal.timeout(opts.timeout ?? 10_000) }).catch(() => {}) // no drain in time: the loop checks the status
      }
      if (opts.keepOpen !== true && stream.status === 'open') {
        // half-close our side: the other end reads an end of stream mid-message
        await stream.close({ signal: AbortSignal.timeout(opts.timeout ?? 10_000) }).catch(() => {}) // the other end may reset first: that is the answer
      }
      await closedEvent
      return { closed: true, ms: Date.now() - started }
    } catch (err: any) {
      const closed = stream.status !== 'open'
      if (!closed) stream.abort(new Error('test gave up'))
      return { closed, ms: Date.now() - started, error: err.name }
    }
  }

  return {
    node,
    peerId: node.peerId,
    dial: async (addr) => { await node.dial(multiaddr(addr)) },
    flood,
    junkStream
  }
}
