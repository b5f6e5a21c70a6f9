/** api: the local HTTP + WebSocket API (127.0.0.1, bearer token) and its client */
export { ApiServer } from './server.js'
export type { ApiInfo, ApiEvent, ApiServerInit } from './server.js'
export { ApiClient, parseEvent } from './client.js'
export type { Status } from './client.js'
export { MAX_BODY_BYTES } from './http.js'
