/**
 * backup: streaming export and import of a node's groups and history
 * (format: docs/BACKUP.md). Works on a running ChatNode (`node.backupHost()`)
 * or on a data directory with no node running (`openDataDirBackupHost`).
 * Every imported record is verified (MAC, signature, decryption) before it
 * is stored.
 */
export { exportBackup, PROGRESS_EVERY } from './export.js'
export type { ExportOptions, ExportSummary, BackupProgress } from './export.js'
export { importBackup, inspectBackup, DEFAULT_IMPORT_BATCH, MAX_REPORTED_ERRORS, PARALLEL_THRESHOLD, MAX_VERIFY_THREADS } from './import.js'
export type { BackupInput, BackupInfo, ImportOptions, ImportSummary, ImportErrorEntry } from './import.js'
export { createStoreBackupHost, openDataDirBackupHost } from './host.js'
export type { BackupHost, BackupGroup, BackupIdentity, AddGroupOutcome, DataDirBackupHost, IdentityOutcome, StoreBackupHostInit } from './host.js'
export { verifyRecord } from './verify.js'
export type { VerifiedRecord, VerifyResult } from './verify.js'
export { BACKUP_FORMAT, BACKUP_VERSION, MAX_BACKUP_MEMBERS, MAX_BACKUP_MEMBER_ADDRS } from './format.js'
export type { BackupHeader, BackupGroupEntry, BackupMember } from './format.js'
export { ENCRYPTED_FORMAT, ENCRYPTED_VERSION, DEFAULT_SCRYPT } from './crypto.js'
export type { ScryptParams } from './crypto.js'
