/**
 * files: file transfer between group members over `/p2p-chat/file/1.0.0`
 * (docs/PROTOCOL.md, "Files"). A file is announced by a sealed message of
 * kind 5 (its FileRef: hash, manifest hash, chunk size, key) and its
 * encrypted chunks are fetched over direct streams from any member that
 * holds them, checked one by one against the manifest, resumable.
 *
 * This file is the contract: what the service is given (components, host,
 * init), what it does and reports. The parts: chunks.ts (chunking and chunk
 * encryption), manifest.ts (manifest, chunk sets), image.ts (media type,
 * image dimensions), proof.ts (access proof), store.ts (the content store
 * under <data-dir>/files), channel.ts (framing, limits), serve.ts (the
 * responding end), fetch.ts (the fetching end: many sources, checks,
 * failover), service.ts (wiring, as a libp2p service). Does not import
 * node.ts.
 */
import { FileService as FileServiceClass } from './service.js'
import type { FileRef } from '../envelope/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export { FILE_PROTOCOL, MAX_RANGE, MAX_REQUEST_BYTES, maxResponseBytes } from './channel.js'
export { chooseChunkSize, chunkCount, chunkNonce, encryptChunk, decryptChunk, plainLength, sealedLength, DEFAULT_CHUNK_SIZE, MAX_CHUNKS, TAG_BYTES } from './chunks.js'
export { ChunkSet, ManifestBuilder, manifestProblem, chunkHash, chunkMatches, HASH_BYTES } from './manifest.js'
export { imageInfo, mediaType } from './image.js'
export type { ImageInfo } from './image.js'
export { accessProof, checkAccess, groupFileKey, PROOF_BYTES } from './proof.js'
export type { AccessTranscript } from './proof.js'
export { FileStore, FileVersion } from './store.js'
export { FileTooLargeError, FileUnavailableError, NotAFileError, FileMismatchError, FileProtocolError } from './errors.js'
export { FileRequest, FileResponse } from './pb/file.js'

/** Where the store lives in a data directory */
export const FILES_DIR = 'files'
/** Largest file this node sends or fetches by default: 100 MiB */
export const DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
/** ms allowed for each read and write on a stream, and to open one (as @libp2p/fetch's default) */
export const DEFAULT_FILE_TIMEOUT = 10_000
/** ms a fetch may go without receiving a chunk from anyone before it fails */
export const DEFAULT_IDLE_TIMEOUT = 30_000
/** ms a fetch waits for a member that holds the file to answer at all before it fails */
export const DEFAULT_NO_HOLDER_TIMEOUT = 5_000
/** members fetched from at once */
export const DEFAULT_MAX_SOURCES = 3
/** encrypted bytes asked for and not yet received, per source */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024
/** bytes asked for per request (a CHUNKS range) */
export const DEFAULT_REQUEST_BYTES = 2 * 1024 * 1024
/** ms a peer that served a bad chunk or broke the protocol is neither asked nor served */
export const DEFAULT_FILE_PENALTY = 10 * 60_000
/** transfers served at once (beyond: BUSY) */
export const DEFAULT_MAX_SERVING = 32
/** requests one peer may make per second (a burst of twice as many), counted before they are decoded */
export const DEFAULT_REQUEST_RATE = 500
/** file streams one peer may open per second (a burst of twice as many) */
export const DEFAULT_STREAM_RATE = 20
/** files taken in (sent) at once: beyond, OverloadedError */
export const DEFAULT_MAX_IMPORTS = 4

export interface FileInit {
  /** the store: `<data-dir>/files` */
  dir: string
  /** largest file sent or fetched, bytes. Default 100 MiB */
  maxFileSize?: number
  /** ms for each stream read and write and to open a stream. Default 10 s */
  timeout?: number
  /** ms without a chunk from anyone before a fetch fails. Default 30 s */
  idleTimeout?: number
  /** ms a fetch waits for any member that holds the file before it fails. Default 5 s */
  noHolderTimeout?: number
  /** members fetched from at once. Default 3 */
  maxSources?: number
  /** bytes in flight per source. Default 8 MiB */
  windowBytes?: number
  /** bytes per request. Default 2 MiB */
  requestBytes?: number
  /** ms a peer that served a bad chunk is cut off. Default 10 min */
  penalty?: number
  /** transfers served at once. Default 32 */
  maxServing?: number
  /** requests per second per peer served. Default 500 */
  requestRate?: number
  /** streams per second per peer. Default 20 */
  streamRate?: number
  /** files sent (taken in) at once. Default 4 */
  maxImports?: number
}

