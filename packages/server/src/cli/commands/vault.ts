import { parseArgs } from 'node:util';
import { rotateMasterKey } from '../../vault/rotate-master.js';
import { openStoreFromEnvironment, openVaultFromEnvironment, UsageError } from '../shared.js';

/** `airlock vault rotate-master [--dev]` */
export async function runVault(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'rotate-master') throw new UsageError(`unknown vault action "${action ?? ''}"; use rotate-master.`);
  const { values } = parseArgs({ args: rest, options: { dev: { type: 'boolean', default: false } } });
  const vault = openVaultFromEnvironment({ dev: values.dev });
  const store = openStoreFromEnvironment();
  try {
    await store.migrate();
    const report = await rotateMasterKey(store, vault);
    console.log(
      `Master key version ${vault.keys.primaryVersion}: re-wrapped ${report.rewrapped} of ${report.total} secrets ` +
        `(${report.alreadyCurrent} already current, ${report.changedMeanwhile} changed meanwhile).`,
    );
    if (report.changedMeanwhile > 0) {
      console.log('Some secrets changed during the run (a key saved or revoked): run the command again to be sure they are re-wrapped.');
    } else {
      console.log('Every secret is wrapped by the primary version: older versions can now be removed from AIRLOCK_MASTER_KEYS.');
    }
    return 0;
  } finally {
    await store.close();
  }
}
