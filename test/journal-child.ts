/**
 * Child process of journal.test.ts: a node whose LevelDB history writes
 * never end (each batch's write is held forever), so that what it sends is
 * published and in the journal but not in LevelDB when the test SIGKILLs it.
 *
 *   node dist/test/journal-child.js <dataDir> <invite> <peer multiaddr> <text>
 *
 * Prints one JSON line, {"ready":true}, once it is in the group and sees the
 * peer subscribed; sends `text` when a line comes on stdin (the test sends it
 * once the peer sees this node subscribed too: only then is this node's
 * gossip stream to the peer open, so the publish reaches it), then waits to
 * be killed.
 */
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { ChatNode } from '../src/index.js'

interface Batch { write: () => Promise<void> }
interface Db { batch: () => Batch }

const [dataDir, invite, peer, text] = process.argv.slice(2)
const node = new ChatNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
await node.start()
const { topicId } = await node.joinGroup({ invite })
await node.dial(peer)
const deadline = Date.now() + 20_000
while (node.groupPeers(topicId).length < 1) {
  if (Date.now() > deadline) throw new Error('the peer never joined the mesh')
  await new Promise(resolve => setTimeout(resolve, 25))
}
const db = (node as unknown as { running: { store: { db: Db } } }).running.store.db
const batch = db.batch.bind(db)
db.batch = () => {
  const real = batch()
  real.write = async () => new Promise<void>(() => {})
  return real
}
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
await once(createInterface({ input: process.stdin }), 'line')
// never resolves: its LevelDB write is held
void node.send(topicId, text)
