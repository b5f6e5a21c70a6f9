import { TopicValidatorResult } from '@libp2p/gossipsub'
import { logger } from '@libp2p/logger'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { PeerRateLimiter } from '../rate-limit.js'

const log = logger('p2p-chat:validator')

/** What ingesting a sealed envelope decided */
export type Verdict = 'accept' | 'ignore' | 'reject'

export type Ingest = (data: Uint8Array, from: PeerId) => Promise<Verdict>

const RESULTS: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/**
 * A gossipsub topic validator around `ingest`: forgeries are `Reject`ed (the
 * sender is scored down), duplicates `Ignore`d. It never throws: an
 * unexpected error is logged and the message ignored. With a `limiter`, a
 * peer that makes this node validate more than its share per second has the
 * excess `Ignore`d before any decoding or crypto (sync fills any gap later).
 */
export function createTopicValidator (ingest: Ingest, opts: { limiter?: PeerRateLimiter } = {}): TopicValidatorFn {
  const { limiter } = opts
  return async (from, message) => {
    try {
      if (limiter != null && !limiter.take(from.toString())) return TopicValidatorResult.Ignore
      if (message.type !== 'unsigned') return TopicValidatorResult.Reject
      return RESULTS[await ingest(message.data, from)]
    } catch (err) {
      log.error('validator failed on a message from %p: %e', from, err)
      return TopicValidatorResult.Ignore
    }
  }
}
