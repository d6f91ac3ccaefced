import { faults, type Behaviour } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_KEY_OWNER, type WidgetRecord } from '../src/stores/store.js';
import { canaryKey, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

// What an upstream refusal does: the code the client gets, the line the
// operator reads, and whether a key is taken out of service (only when the
// upstream says the key itself is invalid; the shared key only once
// confirmed, so one tenant's refused call cannot break it for all).

const adminToken = 'admin-secret-token';
const ownKey = `sk-own-${randomBytes(12).toString('hex')}`;
const sharedKey = `sk-stored-shared-${randomBytes(12).toString('hex')}`;
const hello = { messages: [{ role: 'user', content: 'Hello' }] };

let harness: ProxyHarness;
let ownWidget: WidgetRecord;
let sharedWidget: WidgetRecord;

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${harness.url}/airlock/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function saveOwnKey(): Promise<void> {
  expect((await admin('PUT', '/accounts/tenant/key', { apiKey: ownKey, validate: false })).status).toBe(200);
}

async function ask(widget: WidgetRecord, stream = false): Promise<{ status: number; code?: string; message?: string }> {
  const response = await harness.post('/v1/chat/completions', await harness.token(widget), { ...hello, stream });
  if (stream && response.status === 200) {
    const events = await sseEvents(response);
    harness.seen.push(events.join('\n'));
    const last = JSON.parse(events.at(-1) ?? '{}') as { error?: { code: string; message: string } };
    return { status: 200, code: last.error?.code ?? streamedText(events).error, message: last.error?.message };
  }
  const text = await harness.text(response);
  const body = JSON.parse(text) as { error?: { code: string; message: string } };
  return { status: response.status, code: body.error?.code, message: body.error?.message };
}

const keyStatus = async (owner: string) => (await harness.airlock.store.getOpenAiKey(owner))?.status;
const refusalLines = () =>
  harness.logs.filter((line) => line.includes('the AI service refused a call')).map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  harness = await startProxyHarness(
    { adminToken, proxy: { limits: { visitorRequestsPerMinute: 1_000, tokenRequestsPerMinute: 1_000, addressRequestsPerMinute: 1_000 } } },
    { acceptedKeys: [canaryKey, ownKey, sharedKey] },
  );
  expect((await admin('POST', '/accounts', { id: 'tenant', name: 'Tenant' })).status).toBe(201);
  await saveOwnKey();
  ownWidget = await harness.widget({ accountId: 'tenant', keySource: 'own' });
  sharedWidget = await harness.widget();
});

afterAll(async () => {
  await harness.close();
});

describe('what the client is told', () => {
  it('maps known upstream 400 codes to clear messages, and other refusals to upstream_rejected, never blaming the visitor with input_invalid', async () => {
    const cases: [Behaviour, number, string, RegExp][] = [
      [faults.contextLengthExceeded(), 400, 'input_invalid', /too long/],
      [
        { type: 'error', status: 400, error: { message: 'Something new', type: 'invalid_request_error', code: 'some_new_code' } },
        502,
        'upstream_rejected',
        /rejected/,
      ],
      [
        { type: 'error', status: 400, error: { message: 'Unsupported parameter: temperature', type: 'invalid_request_error', code: 'unsupported_parameter' } },
        502,
        'upstream_rejected',
        /settings/,
      ],
      [{ type: 'error', status: 422, error: { message: 'Unprocessable', type: 'invalid_request_error', code: null } }, 502, 'upstream_rejected', /rejected/],
      [faults.missingScopes(), 502, 'upstream_rejected', /allow/],
      [faults.modelNotAllowed(), 502, 'upstream_rejected', /model/],
      [
        { type: 'error', status: 400, error: { message: 'Flagged', type: 'invalid_request_error', code: 'content_policy_violation' } },
        400,
        'prompt_blocked',
        /safety/,
      ],
    ];
    for (const stream of [false, true]) {
      for (const [fault, status, code, message] of cases) {
        harness.upstream.next(fault);
        const answer = await ask(sharedWidget, stream);
        expect(answer, `${JSON.stringify(fault).slice(0, 90)} stream=${stream}`).toMatchObject({ status, code });
        expect(answer.message).toMatch(message);
      }
    }
  });
});

