/**
 * `p2p-chat export` and `p2p-chat import`: through the running node's API
 * when one runs for the data directory, else directly on the data directory
 * (src/backup does the work either way). Format and policy: docs/BACKUP.md.
 */
import { resolve } from 'node:path'
import { read } from 'read'
import { exportBackup, importBackup, inspectBackup, openDataDirBackupHost } from '../backup/index.js'
import { InvalidInputError, WrongPassphraseError } from '../errors.js'
import { clientFor, common, dataDirOf, out, waitReady } from './commands.js'
import { act, EXIT, InterruptedError } from './output.js'
import { progressBar } from './progress.js'
import type { Command } from 'commander'
import type { BackupProgress, ExportSummary, ImportSummary } from '../backup/index.js'

export const PASSPHRASE_ENV = 'P2P_CHAT_PASSPHRASE'
/** wrong passphrases typed at the prompt before giving up */
const PROMPT_ATTEMPTS = 3

interface BackupOptions { dataDir?: string, json?: boolean, passphrase?: string, wait?: number }
interface ExportOptions extends BackupOptions { out: string, includeSecrets?: boolean, includeIdentity?: boolean, encrypt?: boolean, force?: boolean }

function interrupted (): Error {
  return new InterruptedError()
}

function canPrompt (): boolean {
  return process.stdin.isTTY && process.stderr.isTTY
}

async function ask (prompt: string): Promise<string> {
  try {
    return await read({ prompt, silent: true, replace: '', output: process.stderr })
  } catch {
    throw interrupted() // Ctrl-C at the prompt
  }
}

/** --passphrase, else $P2P_CHAT_PASSPHRASE, else undefined */
function givenPassphrase (opts: BackupOptions): string | undefined {
  const p = opts.passphrase ?? process.env[PASSPHRASE_ENV]
  return p === '' ? undefined : p
}

function noPassphrase (why: string): InvalidInputError {
  return new InvalidInputError(`${why}: give it with --passphrase, in $${PASSPHRASE_ENV}, or run on a terminal to be asked`)
}

/** A passphrase for a new encrypted backup: given, or typed twice at a prompt. */
async function newPassphrase (opts: BackupOptions, why: string): Promise<string> {
  const given = givenPassphrase(opts)
  if (given != null) return given
  if (!canPrompt()) throw noPassphrase(why)
  const first = await ask('passphrase for the backup: ')
  if (first === '') throw new InvalidInputError('the passphrase is empty')
  if (await ask('the same passphrase again: ') !== first) throw new InvalidInputError('the two passphrases differ: nothing was written')
  return first
}

/** The passphrase of an existing encrypted backup: given, or asked (and checked) at a prompt. */
async function existingPassphrase (opts: BackupOptions, file: string): Promise<string> {
  const given = givenPassphrase(opts)
  if (given != null) return given
  if (!canPrompt()) throw noPassphrase(`${file} is encrypted`)
  for (let attempt = 1; ; attempt++) {
    const p = await ask(`passphrase of ${file}: `)
    try {
      await inspectBackup(file, { passphrase: p })
      return p
    } catch (err) {
      if (!(err instanceof WrongPassphraseError) || attempt >= PROMPT_ATTEMPTS) throw err
      process.stderr.write('wrong passphrase, try again\n')
    }
  }
}