/** What files needs of a group */
export interface FileGroup {
  topicId: string
  keys: { groupId: string, macKey: Uint8Array, wireTopic: string }
}

/** What libp2p injects: its own components and gossipsub (registered as `pubsub`), whose subscribers are the members asked */
export interface FileComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  pubsub: GossipSub
}

/** What the chat node gives */
export interface FileHost {
  /** the groups this node is in, now (serving checks proofs against them) */
  groups: () => Iterable<FileGroup>
  /** has the peer proved membership of the group (sync)? Such members are asked first */
  proven?: (peer: PeerId, group: FileGroup) => boolean
}

/** A fetch under way, or finished */
export interface FileProgress {
  /** hex SHA-256 of the file */
  hash: string
  name: string
  /** plain bytes of the file */
  size: number
  chunks: number
  /** chunks held now */
  held: number
  /** plain bytes held now */
  bytes: number
  /** chunks received by this fetch so far */
  fetched: number
  /** members being fetched from now */
  sources: number
  /** chunks received by this fetch, per peer id */
  from: Record<string, number>
  state: 'fetching' | 'verifying' | 'complete'
}

export interface FetchOptions extends AbortOptions {
  /** peer id of the announcement's author (asked first: it holds the file) */
  author?: string
  onProgress?: (progress: FileProgress) => void
}

export interface FetchResult extends FileProgress {
  /** it was held complete already: nothing fetched */
  alreadyHeld: boolean
  /** encrypted bytes received */
  fetchedBytes: number
  ms: number
  /** peers whose chunks or manifest were refused (and who were cut off), with why */
  refused: Record<string, string>
}

export interface AddOptions extends AbortOptions {
  /** the file name announced (no directories) */
  name: string
  /** media type; default from the first bytes or the name */
  mime?: string
  /** bytes expected: picks the chunk size; past maxFileSize fails before reading */
  size?: number
  /** plain bytes read so far */
  onProgress?: (bytes: number) => void
}

/** What is held of a file */
export interface FileHolding {
  chunks: number
  held: number
  bytes: number
  complete: boolean
  /** a fetch is under way: its progress */
  fetching?: FileProgress
}

export interface FileServiceEvents {
  /** a peer served a bad chunk or manifest, or broke the protocol: neither asked nor served for a while */
  penalized: [{ peer: string, reason: string }]
  /** a fetch completed: the file is held, verified */
  fetched: [FetchResult]
}

/** The file service, as libp2p's `services.files` */
export interface Files {
  readonly protocol: string
  readonly maxFileSize: number
  /** Take in a plain file for a group (chunk, encrypt, store): the FileRef to announce. */
  add: (group: FileGroup, source: AsyncIterable<Uint8Array>, options: AddOptions) => Promise<FileRef>
  /** Fetch a file announced in a group from the members that hold it, until it is held complete and verified. */
  fetch: (group: FileGroup, ref: FileRef, options?: FetchOptions) => Promise<FetchResult>
  /** What is held of a file (and the fetch under way) */
  holding: (ref: FileRef) => Promise<FileHolding>
  /** The plain content of a file held complete (this version, or another of the same content), chunk by chunk, each checked */
  content: (ref: FileRef, options?: AbortOptions) => Promise<AsyncIterable<Uint8Array> | undefined>
  /** Fetches under way */
  fetching: () => FileProgress[]
  /** A peer cut off until when (ms since 1970), or undefined */
  penalizedUntil: (peer: string) => number | undefined
}

export type FileService = FileServiceClass

/**
 * Files as a libp2p service: `services: { files: files(host, init) }`.
 * Needs gossipsub registered as `pubsub`.
 */
export function files (host: FileHost, init: FileInit): (components: FileComponents) => FileServiceClass {
  return (components) => new FileServiceClass(components, host, init)
}
