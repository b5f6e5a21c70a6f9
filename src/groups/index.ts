/** groups: registry of joined groups, invites, topic ids, the topic validator. Does not touch the store. */
export { GroupRegistry } from './registry.js'
export type { Group, EpochSecret } from './registry.js'
export { encodeInvite, decodeInvite, encodeTokenInvite, decodeTokenInvite, isTokenInvite, inviteAddrs, INVITE_PREFIX, TOKEN_INVITE_PREFIX, TOKEN_LENGTH } from './invite-code.js'
export type { InviteData, TokenInviteData } from './invite-code.js'
export { validateTopicId, parseSecret, formatSecret } from './topic-id.js'
export { createTopicValidator } from './validator.js'
export type { Verdict, Ingest } from './validator.js'
