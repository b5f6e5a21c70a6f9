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
  keys: GroupKeys
}

interface GroupsFile {
  version: 1
  groups: Array<{ topicId: string, secret: string, name?: string, joinedAt: number }>
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
      for (const g of file.groups) this.put(g.topicId, parseSecret(g.secret), g.name, g.joinedAt)
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
      groups: [...this.groups.values()].map(g => ({ topicId: g.topicId, secret: formatSecret(g.secret), name: g.name, joinedAt: g.joinedAt }))
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

  byTopic (wireTopic: string): Group | undefined {
    return this.byWireTopic.get(wireTopic)
  }

  list (): Group[] {
    return [...this.groups.values()]
  }
}
