/** Envelope: protobuf codec and seal/open (encrypt, MAC, sign / verify, decrypt). Pure; no libp2p here. */
export { Envelope, Body } from './pb/envelope.js'
export { deriveGroupKeys, messageId, SECRET_LENGTH, WIRE_TOPIC_PREFIX } from './keys.js'
export type { GroupKeys } from './keys.js'
export { seal, open, ENVELOPE_VERSION, KIND_TEXT, MAX_TEXT_BYTES, MAX_NAME_BYTES, MAX_ENVELOPE_BYTES } from './seal.js'
export type { SealInput, OpenedMessage, OpenResult } from './seal.js'
export { ed25519Signer, verifyEd25519 } from './signer.js'
export type { Signer } from './signer.js'
