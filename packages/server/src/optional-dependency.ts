import { createRequire } from 'node:module';
import { AirlockError } from './errors.js';

const require = createRequire(import.meta.url);

/** The drivers not every deployment needs: optional peer dependencies of `@airlock/server`. */
const optionalDependencies = {
  pg: { range: '^8', purpose: 'A PostgreSQL database (a postgres:// database URL)' },
  ioredis: { range: '^5', purpose: 'Redis (AIRLOCK_REDIS_URL or the redis option)' },
} as const;

/**
 * Loads an optional driver the first time it is needed, so that a deployment
 * on SQLite without Redis installs neither. When it is missing, says which
 * package to install.
 *
 * @example
 * ```ts
 * const { Pool } = loadOptionalDependency<typeof pg>('pg');
 * ```
 */
export function loadOptionalDependency<T>(name: keyof typeof optionalDependencies): T {
  try {
    return require(name) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) {
      const { range, purpose } = optionalDependencies[name];
      throw new AirlockError('internal', `${purpose} needs the "${name}" package, which is not installed: npm install ${name}@${range}`, { cause: error });
    }
    throw error;
  }
}
