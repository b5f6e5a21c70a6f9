/** chat: the pieces ChatNode (src/node.ts) assembles that are not protocols: clocks, group commit, gossip subscriptions, message views. */
export { GroupClocks } from './clock.js'
export type { ClockReading } from './clock.js'
export { Outbox, DEFAULT_MAX_BATCH, DEFAULT_MAX_QUEUED } from './outbox.js'
export type { OutboxInit } from './outbox.js'
export { GroupSubscriptions } from './subscriptions.js'
export type { GroupSubscriptionsInit } from './subscriptions.js'
export { toChatMessage, toStorable, authorPeerId } from './message.js'
export type { ChatMessage } from './message.js'
