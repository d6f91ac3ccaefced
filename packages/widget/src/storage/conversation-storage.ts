import type { AnswerSource } from '@airlock/protocol';
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';
import { readSources } from '../core/answer-sources';

/**
 * Where a widget keeps its conversation and visitor id:
 * - `'indexeddb'`: survives reloads and new tabs (through `idb-keyval`);
 * - `'session'`: `sessionStorage`, gone when the tab closes;
 * - `'memory'`: gone on reload.
 */
export type StorageKind = 'indexeddb' | 'session' | 'memory';

/**
 * One stored message of a conversation.
 */
export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  /** The turn's idempotency key (user messages). */
  key?: string;
  /** The passages the answer was given, shown under it (assistant messages of a widget with knowledge). */
  sources?: AnswerSource[];
}

/**
 * What a widget persists.
 */
export interface StoredConversation {
  visitorId?: string;
  messages: StoredMessage[];
}

/**
 * Persistence of one widget instance's conversation. Implementations never
 * write on their own: the widget calls `save` only after the visitor acts.
 *
 * @example
 * ```ts
 * const storage = createConversationStorage('session', 'wgt_1');
 * await storage.save({ messages: [] });
 * ```
 */
export interface ConversationStorage {
  load(): Promise<StoredConversation | undefined>;
  save(state: StoredConversation): Promise<void>;
  clear(): Promise<void>;
}

const databaseName = 'airlock';
// One store for the module: idb-keyval opens the database only on first use.
let database: UseStore | undefined;

/**
 * Creates the storage for one widget instance; `namespace` keeps instances
 * apart (the widget passes its `storageKey`, by default the widget id). Falls
 * back to memory when the chosen storage is unavailable (private modes,
 * sandboxed iframes, server-side rendering).
 *
 * @example
 * ```ts
 * const storage = createConversationStorage('indexeddb', 'wgt_1');
 * const saved = await storage.load();
 * ```
 */
export function createConversationStorage(kind: StorageKind, namespace: string): ConversationStorage {
  const key = `airlock:${namespace}`;
  if (kind === 'indexeddb' && typeof indexedDB !== 'undefined') return indexedDbStorage(key);
  if (kind === 'session') {
    const session = sessionStorageOrUndefined();
    if (session) return webStorage(session, key);
  }
  return memoryStorage();
}

function indexedDbStorage(key: string): ConversationStorage {
  const store = (): UseStore => (database ??= createStore(databaseName, 'conversations'));
  // idb-keyval's own get/set/del, on our store: theirs also bundle its default store.
  const write = (change: (objects: IDBObjectStore) => void): Promise<void> =>
    store()('readwrite', (objects) => {
      change(objects);
      return promisifyRequest(objects.transaction);
    }).catch(() => {});
  return {
    async load() {
      // Opening a database creates it; when the browser can tell us there is none
      // yet, nothing was ever saved, and we must not write before the visitor acts.
      if (typeof indexedDB.databases === 'function') {
        const existing = await indexedDB.databases().catch(() => undefined);
        if (existing && !existing.some((entry) => entry.name === databaseName)) return undefined;
      }
      return parse(await store()('readonly', (objects) => promisifyRequest(objects.get(key))).catch(() => undefined));
    },
    save: (state) => write((objects) => objects.put(state, key)),
    clear: () => write((objects) => objects.delete(key)),
  };
}

function webStorage(storage: Storage, key: string): ConversationStorage {
  return {
    async load() {
      try {
        return parse(JSON.parse(storage.getItem(key) ?? 'null'));
      } catch {
        return undefined;
      }
    },
    async save(state) {
      try {
        storage.setItem(key, JSON.stringify(state));
      } catch {
        // Full or refused storage must not break the conversation.
      }
    },
    async clear() {
      storage.removeItem(key);
    },
  };
}

function memoryStorage(): ConversationStorage {
  let saved: StoredConversation | undefined;
  return {
    load: async () => saved,
    save: async (state) => {
      saved = structuredClone(state);
    },
    clear: async () => {
      saved = undefined;
    },
  };
}

function sessionStorageOrUndefined(): Storage | undefined {
  try {
    // Reading the property itself throws where storage is blocked (sandboxed frames).
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    return undefined;
  }
}

// Stored data may come from an older version or another script; keep only what is well-formed.
function parse(value: unknown): StoredConversation | undefined {
  const state = value as Partial<StoredConversation> | null | undefined;
  if (!state || !Array.isArray(state.messages)) return undefined;
  const messages = state.messages
    .filter(
      (message): message is StoredMessage =>
        !!message && typeof message.id === 'string' && typeof message.content === 'string' && (message.role === 'user' || message.role === 'assistant'),
    )
    // Sources are shown as links: checked as strictly as the server's.
    .map((message) => ({ ...message, sources: readSources(message.sources) }));
  return { ...(typeof state.visitorId === 'string' && { visitorId: state.visitorId }), messages };
}
