/**
 * What export and import need of the place the history lives: a running
 * ChatNode (`ChatNode.backupHost()`) or a data directory with no node
 * running (`openDataDirBackupHost`). Both are built by `createStoreBackupHost`
 * over a HistoryStore and a GroupRegistry; the node adds subscription of
 * restored groups and its clocks.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { GROUPS_FILE, HISTORY_DIR, IDENTITY_FILE, PROFILE_FILE, RESTORED_MEMBERS_FILE, ensureDataDir, readFileIfExists, writeFileAtomic } from '../config.js'
import { DataDirError, errorMessage } from '../errors.js'
import { GroupRegistry } from '../groups/index.js'
import { loadOrCreateIdentity } from '../identity.js'
import { HistoryStore } from '../store/index.js'
import type { GroupKeys } from '../envelope/index.js'
import type { EpochSecret, Group } from '../groups/index.js'
import type { VerifiedRecord } from './verify.js'

export interface BackupGroup {
  readonly topicId: string
  readonly name?: string
  readonly secret: Uint8Array
  readonly keys: GroupKeys
  /** issue 15: the secrets of later key epochs held */
  readonly epochs?: readonly EpochSecret[]
}

/** `added`: joined now; `exists`: already joined with the same secret; `conflict`: joined with another secret */
export type AddGroupOutcome = 'added' | 'exists' | 'conflict'

/** A node's identity as a backup carries it (`includeIdentity`) */
export interface BackupIdentity {
  /** the private key, libp2p protobuf encoding (identity.key) */
  key: Uint8Array
  name?: string
  /** known members and their addresses (from a running node's peer store) */
  members?: Array<{ peerId: string, addrs: string[] }>
}

/**
 * `restored`: identity.key written (there was none); `same`: this is already
 * that identity; `different`: another identity is here and was kept;
 * `running`: a node runs with another identity: import with no node running
 */
export type IdentityOutcome = 'restored' | 'same' | 'different' | 'running'

export interface BackupHost {
  /** this node's identity, for a backup made with includeIdentity; undefined when there is none */
  identity?: () => Promise<BackupIdentity | undefined>
  /** restore the identity a backup holds */
  restoreIdentity?: (identity: BackupIdentity) => Promise<IdentityOutcome>
  /** peer id of the node whose data this is, when known */
  readonly peerId?: string
  /** the groups joined, with their keys */
  groups: () => BackupGroup[]
  /** how many records a group holds (for progress) */
  count: (group: BackupGroup) => Promise<number>
  /** a group's stored sealed envelopes exactly as stored, oldest first, streamed */
  records: (group: BackupGroup, options?: { signal?: AbortSignal }) => AsyncIterable<Uint8Array>
  /** join a group restored from a backup */
  addGroup: (topicId: string, secret: Uint8Array, name?: string, epochs?: readonly EpochSecret[]) => Promise<AddGroupOutcome>
  /** run many addGroup calls as one (the groups file written once); optional */
  batch?: <T>(fn: () => Promise<T>) => Promise<T>
  /** store a batch of records of one group that passed verifyRecord; resolves to how many were new */
  store: (group: BackupGroup, records: VerifiedRecord[]) => Promise<number>
}

export interface StoreBackupHostInit {
  peerId?: string
  store: HistoryStore
  registry: GroupRegistry
  /** how to join a group (a node subscribes too); default registry.add */
  join?: (topicId: string, secret: Uint8Array, name?: string) => Promise<unknown>
  /** told about every stored batch (a node advances its clocks) */
  onStored?: (group: Group, records: VerifiedRecord[]) => void
}

