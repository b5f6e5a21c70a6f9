/** Envelope: protobuf codec and seal/open (encrypt, MAC, sign / verify, decrypt). Pure; no libp2p here. */
export { Envelope, Body, FileRef, Sealed, Signed } from './pb/envelope.js'
export { deriveGroupKeys, messageId, SECRET_LENGTH, WIRE_TOPIC_PREFIX } from './keys.js'
export type { GroupKeys } from './keys.js'
export { seal, open, openUnverified, peek, ENVELOPE_VERSION, LEGACY_ENVELOPE_VERSION, MAX_ENVELOPE_BYTES, PAD_BUCKETS } from './seal.js'
export type { SealInput, OpenedMessage, OpenResult, MessageHeader } from './seal.js'
export { sealInOrder } from './chain.js'
export {
  KIND_TEXT, KIND_REACTION, KIND_EDIT, KIND_DELETE, KIND_FILE, KIND_OP, MAX_OP_BYTES, KNOWN_KINDS, MAX_KIND,
  MAX_TEXT_BYTES, MAX_NAME_BYTES, MAX_EMOJI_BYTES, MAX_PARENTS, MAX_MENTIONS, MAX_FILE_NAME_BYTES,
  MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_LAMPORT, MAX_TIMESTAMP, ID_LENGTH, fileProblem
} from './rules.js'
export { ed25519Signer, verifyEd25519 } from './signer.js'
export { SignatureThread } from './signatures.js'
export type { SignatureThreadInit } from './signatures.js'
export type { Signer } from './signer.js'
