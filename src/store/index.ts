/** store: LevelDB history of sealed envelopes. No libp2p here. */
export { HistoryStore, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT } from './store.js'
export type { StorableMessage, StoredRecord, HistoryPage, HistoryQuery, SeqIndex, SeqRecord } from './store.js'
export { RangeSet } from './ranges.js'
export { Journal, encodeJournal, decodeJournal, MAX_JOURNAL_RECORD, DEFAULT_ROTATE_BYTES } from './journal.js'
export type { JournalEntry, JournalTicket } from './journal.js'
export * as keys from './keys.js'
