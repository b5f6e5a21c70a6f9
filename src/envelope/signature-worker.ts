/** Worker thread of SignatureThread (signatures.ts): verifies packed batches of Ed25519 signatures, in order. */
import { parentPort } from 'node:worker_threads'
import { verifyBatch } from './signature-batch.js'
import type { SignatureAnswer, SignatureBatch } from './signature-batch.js'

parentPort?.on('message', ({ id, count, packed }: SignatureBatch) => {
  const valid = verifyBatch(count, packed)
  parentPort?.postMessage({ id, valid } satisfies SignatureAnswer, [valid.buffer])
})
