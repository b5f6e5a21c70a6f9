import { ChatError } from '../errors.js'

/** A file over this node's limit (`maxFileSize`): nothing was stored (the API answers 413) */
export class FileTooLargeError extends ChatError {
  constructor (size: number | undefined, max: number) {
    super('FileTooLargeError', 'ERR_BODY_TOO_LARGE', `${size != null ? `the file is ${size} bytes` : 'the file is larger than the limit'}: this node takes files up to ${max} bytes (start --max-file-size)`)
  }
}

/** No connected member that holds the file (or the chunks still missing) answered in time */
export class FileUnavailableError extends ChatError {
  constructor (message: string) { super('FileUnavailableError', 'ERR_NOT_FOUND', message) }
}

/** The message named is not a file announcement, or not one this node holds */
export class NotAFileError extends ChatError {
  constructor (message: string) { super('NotAFileError', 'ERR_NOT_FOUND', message) }
}

/** Every chunk matches the manifest but the content does not match the announced hash (or does not decrypt): the announcement is wrong */
export class FileMismatchError extends ChatError {
  constructor (message: string) { super('FileMismatchError', 'ERR_INVALID_INPUT', message) }
}

/** The peer broke the file protocol (a bad chunk, manifest or message): it is cut off */
export class FileProtocolError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'FileProtocolError'
  }
}
