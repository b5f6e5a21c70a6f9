/** p2p-chat library contract */
export { ChatNode, DEFAULT_DIAL_TIMEOUT } from './node.js'
export type { ChatNodeInit, ChatMessage, GroupInfo, PeerInfo, HistoryResult, ChatNodeEvents } from './node.js'
export * from './errors.js'
export { resolveDataDir, DATA_DIR_ENV, DEFAULT_TCP_PORT } from './config.js'
export { encodeInvite, decodeInvite } from './groups/index.js'
export * from './calls/index.js'