describe('what the operator reads', () => {
  it('logs each refusal at warn with the status, the upstream code and type and the key fingerprint, never the key or the upstream message', async () => {
    const before = refusalLines().length;
    harness.upstream.next(faults.modelNotAllowed());
    await ask(ownWidget);
    harness.upstream.next({ type: 'stream-error', afterChunks: 1, error: { message: `Boom for ${ownKey}`, type: 'server_error', code: null } });
    await ask(ownWidget, true);
    const lines = refusalLines().slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      status: 403,
      upstreamCode: 'model_not_found',
      upstreamType: 'invalid_request_error',
      code: 'upstream_rejected',
      keyFingerprint: `sk-…${ownKey.slice(-4)}`,
      keySource: 'own',
    });
    expect(lines[1]).toMatchObject({ level: 'warn', status: 200, upstreamCode: null, upstreamType: 'server_error', code: 'upstream_unavailable' });
    const all = harness.logs.join('\n');
    expect(all).not.toContain(ownKey);
    expect(all).not.toContain('does not have access to model');
    expect(all).not.toContain('Boom for');
  });
});

describe('which refusals take a key out of service', () => {
  it('keeps an own key active after a missing-scope 401 and a model 403', async () => {
    harness.upstream.next(faults.missingScopes());
    expect(await ask(ownWidget)).toMatchObject({ code: 'upstream_rejected' });
    harness.upstream.next(faults.modelNotAllowed());
    expect(await ask(ownWidget, true)).toMatchObject({ code: 'upstream_rejected' });
    expect(await keyStatus('tenant')).toBe('active');
    expect(await ask(ownWidget)).toMatchObject({ status: 200 });
  });

  it('marks an own key invalid on the upstream\u2019s invalid-key answer, also inside a 200 stream', async () => {
    harness.upstream.next({ type: 'stream-error', afterChunks: 1, error: faults.invalidKey().error });
    expect(await ask(ownWidget, true)).toMatchObject({ status: 200, code: 'upstream_key_invalid' });
    await expect.poll(() => keyStatus('tenant')).toBe('invalid');
    await saveOwnKey();
    harness.upstream.next(faults.invalidKey());
    expect(await ask(ownWidget)).toMatchObject({ status: 502, code: 'upstream_key_invalid' });
    expect(await keyStatus('tenant')).toBe('invalid');
    await saveOwnKey();
  });

  it('keeps the stored shared key active when one call is refused but GET /models accepts the key', async () => {
    expect((await admin('PUT', '/shared-key', { apiKey: sharedKey, validate: false })).status).toBe(200);
    const before = harness.upstream.requests.length;
    harness.upstream.next(faults.invalidKey());
    expect(await ask(sharedWidget)).toMatchObject({ status: 502, code: 'upstream_key_invalid' });
    const calls = harness.upstream.requests.slice(before);
    // The confirmation: a cheap call with the shared key itself.
    await expect.poll(() => harness.upstream.requests.slice(before).some((request) => request.path === '/v1/models')).toBe(true);
    expect(calls[0]?.headers.authorization).toBe(`Bearer ${sharedKey}`);
    expect(harness.upstream.requests.slice(before).find((request) => request.path === '/v1/models')?.headers.authorization).toBe(`Bearer ${sharedKey}`);
    expect(await keyStatus(SHARED_KEY_OWNER)).toBe('active');
    expect(await ask(sharedWidget)).toMatchObject({ status: 200 });
  });

  it('marks the stored shared key invalid once GET /models confirms the upstream refuses it', async () => {
    harness.upstream.next(faults.invalidKey());
    harness.upstream.next({ ...faults.invalidKey(), match: { path: '/v1/models' } });
    expect(await ask(sharedWidget)).toMatchObject({ status: 502, code: 'upstream_key_invalid' });
    await expect.poll(() => keyStatus(SHARED_KEY_OWNER)).toBe('invalid');
  });

  it('never shows a key to a client', () => {
    for (const text of harness.seen) {
      expect(text).not.toContain(ownKey);
      expect(text).not.toContain(sharedKey);
      expect(text).not.toContain(canaryKey);
    }
  });
});
