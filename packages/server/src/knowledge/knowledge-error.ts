import type { ErrorCode } from '@airlock/protocol';
import { AirlockError } from '../errors.js';
import type { KnowledgeFileProblem } from './types.js';

const brand = Symbol.for('airlock.server.knowledge-file-error');

const answers: Record<KnowledgeFileProblem, { code: ErrorCode; status?: number }> = {
  // 415: the upload itself is of a kind the server does not take.
  unsupported_type: { code: 'input_invalid', status: 415 },
  too_large: { code: 'payload_too_large' },
  out_of_memory: { code: 'payload_too_large' },
  timeout: { code: 'payload_too_large' },
  content_mismatch: { code: 'input_invalid' },
  invalid_encoding: { code: 'input_invalid' },
  corrupt: { code: 'input_invalid' },
  encrypted: { code: 'input_invalid' },
  no_text: { code: 'input_invalid' },
  overloaded: { code: 'service_unavailable' },
};

/**
 * A knowledge file that could not be read: an {@link AirlockError} (so it
 * answers in OpenAI's error shape with a stable code and status) that also
 * says why, as a {@link KnowledgeFileProblem} a store can keep beside the
 * file. Its message is written for the owner and never quotes the file.
 *
 * @example
 * ```ts
 * try { await extractor.process(file); } catch (error) {
 *   if (KnowledgeFileError.isInstance(error)) await markFailed(fileId, error.problem, error.message);
 * }
 * ```
 */
export class KnowledgeFileError extends AirlockError {
  readonly [brand] = true;

  constructor(
    readonly problem: KnowledgeFileProblem,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    const answer = answers[problem];
    super(answer.code, message, {
      ...options,
      ...(answer.status === undefined ? {} : { status: answer.status }),
      ...(problem === 'overloaded' ? { headers: { 'retry-after': '5' } } : {}),
    });
  }

  /** True for a `KnowledgeFileError` from any copy of this package. */
  static override isInstance(value: unknown): value is KnowledgeFileError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}
