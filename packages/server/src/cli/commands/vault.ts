import { act, CliCommand, openStoreFromEnvironment, openVaultFromEnvironment, printJson, progressLine, runCommand, type Outcome } from '../shared.js';

/**
 * `airlock vault rotate-master`.
 *
 * @example
 * ```ts
 * program.addCommand(vaultCommand(outcome));
 * ```
 */
export function vaultCommand(outcome: Outcome): CliCommand {
  const vault = new CliCommand('vault').description('the master keys that wrap every stored secret');

  vault
    .command('rotate-master')
    .description('re-wrap every stored secret under the primary version of AIRLOCK_MASTER_KEYS (safe to stop and run again)')
    .option('--dev', 'use the development master key in .airlock/ when AIRLOCK_MASTER_KEYS is not set')
    .option('--json', 'print the report as JSON')
    .action(
      act(outcome, async (flags: { dev?: boolean; json?: boolean }) => {
        const keys = await openVaultFromEnvironment({ dev: flags.dev });
        const { rotateMasterKey } = await import('../../vault/rotate-master.js');
        const store = await openStoreFromEnvironment();
        const progress = progressLine();
        try {
          let done = 0;
          const report = await rotateMasterKey(store, keys, {
            onRecord: () => progress.update(`checked ${++done} secrets…`),
          });
          progress.done();
          if (flags.json) {
            printJson({ primaryVersion: keys.keys.primaryVersion, ...report });
            return 0;
          }
          console.log(
            `Master key version ${keys.keys.primaryVersion}: re-wrapped ${report.rewrapped} of ${report.total} secrets ` +
              `(${report.alreadyCurrent} already current, ${report.changedMeanwhile} changed meanwhile).`,
          );
          if (report.changedMeanwhile > 0) {
            console.log('Some secrets changed during the run (a key saved or revoked): run the command again to be sure they are re-wrapped.');
          } else {
            console.log('Every secret is wrapped by the primary version: older versions can now be removed from AIRLOCK_MASTER_KEYS.');
          }
          return 0;
        } finally {
          progress.done();
          await store.close();
        }
      }),
    );

  return vault;
}

/** Runs `airlock vault …` in this process; answers the exit code. */
export function runVault(args: string[]): Promise<number> {
  return runCommand(vaultCommand, args);
}
