import type { KeyResolver } from '../keys/key-resolver.js';
import type { Logger } from '../logging/logger.js';
import type { UpstreamClients } from '../proxy/upstream.js';
import { PostgresKnowledgeStore } from '../stores/knowledge-postgres.js';
import { SqliteKnowledgeStore } from '../stores/knowledge-sqlite.js';
import type { KnowledgeStore } from '../stores/knowledge-store.js';
import { PostgresStore } from '../stores/postgres-store.js';
import { SqliteStore } from '../stores/sqlite-store.js';
import type { Store } from '../stores/store.js';
import type { UsageMeter } from '../usage/usage-meter.js';
import { createEmbeddings, isEmbeddingsUnavailable } from './embeddings.js';
import { KnowledgeExtractor } from './extractor.js';
import { KnowledgeService, type KeyEmbedder, type KnowledgeLimits, type WidgetEmbedder } from './knowledge-service.js';

/**
 * Knowledge settings of `createAirlock`.
 *
 * @example
 * ```ts
 * createAirlock({ knowledge: { embeddingModel: 'text-embedding-3-large', limits: { maxFileBytes: 20 * 1024 * 1024 } } });
 * ```
 */
export interface KnowledgeOptions {
  /** Upload limits per file, widget and account. Default: see {@link KnowledgeLimits}. */
  limits?: KnowledgeLimits;
  /** The upstream's embedding model (`AIRLOCK_EMBEDDING_MODEL` for `airlock serve`). Default: `'text-embedding-3-small'`. */
  embeddingModel?: string;
  /** Dimensions asked of models that can shorten their vectors. Default: the model's own. */
  embeddingDimensions?: number;
  /** Worker threads that read files. Default: `1`. */
  workers?: number;
  /** The store of the files and passages, for a custom `store`. Default: one on the built-in store's database; none for a custom store (knowledge is then off). */
  store?: KnowledgeStore;
}

/**
 * The knowledge service on the main store's database (SQLite or
 * PostgreSQL), embedding with the widget's own key or the shared one,
 * exactly as its chat resolves it; `undefined` for a custom store without a
 * knowledge store of its own.
 *
 * @example
 * ```ts
 * const knowledge = openKnowledge({ store, options: {}, upstream, keys, logger, usage });
 * ```
 */
export function openKnowledge(parts: {
  store: Store;
  options: KnowledgeOptions;
  upstream: UpstreamClients;
  keys: KeyResolver;
  logger: Logger;
  usage: UsageMeter;
}): KnowledgeService | undefined {
  const { store, options, upstream, keys, logger, usage } = parts;
  const knowledgeStore =
    options.store ??
    (store instanceof SqliteStore
      ? new SqliteKnowledgeStore(store.database)
      : store instanceof PostgresStore
        ? new PostgresKnowledgeStore(store.pool)
        : undefined);
  if (!knowledgeStore) return undefined;
  const model = options.embeddingModel ?? 'text-embedding-3-small';
  const embedWithKey: KeyEmbedder = async (apiKey, texts, signal) => {
    try {
      return await createEmbeddings(texts, {
        apiKey,
        baseURL: upstream.settings.baseURL,
        model,
        ...(options.embeddingDimensions !== undefined && { dimensions: options.embeddingDimensions }),
        ...(upstream.settings.fetch && { fetch: upstream.settings.fetch }),
        ...(signal && { signal }),
      });
    } catch (error) {
      if (isEmbeddingsUnavailable(error)) return undefined;
      throw error;
    }
  };
  const embed: WidgetEmbedder = async (widget, texts, signal) => {
    const found = await store.getWidgetForCall(widget.id);
    if (!found) return undefined;
    const key = await keys.apiKeyFor(found.widget, found.keys);
    return embedWithKey(key.apiKey, texts, signal);
  };
  return new KnowledgeService({
    store: knowledgeStore,
    extractor: new KnowledgeExtractor({
      workers: options.workers ?? 1,
      ...(options.limits?.maxFileBytes !== undefined && { limits: { maxBytes: options.limits.maxFileBytes } }),
    }),
    embed,
    embedWithKey,
    ...(options.limits && { limits: options.limits }),
    logger,
    meter: (widgetId, inputTokens) => usage.record(widgetId, { inputTokens }),
  });
}
