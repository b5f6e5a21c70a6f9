import { Command, Option } from 'commander'
import { act, configureCommand, EXIT_CODES_HELP, exitCodeOf, parseWhole, reportError } from './output.js'
import { parseSize, registerClientCommands, registerFileCommands } from './commands.js'
import { registerCallCommands } from './calls.js'
import { registerBackupCommands } from './backup.js'
import { registerOpenCommand } from './open.js'
import { DATA_DIR_ENV, DEFAULT_TCP_PORT, NO_PUBLIC_NETWORK_ENV } from '../config.js'
import type { StartOptions } from './start.js'

export const VERSION = '0.1.0'

export function buildProgram (): Command {
  const program = new Command('p2p-chat')
    .description('Decentralized peer-to-peer group chat: sealed, signed messages over libp2p gossipsub, history in LevelDB.')
    .version(VERSION)
    .addHelpText('after', `
The data directory is --data-dir, else $${DATA_DIR_ENV}, else ~/.p2p-chat.
"start" runs a node; "export" and "import" work with or without one; every
other command talks to the node running for that data directory (give it
--wait 30s, or run "p2p-chat wait-ready" first, right after "start &").
${EXIT_CODES_HELP}`)

  const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
  act(program.command('start')
    .description('run a node in the foreground: interactive chat on a terminal, a quiet daemon otherwise')
    .option('-d, --data-dir <dir>', `data directory (default: $${DATA_DIR_ENV} or ~/.p2p-chat)`)
    .option('-l, --listen <multiaddr>', `address to listen on, repeatable (default: /ip4/0.0.0.0/tcp/${DEFAULT_TCP_PORT}, or a free port)`, collect)
    .option('-b, --bootstrap <multiaddr>', 'peer to connect to at start, with /p2p/<peer-id>, repeatable', collect)
    .option('-n, --name <name>', 'display name shown with your messages (remembered)')
    .option('--no-mdns', 'do not discover peers on the local network')
    .option('--no-public-network', `private network or tests: no public bootstrap peers (used when no --bootstrap is given), no UPnP, private addresses kept in the DHT (also $${NO_PUBLIC_NETWORK_ENV}=1)`)
    .addOption(new Option('--log-messages <which>', 'headless log: "live" messages one line each and a line per sync session, or "all", also every message sync caught up').choices(['live', 'all']).default('live'))
    .option('--relay', 'also serve as a circuit relay (v2) for others: run it on a node with a public address')
    .option('--relay-allow <peer-id>', 'with --relay: only these peers may reserve a slot, repeatable', collect)
    .option('--headless', 'no interactive terminal: log lines only (the default when stdin is not a terminal)')
    .option('--api-port <port>', 'port of the local API on 127.0.0.1 (default: any free port)', parseWhole('--api-port', 0, 65535))
    .option('--max-file-size <size>', 'largest file this node sends or fetches, e.g. 100M, 2G, 500K or bytes (default 100M)', parseSize('--max-file-size'))
    .option('--auto-fetch <size>', 'fetch files announced in your groups up to this size as they arrive, e.g. 1M (default: only on "get")', parseSize('--auto-fetch'))
    .option('--new-identity', 'start with a new identity although the data directory holds history written by another one')
    .option('--json', 'headless log lines as JSON'),
  async (opts: StartOptions) => {
    // loaded on demand: the client commands stay quick to start
    const { runStart } = await import('./start.js')
    return runStart(opts)
  })

  registerClientCommands(program)
  registerFileCommands(program)
  registerBackupCommands(program)
  registerCallCommands(program)
  registerOpenCommand(program)
  configureCommand(program)
  return program
}

/** Run the CLI; returns the exit code (bin/p2p-chat.js sets it). */
export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return exitCodeOf(program)
  } catch (err) {
    return reportError(err)
  }
}
