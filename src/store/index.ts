/** store: LevelDB history of sealed envelopes. No libp2p here. */
export { HistoryStore, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT } from './store.js'
export type { StorableMessage, StoredRecord, HistoryPage, HistoryQuery } from './store.js'
export * as keys from './keys.js'