/** Abort on Ctrl-C / SIGTERM while `work` runs, so a partial export is removed and the database closed. */
async function interruptible<T> (work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController()
  const stop = (): void => { ac.abort(interrupted()) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    return await work(ac.signal)
  } catch (err) {
    if (ac.signal.aborted) throw interrupted()
    throw err
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

const count = (n: number): string => n.toLocaleString('en-US')
const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`

function size (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export function describeExport (s: ExportSummary, file: string): string {
  const with_ = [s.includesSecrets ? 'the group secrets' : '', s.includesIdentity ? 'your identity' : ''].filter(w => w !== '').join(' and ')
  const how = with_ !== '' ? ` (encrypted, with ${with_})` : s.encrypted ? ' (encrypted)' : ''
  return `exported ${plural(s.records, 'record')} of ${plural(s.groups.length, 'group')} to ${file}${how}, ${size(s.bytes)}`
}

export function describeImport (s: ImportSummary): string {
  const restored = s.groupsRestored > 0 ? `; ${plural(s.groupsRestored, 'group')} restored` : ''
  return `imported ${plural(s.imported, 'new record')}, ${count(s.duplicates)} already held, ${count(s.rejected)} rejected${restored}`
}

/** What became of the identity a backup held: one line, or undefined */
export function identityNote (s: ImportSummary, dataDir: string): string | undefined {
  const who = s.backup.peerId ?? 'the backup\'s peer'
  switch (s.identity) {
    case undefined: return undefined
    case 'restored': return `restored the identity ${who} into ${dataDir}: start the node there to be that peer again; never run two nodes with one identity at once (stop the old one for good)`
    case 'same': return `the backup's identity is this node's (${who}): nothing to restore`
    case 'different': return `warning: the backup holds the identity ${who}, but ${dataDir} has another one: kept it; to become ${who}, move identity.key away and import again with no node running`
    case 'running': return `warning: the backup holds the identity ${who}, which a running node cannot take: stop the node, move ${dataDir}/identity.key away and import again with no node running`
  }
}

/** The problems of an import, one line each, for stderr; records of a group whose key is missing make one line for the group */
export function importProblems (s: ImportSummary): string[] {
  const unknown = new Set(s.unknownGroups)
  const perGroup = new Map<string, number>()
  const others = s.errors.filter(e => {
    if (e.reason !== 'unknown group' || e.topicId == null) return true
    unknown.add(e.topicId)
    perGroup.set(e.topicId, (perGroup.get(e.topicId) ?? 0) + 1)
    return false
  })
  const lines = [...unknown].map(t => `  no key for group "${t}"${perGroup.has(t) ? ` (its records were rejected)` : ''}: import a backup made with --include-secrets, or join the group first, then import again`)
  lines.push(...others.map(e => `  ${e.message}`))
  // the problems not listed are of the same kinds as those listed: only others are worth a count
  if (s.errorsOmitted > 0 && others.length > 0) lines.push(`  … and ${plural(s.errorsOmitted, 'more problem')}`)
  if (!s.complete) lines.push('  the file is damaged or cut short: reading stopped there; every valid record before that point was kept')
  return lines
}

export function registerBackupCommands (program: Command): void {
  const exportCmd = common(program.command('export')
    .argument('[topic-id...]', 'groups to export (default: every group)')
    .description('write groups and their history to a backup file (JSON Lines; docs/BACKUP.md), through the running node or straight from the data directory')
    .requiredOption('-o, --out <file>', 'the backup file to write (mode 0600; never left half-written)'))
    .option('--include-secrets', 'put the group secrets in the file, so a fresh machine can rejoin; the file is then encrypted')
    .option('--include-identity', 'put your identity (private key, display name) in the file, so a restored machine is the same peer; the file is then encrypted. Never run two nodes with one identity at once')
    .option('--encrypt', 'encrypt the file with a passphrase (implied by --include-secrets and --passphrase)')
    .option('--passphrase <passphrase>', `passphrase of the encrypted file (else $${PASSPHRASE_ENV}, else asked on a terminal; on the command line it is visible to other users)`)
    .option('-f, --force', 'overwrite the file if it exists')
    .addHelpText('after', `
A backup with group secrets is never written in the clear. Exit code 0 when
the file is complete, 1 on any error (the file is then not created), 130 when
interrupted (Ctrl-C).`)
  act(exportCmd, async (topicIds: string[], opts: ExportOptions) => {
      const file = resolve(opts.out)
      const includeIdentity = opts.includeIdentity === true
      const encrypt = opts.includeSecrets === true || includeIdentity || opts.encrypt === true || opts.passphrase != null
      const passphrase = encrypt ? await newPassphrase(opts, opts.includeSecrets === true ? 'a backup with group secrets is always encrypted and needs a passphrase' : includeIdentity ? 'a backup with your identity is always encrypted and needs a passphrase' : 'an encrypted backup needs a passphrase') : undefined
      const args = { topicIds, includeSecrets: opts.includeSecrets === true, includeIdentity, passphrase, overwrite: opts.force === true }
      const bar = progressBar('export', opts)
      const onProgress = (p: BackupProgress): void => { bar.update(p.done, p.total) }
      if (opts.wait != null) await waitReady(dataDirOf(opts), opts.wait)
      const client = clientFor(opts)
      try {
        const summary = await interruptible(async (signal) => {
          if (await client.running()) return client.exportBackup({ out: file, ...args }, onProgress, signal)
          const host = await openDataDirBackupHost(dataDirOf(opts))
          try {
            return { file, ...await exportBackup(host, file, { ...args, onProgress, signal }) }
          } finally {
            await host.close()
          }
        })
        bar.stop()
        out(opts, summary, () => describeExport(summary, file))
        if (summary.includesIdentity) process.stderr.write(`p2p-chat: warning: ${file} holds your identity key: with the passphrase, anyone can act as you. After restoring it, never run two nodes with this identity at once\n`)
        return EXIT.OK
      } finally {
        bar.stop()
      }
    })

  const importCmd = common(program.command('import')
    .argument('<file>', 'a backup written by "p2p-chat export"')
    .description('verify every record of a backup and add what is new to the history (nothing is removed), through the running node or straight into the data directory')
    .option('--passphrase <passphrase>', `passphrase of an encrypted backup (else $${PASSPHRASE_ENV}, else asked on a terminal)`))
    .addHelpText('after', `
Each record is checked (group MAC, author signature) before it is stored;
importing twice adds nothing. Groups whose secrets the backup holds are
joined. A damaged file keeps its valid records and rejects the rest.
Exit code 0 when every record was imported or already held, 1 when a record
was rejected, the file is damaged or cut short, or on any error, 130 when
interrupted (Ctrl-C).`)
  act(importCmd, async (fileArg: string, opts: BackupOptions) => {
      const file = resolve(fileArg)
      const info = await inspectBackup(file)
      const passphrase = info.encrypted ? await existingPassphrase(opts, fileArg) : undefined
      const bar = progressBar('import', opts)
      const onProgress = (p: BackupProgress): void => { bar.update(p.done, p.total) }
      if (opts.wait != null) await waitReady(dataDirOf(opts), opts.wait)
      const client = clientFor(opts)
      let summary: ImportSummary
      try {
        summary = await interruptible(async (signal) => {
          if (await client.running()) return client.importBackup({ file, passphrase }, onProgress, signal)
          const host = await openDataDirBackupHost(dataDirOf(opts), { create: true })
          try {
            return await importBackup(host, file, { passphrase, onProgress, signal })
          } finally {
            await host.close()
          }
        })
      } finally {
        bar.stop()
      }
      out(opts, summary, () => describeImport(summary))
      const id = identityNote(summary, dataDirOf(opts))
      if (id != null) process.stderr.write(`p2p-chat: ${id}\n`)
      if (summary.rejected > 0 || !summary.complete) {
        const problems = importProblems(summary)
        process.stderr.write(`p2p-chat: ${fileArg}: ${summary.complete ? 'some records were rejected' : 'the backup is incomplete'}:\n${problems.join('\n')}\n`)
        return EXIT.ERROR
      }
      return EXIT.OK
    })
}
