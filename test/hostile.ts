/**
 * A hostile peer for tests: a plain libp2p node (createBaseLibp2p, no
 * ChatNode) on a group's wire topic that floods it with forgeries, and opens
 * sync and call streams to write junk on them. It knows the group's keys, so
 * it can also forge a valid MAC over a bad signature (a member gone bad).
 */
import { once } from 'node:events'
import { createCipheriv, createHmac, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createBaseLibp2p } from '../src/libp2p.js'
import { Body, Envelope, MAX_ENVELOPE_BYTES, ed25519Signer, seal } from '../src/envelope/index.js'
import type { GroupKeys, Signer } from '../src/envelope/index.js'
import type { BaseLibp2p } from '../src/libp2p.js'
import type { PeerId, Stream } from '@libp2p/interface'
import type { TestContext } from 'node:test'

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
  const base = genuine.length > 0 ? genuine[i % genuine.length] : seal(keys, signer, { seq: 1n, lamport: 1n, timestamp: Date.now(), text: 'x', name: 'x' }).bytes
  switch (kind) {
    case 'forged-mac': {
      // sealed under a key the attacker made up: fails the MAC
      const wrong = { ...keys, macKey: randomBytes(32) }
      return seal(wrong, signer, { seq: BigInt(i + 1), lamport: 1n, timestamp: Date.now(), text: `forged ${i}`, name: 'mallory' }).bytes
    }
    case 'bad-signature': {
      // a valid MAC over a signature that is random bytes
      const env = Envelope.decode(seal(keys, signer, { seq: BigInt(i + 1), lamport: 1n, timestamp: Date.now(), text: `unsigned ${i}`, name: 'mallory' }).bytes)
      env.signature = Uint8Array.from(randomBytes(64))
      return remac(keys, env)
    }
    case 'impersonation': {
      // an honest member's message with the text changed: author kept, signature no longer matches, MAC recomputed
      const env = Envelope.decode(Uint8Array.from(base))
      env.ciphertext = Uint8Array.from(randomBytes(env.ciphertext.byteLength))
      env.seq = env.seq + BigInt(i + 1)
      return remac(keys, env)
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
  /** the exact plaintext to encrypt instead of Body(text, name): invalid UTF-8, non-canonical encodings */
  plain?: Uint8Array
}

/**
 * A validly MACed, signed and encrypted envelope with whatever fields a
 * member chooses, none of seal()'s rules applied: what a member gone bad (it
 * holds the secret and its own key) can publish. Built as docs/PROTOCOL.md
 * says, from scratch, so that it also checks the spec.
 */
export function craft (keys: GroupKeys, signer: Signer, f: CraftFields): Uint8Array {
  const topic = Buffer.from(keys.wireTopic, 'utf8')
  const author = Uint8Array.from(signer.publicKey)
  const nonce = Uint8Array.from(randomBytes(12))
  const plain = f.plain ?? Body.encode({ text: f.text ?? 'crafted', name: f.name ?? 'mallory' })
  const aad = Buffer.alloc(topic.byteLength + 32 + 8)
  topic.copy(aad, 0)
  aad.set(author, topic.byteLength)
  aad.writeBigUInt64BE(BigInt.asUintN(64, f.seq), topic.byteLength + 32)
  const cipher = createCipheriv('chacha20-poly1305', keys.encKey, nonce, { authTagLength: 16 })
  cipher.setAAD(aad, { plaintextLength: plain.byteLength })
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  const env: Envelope = {
    version: 1,
    epoch: keys.epoch,
    author,
    seq: BigInt.asUintN(64, f.seq),
    lamport: BigInt.asUintN(64, f.lamport),
    timestamp: BigInt.asUintN(64, f.timestamp),
    kind: f.kind ?? 1,
    nonce,
    ciphertext: Uint8Array.from(ciphertext),
    signature: new Uint8Array(0),
    mac: new Uint8Array(0)
  }
  const unsigned = Envelope.encode(env)
  env.signature = Uint8Array.from(signer.sign(Buffer.concat([Buffer.from('p2p-chat/envelope-signature/1\n', 'utf8'), topic, unsigned])))
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
  t.after(async () => { await node.stop() })
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
