import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { httpStatus } from '../src/api/status.js'
import {
  ApiError, CallFailedError, CallRejectedError, ChatError, DataDirError, EmptyMessageError, GroupExistsError, InvalidBackupError,
  InvalidInputError, InvalidInviteError, ListenError, MediaError, MediaToolMissingError, MessageTooLargeError, NodeNotRunningError,
  NoSuchCallError, NotStartedError, TimeoutError, UnknownGroupError, WrongPassphraseError, DiskFullError, OverloadedError
} from '../src/errors.js'

describe('API statuses', () => {
  it('map every error code to the status its error carried before', () => {
    const cases: Array<[ChatError, number]> = [
      [new InvalidInputError('x'), 400],
      [new UnknownGroupError('g'), 404],
      [new GroupExistsError('g'), 409],
      [new EmptyMessageError(), 400],
      [new MessageTooLargeError(5000, 4096), 413],
      [new InvalidInviteError('x'), 400],
      [new DataDirError('x'), 500],
      [new ListenError('x'), 500],
      [new NotStartedError(), 503],
      [new NodeNotRunningError('/d'), 503],
      [new InvalidBackupError('x'), 400],
      [new WrongPassphraseError(), 400],
      [new ApiError('bad token', 'ERR_UNAUTHORIZED'), 401],
      [new ApiError('no such endpoint', 'ERR_NOT_FOUND'), 404],
      [new ApiError('bad field', 'ERR_INVALID_INPUT'), 400],
      [new ApiError('too big', 'ERR_BODY_TOO_LARGE'), 413],
      [new TimeoutError('x'), 504],
      [new CallRejectedError('busy', 'x'), 409],
      [new CallFailedError('unreachable', 'x'), 502],
      [new NoSuchCallError('x'), 404],
      [new MediaError('x'), 500],
      [new MediaToolMissingError('sox', 'sox'), 501],
      [new DiskFullError('x'), 507],
      [new OverloadedError('x', 1000), 429]
    ]
    for (const [err, status] of cases) assert.equal(httpStatus(err), status, `${err.name} ${err.code}`)
  })

  it('answers 400 for a ChatError the table does not know, 500 for anything else', () => {
    assert.equal(httpStatus(new ChatError('NewError', 'ERR_SOMETHING_NEW' as never, 'x')), 400)
    assert.equal(httpStatus(new Error('x')), 500)
    assert.equal(httpStatus('a string'), 500)
  })

  it('ignores the status a caller still passes to ChatError (deprecated argument)', () => {
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    const err = new ChatError('OldStyle', 'ERR_UNKNOWN_GROUP', 'x', 418, { cause: 'c' })
    assert.equal(httpStatus(err), 404)
    assert.equal(err.cause, 'c')
    assert.equal(new ChatError('NewStyle', 'ERR_DATA_DIR', 'x', { cause: 'd' }).cause, 'd')
  })
})
