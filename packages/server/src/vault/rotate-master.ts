import { openAiKeyBinding } from '../keys/account-keys.js';
import type { SealedRecord, Store } from '../stores/store.js';
import type { SecretBinding, Vault } from './vault.js';

/**
 * What a master-key rotation did.
 */
export interface RotationReport {
  total: number;
  rewrapped: number;
  alreadyCurrent: number;
  /** Records changed by someone else during the rotation (a key saved or revoked); they are already sealed afresh. */
  changedMeanwhile: number;
}

/** Options of {@link rotateMasterKey}. */
export interface RotateMasterKeyOptions {
  /** Called after each record, for progress output. Default: none. */
  onRecord?: (record: SealedRecord, outcome: 'rewrapped' | 'current' | 'changed') => void;
}

/** The binding each kind of sealed record was sealed with. */
export function bindingOf(record: SealedRecord): SecretBinding {
  // Signing keys are sealed by tokens/signing-keys.ts with this binding; the
  // rotation tests open them with SigningKeys.load, so a drift fails there.
  // A summary's record id is `<widget id>/<key>`, as summaryBinding seals it.
  if (record.kind === 'conversation-summary') return { accountId: record.ownerId, recordId: record.id, purpose: 'conversation-summary' };
  return record.kind === 'openai-key'
    ? openAiKeyBinding(record.ownerId, record.id)
    : { accountId: 'system', recordId: record.id, purpose: 'token-signing-key' };
}

/**
 * Re-wraps every data key (OpenAI keys, signing keys, conversation summaries) under the vault's
 * primary master key version; the secrets' ciphertexts are unchanged and
 * nobody re-enters a key. Crash-safe and idempotent: each record is updated
 * on its own with a compare-and-set on its old sealed value, so a run killed
 * at any point leaves every record wrapped by either the old or the new
 * version (both in the keyring), and running again finishes the job.
 * A record wrapped by a version missing from the keyring stops the run with
 * an error naming that version.
 *
 * @example
 * ```ts
 * // AIRLOCK_MASTER_KEYS="v2:<new>,v1:<old>"
 * const report = await rotateMasterKey(store, new Vault(createKeyring(process.env.AIRLOCK_MASTER_KEYS!)));
 * // then drop v1 from AIRLOCK_MASTER_KEYS
 * ```
 */
export async function rotateMasterKey(store: Store, vault: Vault, options: RotateMasterKeyOptions = {}): Promise<RotationReport> {
  const report: RotationReport = { total: 0, rewrapped: 0, alreadyCurrent: 0, changedMeanwhile: 0 };
  for (const record of await store.listSealedRecords()) {
    report.total += 1;
    if (record.sealed.kekVersion === vault.keys.primaryVersion) {
      report.alreadyCurrent += 1;
      options.onRecord?.(record, 'current');
      continue;
    }
    const next = await vault.rewrap(record.sealed, bindingOf(record));
    if (await store.replaceSealed(record, next)) {
      report.rewrapped += 1;
      options.onRecord?.(record, 'rewrapped');
    } else {
      report.changedMeanwhile += 1;
      options.onRecord?.(record, 'changed');
    }
  }
  return report;
}
