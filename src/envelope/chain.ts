import { createHash } from 'node:crypto'
import { seal } from './seal.js'
import type { GroupKeys } from './keys.js'
import type { OpenedMessage, SealInput } from './seal.js'
import type { Signer } from './signer.js'

/** per "<group>/<author hex>": the last message sealed by sealInOrder */
const last = new Map<string, { seq: bigint, id: Uint8Array }>()
const MAX_AUTHORS = 4096

/**
 * seal() for tools and tests that write messages without a node: fills
 * `prev` with the id of the same author's message seq - 1 when that was the
 * last one sealed here for the group, else with a made-up id (the chain is
 * then broken where the caller broke it: a skipped or repeated seq).
 */
export function sealInOrder (keys: GroupKeys, signer: Signer, input: Omit<SealInput, 'prev'> & { prev?: Uint8Array }): OpenedMessage {
  const k = `${keys.groupId}/${Buffer.from(signer.publicKey).toString('hex')}`
  const before = last.get(k)
  const prev = input.prev ?? (input.seq <= 1n
    ? undefined
    : before?.seq === input.seq - 1n ? before.id : createHash('sha256').update(`p2p-chat/unknown-prev/${k}/${input.seq - 1n}`).digest())
  const m = seal(keys, signer, { ...input, prev })
  last.delete(k)
  last.set(k, { seq: input.seq, id: m.id })
  if (last.size > MAX_AUTHORS) last.delete(last.keys().next().value as string)
  return m
}
