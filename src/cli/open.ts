import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { act, EXIT, time } from './output.js'
import { common, connect, out } from './commands.js'
import type { Command } from 'commander'
import type { CommonOptions } from './commands.js'

/** xdg-open on $PATH, when a desktop session is there ($DISPLAY or $WAYLAND_DISPLAY) */
export function desktopOpener (env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ((env.DISPLAY ?? '') === '' && (env.WAYLAND_DISPLAY ?? '') === '') return undefined
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, 'xdg-open')
    try { accessSync(file, constants.X_OK); return file } catch { /* not here */ }
  }
  return undefined
}

interface OpenOptions extends CommonOptions { browser?: boolean }

/** `p2p-chat open`: a one-time login URL for the web page the node serves */
export function registerOpenCommand (program: Command): void {
  act(common(program.command('open'))
    .description('print a one-time login link to the chat page the node serves (and open it in the browser when a desktop is there)')
    .option('--no-browser', 'only print the link, never start a browser'),
  async (opts: OpenOptions) => {
    const client = await connect(opts)
    const login = await client.request<{ url: string, expiresAt: number }>('POST', '/v1/web/login', {})
    const opener = opts.browser === false ? undefined : desktopOpener()
    if (opener != null) {
      const child = spawn(opener, [login.url], { detached: true, stdio: 'ignore' })
      child.on('error', () => { /* the link is printed anyway */ })
      child.unref()
    }
    out(opts, { ...login, opened: opener != null }, () =>
      `${login.url}\nopen it in a browser on this machine: it works once, until ${time(login.expiresAt)}${opener != null ? ' (opening it now)' : ''}`)
    return EXIT.OK
  })
}
