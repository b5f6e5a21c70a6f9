import { ApiServer } from '../api/index.js'
import { resolveDataDir } from '../config.js'
import { ChatNode } from '../node.js'
import { runInteractive } from './interactive.js'
import { formatMessage, shortId } from './output.js'

export interface StartOptions {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  name?: string
  mdns?: boolean
  headless?: boolean
  apiPort?: number
  json?: boolean
}

/** `p2p-chat start`: node + local API, then the interactive terminal or headless log lines until a signal. */
export async function runStart (opts: StartOptions): Promise<void> {
  const dataDir = resolveDataDir(opts.dataDir)
  const interactive = opts.headless !== true && process.stdin.isTTY === true && process.stdout.isTTY === true
  const node = new ChatNode({ dataDir, listen: opts.listen, bootstrap: opts.bootstrap, name: opts.name, mdns: opts.mdns })
  const api = new ApiServer(node, { port: opts.apiPort })
  const log = (text: string, fields: Record<string, unknown>): void => {
    if (interactive) return
    process.stdout.write(opts.json === true ? JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n' : `${new Date().toISOString()} ${text}\n`)
  }

  let stopping: Promise<void> | undefined
  const shutdown = async (why: string): Promise<void> => {
    stopping ??= (async () => {
      log(`stopping (${why})`, { event: 'stopping', reason: why })
      await api.stop()
      await node.stop()
      log('stopped', { event: 'stopped' })
    })()
    return stopping
  }
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      process.stderr.write('p2p-chat: forced exit\n')
      process.exit(1)
    }
    void shutdown(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    await node.start()
    const info = await api.start()
    node.on('message', m => log(formatMessage(m, { showTopic: true }), { event: 'message', message: m }))
    node.on('peer:connect', p => log(`peer connected ${p.peerId}`, { event: 'peer:connect', peerId: p.peerId }))
    node.on('peer:disconnect', p => log(`peer disconnected ${p.peerId}`, { event: 'peer:disconnect', peerId: p.peerId }))
    node.on('group:joined', g => log(`joined ${g.topicId}`, { event: 'group:joined', topicId: g.topicId }))
    node.on('group:left', g => log(`left ${g.topicId}`, { event: 'group:left', topicId: g.topicId }))
    log(`ready: peer ${node.peerId} (${node.name}), api ${info.url}, listening on ${node.addresses.join(' ')}`,
      { event: 'ready', peerId: node.peerId, name: node.name, api: info.url, addresses: node.addresses, dataDir })
    if (interactive) {
      process.stdout.write(`p2p-chat: you are ${node.name} (${shortId(node.peerId)})\nlistening on:\n${node.addresses.map(a => `  ${a}`).join('\n')}\n`)
      await runInteractive(node, { onQuit: async () => shutdown('quit') })
    }
    await new Promise<void>(resolve => {
      const check = (): void => { if (stopping != null) void stopping.then(resolve) }
      process.on('SIGINT', check)
      process.on('SIGTERM', check)
      check()
    })
  } catch (err) {
    await shutdown('error').catch(() => {})
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
