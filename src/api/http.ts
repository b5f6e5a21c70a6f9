import type { IncomingMessage, ServerResponse } from 'node:http'
import { isAbsolute } from 'node:path'
import { ApiError, ChatError } from '../errors.js'
import { httpStatus } from './status.js'

/** Largest request body the API reads */
export const MAX_BODY_BYTES = 1024 * 1024

/** Read a JSON object body; 413 past the limit, 400 when it is not a JSON object. */
export async function readJson (req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) {
    req.resume()
    throw new ApiError(`request body is larger than ${limit} bytes`, 'ERR_BODY_TOO_LARGE')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) {
      req.resume()
      throw new ApiError(`request body is larger than ${limit} bytes`, 'ERR_BODY_TOO_LARGE')
    }
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ApiError('request body is not valid JSON', 'ERR_INVALID_INPUT')
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('request body must be a JSON object', 'ERR_INVALID_INPUT')
  }
  return value as Record<string, unknown>
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const data = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store' })
  res.end(data)
}

/** The JSON error body every failed request gets */
export function errorBody (err: unknown): { status: number, body: { error: { name: string, code: string, message: string } } } {
  if (err instanceof ChatError) {
    return { status: httpStatus(err), body: { error: { name: err.name, code: err.code, message: err.message } } }
  }
  const message = err instanceof Error ? err.message : String(err)
  return { status: httpStatus(err), body: { error: { name: 'InternalError', code: 'ERR_INTERNAL', message } } }
}

/** Optional string field */
export function optString (body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new ApiError(`"${key}" must be a string`, 'ERR_INVALID_INPUT')
  return v
}

export function reqString (body: Record<string, unknown>, key: string): string {
  const v = optString(body, key)
  if (v === undefined) throw new ApiError(`"${key}" is required`, 'ERR_INVALID_INPUT')
  return v
}

export function optBool (body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') throw new ApiError(`"${key}" must be true or false`, 'ERR_INVALID_INPUT')
  return v
}

export function optNumber (body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ApiError(`"${key}" must be a number`, 'ERR_INVALID_INPUT')
  return v
}

export function optStringArray (body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some(x => typeof x !== 'string')) throw new ApiError(`"${key}" must be a list of strings`, 'ERR_INVALID_INPUT')
  return v as string[]
}

export function optInt (value: string | null, name: string): number | undefined {
  if (value == null || value === '') return undefined
  if (!/^\d+$/.test(value)) throw new ApiError(`"${name}" must be a whole number`, 'ERR_INVALID_INPUT')
  return Number(value)
}

/**
 * Answer a long-running request as NDJSON: `{"type":"progress",…}` lines
 * while it works, then one `{"type":"result","result":…}` or
 * `{"type":"error","error":…}` line. The client (ApiClient.requestStream)
 * turns them back into progress callbacks and a result or a thrown error.
 */
export async function streamProgress (res: ServerResponse, work: (progress: (p: object, always?: boolean) => void) => Promise<unknown>): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
  // send the head now: a long wait (answering a call) must not leave the client without an answer
  res.flushHeaders()
  let last = 0
  /** progress is sent at most ten times a second, unless `always` (state changes) */
  const progress = (p: object, always = false): void => {
    const now = Date.now()
    if (!always && now - last < 100) return
    last = now
    if (!res.writableEnded) res.write(JSON.stringify({ type: 'progress', ...p }) + '\n')
  }
  try {
    const result = await work(progress)
    if (res.writableEnded) return
    res.end(JSON.stringify({ type: 'result', result }) + '\n')
  } catch (err) {
    if (!res.writableEnded) res.end(JSON.stringify({ type: 'error', ...errorBody(err).body }) + '\n')
  }
}

/** An abort signal that fires when the client goes away before the answer is complete. */
export function clientGone (req: IncomingMessage, res: ServerResponse): AbortSignal {
  const ac = new AbortController()
  res.on('close', () => { if (!res.writableFinished) ac.abort(new Error('the client went away')) })
  req.on('aborted', () => ac.abort(new Error('the client went away')))
  return ac.signal
}

/** An absolute file path on this machine (the node may run in another working directory) */
export function reqPath (body: Record<string, unknown>, key: string): string {
  const v = reqString(body, key)
  if (!isAbsolute(v)) throw new ApiError(`"${key}" must be an absolute file path`, 'ERR_INVALID_INPUT')
  return v
}

/** A media endpoint given to the node: "device", "none", or an absolute file path (the node runs on this machine). */
export function optMedia (body: Record<string, unknown>, key: string): string | undefined {
  const v = optString(body, key)
  if (v == null || v === 'device' || v === 'none') return v
  if (!isAbsolute(v)) throw new ApiError(`"${key}" must be "device", "none" or an absolute file path`, 'ERR_INVALID_INPUT')
  return v
}
