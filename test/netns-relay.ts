/**
 * A TCP relay that adds a fixed one-way delay to every byte, each direction:
 * the "delay" half of `tc netem` for kernels built without sch_netem. Run
 * inside the hub namespace of the bad-network test:
 *
 *   node netns-relay.js <delay ms> <listen host:port>=<target host:port> ...
 *
 * Prints "ready" once every listener is up; exits on SIGTERM or when stdin ends.
 */
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'

const [delayArg, ...maps] = process.argv.slice(2)
const delay = Number(delayArg)

/** Forward `from` to `to`, every chunk `delay` ms late, in order. */
function pipeLate (from: Socket, to: Socket): void {
  from.on('data', chunk => {
    setTimeout(() => { if (!to.destroyed) to.write(chunk) }, delay)
  })
  from.on('end', () => { setTimeout(() => { to.end() }, delay) })
  from.on('error', () => { to.destroy() })
  from.on('close', () => { setTimeout(() => { to.destroy() }, delay) })
}

let pending = maps.length
for (const map of maps) {
  const [listen, target] = map.split('=')
  const [lhost, lport] = listen.split(':')
  const [thost, tport] = target.split(':')
  const server = createServer(client => {
    const upstream = connect(Number(tport), thost)
    pipeLate(client, upstream)
    pipeLate(upstream, client)
  })
  server.listen(Number(lport), lhost, () => {
    if (--pending === 0) process.stdout.write('ready\n')
  })
}
process.on('SIGTERM', () => process.exit(0))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