export function createStoreBackupHost (init: StoreBackupHostInit): BackupHost {
  const { store, registry } = init
  const join = init.join ?? (async (topicId: string, secret: Uint8Array, name?: string) => registry.add(topicId, secret, name))
  const current = (group: BackupGroup): Group => registry.require(group.topicId)
  return {
    peerId: init.peerId,
    groups: () => registry.list(),
    count: async (group) => store.count(group.keys.groupId),
    records: (group, options = {}) => mapBytes(store.iterate(group.keys.groupId, options)),
    batch: async (fn) => registry.batch(fn),
    addGroup: async (topicId, secret, name, epochs = []) => {
      const existing = registry.get(topicId)
      if (existing != null && !Buffer.from(existing.secret).equals(secret)) return 'conflict'
      if (existing == null) await join(topicId, secret, name)
      // issue 15: the later epochs' secrets join the group's keyring (its records of each verify and open); sealing stays the newest
      const before = registry.require(topicId).epochs?.length ?? 0
      for (const e of epochs) registry.putEpoch(topicId, e)
      if ((registry.require(topicId).epochs?.length ?? 0) > before) {
        registry.chooseEpoch(topicId, undefined)
        registry.saveSoon()
      }
      return existing == null ? 'added' : 'exists'
    },
    store: async (group, records) => {
      if (records.length === 0) return 0
      const stored = await store.appendMany(group.keys.groupId, records)
      init.onStored?.(current(group), records)
      return stored
    }
  }
}

async function * mapBytes (records: AsyncIterable<{ bytes: Uint8Array }>): AsyncGenerator<Uint8Array> {
  for await (const r of records) yield r.bytes
}

/** A data directory opened for backup with no node running; close it when done. */
export interface DataDirBackupHost extends BackupHost {
  readonly dataDir: string
  close: () => Promise<void>
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/**
 * Open a data directory's history and groups directly, for export and import
 * when no node runs on it. `create` (for import) makes a fresh directory;
 * without it a directory holding no p2p-chat data is an error. Fails with
 * DataDirError while a node holds the directory's database.
 */
export async function openDataDirBackupHost (dataDir: string, options: { create?: boolean } = {}): Promise<DataDirBackupHost> {
  if (options.create === true) {
    await ensureDataDir(dataDir)
  } else if (!await exists(join(dataDir, HISTORY_DIR)) && !await exists(join(dataDir, GROUPS_FILE))) {
    throw new DataDirError(`${dataDir} holds no p2p-chat data (no ${HISTORY_DIR}/ nor ${GROUPS_FILE})`)
  }
  let peerId: string | undefined
  if (await exists(join(dataDir, IDENTITY_FILE))) {
    peerId = peerIdFromPrivateKey(await loadOrCreateIdentity(dataDir)).toString()
  }
  const registry = new GroupRegistry(dataDir)
  await registry.load()
  const store = new HistoryStore(join(dataDir, HISTORY_DIR))
  try {
    await store.open()
  } catch (err: unknown) {
    throw new DataDirError(`${errorMessage(err)} (is a node running on ${dataDir}? then export and import through it)`, { cause: err })
  }
  const host = createStoreBackupHost({ peerId, store, registry })
  const keyFile = join(dataDir, IDENTITY_FILE)
  return {
    ...host,
    dataDir,
    identity: async () => {
      const key = await readFileIfExists(keyFile)
      if (key == null) return undefined
      const profile = await readFileIfExists(join(dataDir, PROFILE_FILE))
      let name: string | undefined
      try { name = profile != null ? (JSON.parse(profile.toString('utf8')) as { name?: string }).name : undefined } catch { name = undefined }
      return { key, ...(name != null ? { name } : {}) }
    },
    restoreIdentity: async (identity) => {
      const existing = await readFileIfExists(keyFile)
      if (existing != null) return Buffer.from(existing).equals(identity.key) ? 'same' : 'different'
      await writeFileAtomic(keyFile, identity.key, 0o600)
      if (identity.name != null && !await exists(join(dataDir, PROFILE_FILE))) {
        await writeFileAtomic(join(dataDir, PROFILE_FILE), JSON.stringify({ name: identity.name }) + '\n', 0o600)
      }
      // the node takes them into its peer store at its next start (no node runs now to hold them)
      if (identity.members != null && identity.members.length > 0) await writeFileAtomic(join(dataDir, RESTORED_MEMBERS_FILE), JSON.stringify(identity.members) + '\n', 0o600)
      return 'restored'
    },
    close: async () => { await store.close() }
  }
}
