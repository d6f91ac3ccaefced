import type { WidgetTheme, WidgetType } from '@airlock/protocol';
import type { SealedSecret } from '../vault/vault.js';

/**
 * What visitors see of a widget; sent to the browser with each token.
 *
 * @example
 * ```ts
 * const presentation: WidgetPresentation = { title: 'Ask us', theme: 'auto', greeting: 'Hi!' };
 * ```
 */
export interface WidgetPresentation {
  title: string;
  theme: WidgetTheme;
  greeting?: string;
  placeholder?: string;
  suggestedPrompts?: string[];
  locale?: string;
}

/**
 * How the server talks to the model for a widget. Never sent to a browser.
 *
 * @example
 * ```ts
 * const behaviour: WidgetBehaviour = { model: 'gpt-4o-mini', systemPrompt: 'Be brief.' };
 * ```
 */
export interface WidgetBehaviour {
  model: string;
  systemPrompt?: string;
  temperature?: number;
  maxOutputTokens?: number;
}

/**
 * A widget as stored.
 *
 * @example
 * ```ts
 * const widget = await store.getWidget('wgt_abc');
 * ```
 */
export interface WidgetRecord {
  id: string;
  accountId: string;
  name: string;
  type: WidgetType;
  enabled: boolean;
  /** Exact origins (`https://example.com`) or wildcards (`https://*.example.com`). */
  allowedOrigins: string[];
  presentation: WidgetPresentation;
  behaviour: WidgetBehaviour;
  /** Revocation epoch: tokens minted under a lower epoch are refused. */
  epoch: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * Fields needed to create a widget; the store fills ids, epoch and dates.
 *
 * @example
 * ```ts
 * await store.createWidget({ name: 'support', type: 'chat', allowedOrigins: ['https://example.com'],
 *   presentation: { title: 'Support', theme: 'auto' }, behaviour: { model: 'gpt-4o-mini' } });
 * ```
 */
export interface NewWidget {
  id?: string;
  accountId?: string;
  name: string;
  type: WidgetRecord['type'];
  enabled?: boolean;
  allowedOrigins: string[];
  presentation: WidgetPresentation;
  behaviour: WidgetBehaviour;
}

/**
 * Fields of a widget that can be changed after creation.
 *
 * @example
 * ```ts
 * await store.updateWidget(id, { enabled: false });
 * ```
 */
export type WidgetPatch = Partial<Pick<WidgetRecord, 'name' | 'enabled' | 'allowedOrigins' | 'presentation' | 'behaviour'>>;

/**
 * An Ed25519 signing key for widget tokens; the private half is sealed by
 * the vault.
 *
 * @example
 * ```ts
 * const keys = await store.listSigningKeys();
 * ```
 */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: SealedSecret;
  createdAt: string;
}

/**
 * Persistence behind Airlock. Every method is async so SQLite and
 * PostgreSQL implementations share one interface and one conformance suite.
 *
 * @example
 * ```ts
 * const store = await openStore('sqlite:.airlock/airlock.db');
 * const widget = await store.getWidget(id);
 * ```
 */
export interface Store {
  readonly kind: 'sqlite';
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>;
  createWidget(input: NewWidget): Promise<WidgetRecord>;
  getWidget(id: string): Promise<WidgetRecord | undefined>;
  findWidgetByName(name: string): Promise<WidgetRecord | undefined>;
  listWidgets(): Promise<WidgetRecord[]>;
  /** Applies a patch; throws `widget_not_found` when there is no such widget. */
  updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord>;
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  addSigningKey(record: SigningKeyRecord): Promise<void>;
  close(): Promise<void>;
}
