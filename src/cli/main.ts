import { Command, CommanderError, Option } from 'commander'
import { ChatError, NodeNotRunningError } from '../errors.js'
import { EXIT, EXIT_CODES_HELP } from './output.js'
import { registerClientCommands } from './commands.js'
import { registerCallCommands } from './calls.js'
import { registerBackupCommands } from './backup.js'
import { DATA_DIR_ENV, DEFAULT_TCP_PORT } from '../config.js'

export function buildProgram (): Command {
  const program = new Command('p2p-chat')
    .description('Decentralized peer-to-peer group chat: sealed, signed messages over libp2p gossipsub, history in LevelDB.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
The data directory is --data-dir, else $${DATA_DIR_ENV}, else ~/.p2p-chat.
Every command but "start" talks to the node running for that data directory.
${EXIT_CODES_HELP}`)

  const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
  program.command('start')
    .description('run a node in the foreground: interactive chat on a terminal, a quiet daemon otherwise')
    .option('-d, --data-dir <dir>', `data directory (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('-l, --listen <multiaddr>', `address to listen on, repeatable (default: /ip4/0.0.0.0/tcp/${DEFAULT_TCP_PORT}, or a free port)`, collect)
    .option('-b, --bootstrap <multiaddr>', 'peer to connect to at start, with /p2p/<peer-id>, repeatable', collect)
    .option('-n, --name <name>', 'display name shown with your messages (remembered)')
    .option('--no-mdns', 'do not discover peers on the local network')
    .option('--headless', 'no interactive terminal: log lines only (the default when stdin is not a terminal)')
    .option('--api-port <port>', 'port of the local API on 127.0.0.1 (default: any free port)', v => Number(v))
    .option('--json', 'headless log lines as JSON')
    .action(async (opts) => {
      // loaded on demand: the client commands stay quick to start
      const { runStart } = await import('./start.js')
      await runStart(opts)
    })

  registerClientCommands(program)
  registerBackupCommands(program)
  registerCallCommands(program)
  return program
}

export const VERSION = '0.1.0'

/** Run the CLI; returns the exit code. */
export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  program.exitOverride()
  for (const cmd of program.commands) cmd.exitOverride()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK
  } catch (err) {
    return reportError(err)
  }
}

export function reportError (err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK
    return EXIT.USAGE // commander already printed the message
  }
  if (err instanceof NodeNotRunningError) {
    process.stderr.write(`p2p-chat: ${err.message}\n`)
    return EXIT.NOT_RUNNING
  }
  if (err instanceof ChatError) {
    process.stderr.write(`p2p-chat: ${err.message}\n`)
    return EXIT.ERROR
  }
  const e = err as any
  if (e?.name === 'AbortError') return EXIT.INTERRUPTED
  process.stderr.write(`p2p-chat: unexpected error: ${e?.message ?? String(e)}\n`)
  if (process.env.DEBUG != null) process.stderr.write(`${e?.stack ?? ''}\n`)
  return EXIT.ERROR
}

export { Option }
