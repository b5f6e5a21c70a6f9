import { createHmac, hkdfSync } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { createHash } from 'node:crypto'

/** multicodec `raw` and multihash `sha2-256` */
const RAW_CODEC = 0x55
const SHA2_256 = 0x12
const HKDF_SALT_PREFIX = 'p2p-chat/v1/group/'
const DAY_MS = 24 * 3600_000

/**
 * The group's rendezvous key: HKDF-SHA256 of the secret, salt as for every
 * group key (`"p2p-chat/v1/group/" + topicId`), info `"rendezvous/" + epoch`.
 * Pure.
 */
export function rendezvousKey (topicId: string, secret: Uint8Array, epoch = 0): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(HKDF_SALT_PREFIX + topicId, 'utf8'), Buffer.from(`rendezvous/${epoch}`, 'utf8'), 32))
}

/** The UTC day of a time, as `YYYY-MM-DD`. */
export function utcDay (ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/**
 * The DHT key members of a group meet under on one UTC day: a CIDv1 (raw,
 * sha2-256) of HMAC-SHA256(rendezvous key, "rendezvous" ‖ day). Only
 * members can compute it; the key changes every day, so an observer of the
 * DHT cannot tell that two days' keys belong to one group. Pure.
 */
export function rendezvousCid (key: Uint8Array, day: string): CID {
  const tag = createHmac('sha256', key).update('rendezvous').update(day).digest()
  const digest = createHash('sha256').update(tag).digest()
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256, digest))
}

/** The days to look under at a time: today, and yesterday for clocks on either side of midnight. */
export function rendezvousDays (now: number): string[] {
  return [utcDay(now), utcDay(now - DAY_MS)]
}
