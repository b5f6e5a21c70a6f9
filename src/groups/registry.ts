import { join } from 'node:path'
import { deriveGroupKeys } from '../envelope/index.js'
import { GROUPS_FILE, readFileIfExists, writeFileAtomic } from '../config.js'
import { DataDirError, errorMessage, GroupExistsError, UnknownGroupError } from '../errors.js'
import { formatSecret, parseSecret, validateTopicId } from './topic-id.js'
import type { GroupKeys } from '../envelope/index.js'

export interface Group {
  topicId: string
  secret: Uint8Array
  name?: string
  joinedAt: number
  /** epoch 0's keys; with `ring` once the group has later epochs (open() picks the envelope's) */
  keys: GroupKeys
  /** issue 15: the secrets of later epochs held, by the id (hex) of the rotate op that made each */
  epochs?: EpochSecret[]
  /** the keys new messages are sealed with (the current epoch's when held); absent: `keys` */
  sealing?: GroupKeys
}

export interface EpochSecret { epoch: number, id: string, secret: Uint8Array }

interface GroupsFile {
  version: 1
  groups: Array<{ topicId: string, secret: string, name?: string, joinedAt: number, epochs?: Array<{ epoch: number, id: string, secret: string }>, sealing?: string }>
}

/** The groups this node is in, with their secrets: persisted in groups.json (mode 0600). */
export class GroupRegistry {
  private readonly path: string
  private readonly groups = new Map<string, Group>()
  private readonly byWireTopic = new Map<string, Group>()

  constructor (dataDir: string) {
    this.path = join(dataDir, GROUPS_FILE)
  }

  async load (): Promise<void> {
    const raw = await readFileIfExists(this.path)
    if (raw == null) return
    let file: GroupsFile
    try {
      file = JSON.parse(raw.toString('utf8')) as GroupsFile
      if (file.version !== 1 || !Array.isArray(file.groups)) throw new Error('unknown format')
      for (const g of file.groups) {
        this.put(g.topicId, parseSecret(g.secret), g.name, g.joinedAt)
        for (const e of g.epochs ?? []) this.putEpoch(g.topicId, { epoch: e.epoch, id: e.id, secret: parseSecret(e.secret) })
        this.chooseEpoch(g.topicId, g.sealing)
      }
    } catch (err: unknown) {
      throw new DataDirError(`groups file ${this.path} is corrupt (${errorMessage(err)})`, { cause: err })
    }
  }

  private put (topicId: string, secret: Uint8Array, name: string | undefined, joinedAt: number): Group {
    validateTopicId(topicId)
    const group: Group = { topicId, secret, name, joinedAt, keys: deriveGroupKeys(topicId, secret) }
    this.groups.set(topicId, group)
    this.byWireTopic.set(group.keys.wireTopic, group)
    return group
  }

  /** how many times groups.json was written (tests: a batch writes it once) */
  saves = 0
  private deferred = 0
  private dirty = false

  /**
   * Run `fn` with the writes of groups.json held back, then write it once
   * if anything changed: adding thousands of groups (an import) writes the
   * file once instead of once per group (which made it quadratic).
   */
  async batch<T> (fn: () => Promise<T>): Promise<T> {
    this.deferred++
    try {
      return await fn()
    } finally {
      this.deferred--
      if (this.deferred === 0 && this.dirty) await this.save()
    }
  }

  private async save (): Promise<void> {
    if (this.deferred > 0) {
      this.dirty = true
      return
    }
    this.dirty = false
    this.saves++
    const file: GroupsFile = {
      version: 1,
      groups: [...this.groups.values()].map(g => ({
        topicId: g.topicId,
        secret: formatSecret(g.secret),
        name: g.name,
        joinedAt: g.joinedAt,
        ...(g.epochs != null && g.epochs.length > 0 ? { epochs: g.epochs.map(e => ({ epoch: e.epoch, id: e.id, secret: formatSecret(e.secret) })), sealing: this.sealingId(g) } : {})
      }))
    }
    await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + '\n', 0o600)
  }

  /** Add a group; throws GroupExistsError when the topic id is taken by a different secret. Returns [group, added]. */
  async add (topicId: string, secret: Uint8Array, name?: string): Promise<[Group, boolean]> {
    validateTopicId(topicId)
    const existing = this.groups.get(topicId)
    if (existing != null) {
      if (Buffer.from(existing.secret).equals(secret)) return [existing, false]
      throw new GroupExistsError(topicId)
    }
    const group = this.put(topicId, secret, name, Date.now())
    await this.save()
    return [group, true]
  }

  async remove (topicId: string): Promise<Group> {
    const group = this.require(topicId)
    this.groups.delete(topicId)
    this.byWireTopic.delete(group.keys.wireTopic)
    await this.save()
    return group
  }

  get (topicId: string): Group | undefined {
    return this.groups.get(topicId)
  }

  require (topicId: string): Group {
    const group = this.groups.get(topicId)
    if (group == null) throw new UnknownGroupError(topicId)
    return group
  }

  // ---- epochs (issue 15, src/membership) ----

  /** The secret of the epoch a rotate op (hex id) made, if held */
  epochSecret (topicId: string, id: string): EpochSecret | undefined {
    return this.groups.get(topicId)?.epochs?.find(e => e.id === id)
  }

  /** Keep a later epoch's secret: the group's keyring grows by its keys (not written: saveSoon) */
  putEpoch (topicId: string, e: EpochSecret): void {
    const g = this.require(topicId)
    if (g.epochs?.some(x => x.id === e.id) === true) return
    g.epochs = [...(g.epochs ?? []), e]
    const base = deriveGroupKeys(topicId, g.secret)
    const ring = new Map<number, GroupKeys[]>([[0, [base]]])
    for (const x of g.epochs) ring.set(x.epoch, [...(ring.get(x.epoch) ?? []), { ...deriveGroupKeys(topicId, x.secret, x.epoch), groupId: base.groupId }])
    g.keys = { ...base, ring }
    g.sealing = undefined
  }

  /** Seal with the epoch of rotate op `id` when held, else with the newest epoch held */
  chooseEpoch (topicId: string, id: string | undefined): void {
    const g = this.require(topicId)
    const held = g.epochs ?? []
    if (held.length === 0) return
    const pick = held.find(e => e.id === id) ?? [...held].sort((a, b) => a.epoch - b.epoch).at(-1)
    if (pick == null) return
    g.sealing = g.keys.ring?.get(pick.epoch)?.find(k => k.macKey.equals(deriveGroupKeys(topicId, pick.secret, pick.epoch).macKey))
  }

  private sealingId (g: Group): string | undefined {
    const s = g.sealing
    return s == null ? undefined : g.epochs?.find(e => e.epoch === s.epoch && deriveGroupKeys(g.topicId, e.secret, e.epoch).macKey.equals(s.macKey))?.id
  }

  /** The keys new messages of the group are sealed with */
  sealingKeys (group: Group): GroupKeys {
    return group.sealing ?? group.keys
  }

  /** Write groups.json soon (epoch secrets learned) */
  saveSoon (): void {
    this.save().catch(() => { /* written again with the next change */ })
  }

  byTopic (wireTopic: string): Group | undefined {
    return this.byWireTopic.get(wireTopic)
  }

  list (): Group[] {
    return [...this.groups.values()]
  }
}
