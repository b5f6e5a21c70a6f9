import { mkdir, access, constants, writeFile, rename, readFile, chmod, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { DataDirError, errorCode, errorMessage } from './errors.js'

/** Environment variable naming the data directory */
export const DATA_DIR_ENV = 'P2P_CHAT_HOME'
/** TCP port a node listens on by default; the next free port is used when taken */
/** set to 1: behave as `start --no-public-network` (tests and CI set it, so that no test can reach the internet) */
export const NO_PUBLIC_NETWORK_ENV = 'P2P_CHAT_NO_PUBLIC_NETWORK'

/**
 * The public libp2p bootstrap peers (the IPFS Amino DHT's), used by `start`
 * when no --bootstrap is given and the public network is not turned off.
 */
export const PUBLIC_BOOTSTRAP = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]

export const DEFAULT_TCP_PORT = 4747

export const IDENTITY_FILE = 'identity.key'
export const GROUPS_FILE = 'groups.json'
export const PROFILE_FILE = 'profile.json'
export const API_FILE = 'api.json'
export const HISTORY_DIR = 'history'
/** members restored from a backup with no node running: taken into the peer store at the next start, then removed */
export const RESTORED_MEMBERS_FILE = 'restored-members.json'
/** the libp2p peer store (LevelDB): known members, their addresses and tags */
export const PEERS_DIR = 'peers'

/** `--data-dir`, else `$P2P_CHAT_HOME`, else `~/.p2p-chat`. */
export function resolveDataDir (flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag != null && flag !== '') return resolve(flag)
  const fromEnv = env[DATA_DIR_ENV]
  if (fromEnv != null && fromEnv !== '') return resolve(fromEnv)
  return join(homedir(), '.p2p-chat')
}

/** Create the data directory (0700) if needed and check it is writable. */
export async function ensureDataDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (err: unknown) {
    throw new DataDirError(`data directory ${dir} is not usable (${errorCode(err) ?? errorMessage(err)}): pick another with --data-dir or ${DATA_DIR_ENV}`, { cause: err })
  }
  // what is inside (group ids, authors, times in LevelDB files made 0644) is for this user only
  const st = await stat(dir)
  const uid = process.getuid?.()
  if (uid != null && st.uid !== uid) {
    throw new DataDirError(`data directory ${dir} belongs to another user (uid ${st.uid}): use a directory of your own with --data-dir or ${DATA_DIR_ENV}`)
  }
  if ((st.mode & 0o077) !== 0) {
    try {
      await chmod(dir, 0o700)
    } catch (err: unknown) {
      throw new DataDirError(`data directory ${dir} can be read by other users (mode ${(st.mode & 0o777).toString(8)}) and cannot be made private (${errorCode(err) ?? errorMessage(err)}): chmod 700 it, or pick another with --data-dir`, { cause: err })
    }
  }
}

/** Write a file atomically (temp file + rename) with the given mode. */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  try {
    await writeFile(tmp, data, { mode })
    await chmod(tmp, mode)
    await rename(tmp, path)
  } catch (err: unknown) {
    throw new DataDirError(`cannot write ${path}: ${errorCode(err) ?? errorMessage(err)}`, { cause: err })
  }
}

/** Read a file, or undefined when it does not exist. */
export async function readFileIfExists (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err: unknown) {
    if (errorCode(err) === 'ENOENT') return undefined
    throw new DataDirError(`cannot read ${path}: ${errorCode(err) ?? errorMessage(err)}`, { cause: err })
  }
}
