// `pnpm --filter @example/express start`
import { startExample } from './server.js';

const example = await startExample({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  // pnpm runs scripts inside the package; keep .airlock/ where the command was typed.
  dataDir: `${process.env.INIT_CWD ?? process.cwd()}/.airlock`,
  openaiApiKey: process.env.OPENAI_API_KEY,
  openaiBaseUrl: process.env.OPENAI_BASE_URL,
  masterKeys: process.env.AIRLOCK_MASTER_KEYS,
});
console.log(example.standIn ? 'Answers come from a local stand-in upstream (set OPENAI_API_KEY for OpenAI).' : 'Answers come from OpenAI.');
console.log(`Express example running at ${example.url}`);

const stop = async () => {
  await example.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
