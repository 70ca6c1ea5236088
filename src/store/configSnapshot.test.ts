import { describe, expect, it } from 'vitest';
import { UserError } from '../core/errors.js';
import { consumerEntry, workspaceEntry, type ConsumerEntry } from '../config/schema.js';
import { configEntities, configSnapshot } from './configSnapshot.js';
import { uuidV5 } from './deterministicId.js';
import { hashSecret, verifySecret } from './secretHash.js';

/** Config entries as the real schema outputs them (defaults applied). */
const consumers = (...raw: unknown[]): ConsumerEntry[] => raw.map((r) => consumerEntry.parse(r));

const ALICE = {
  username: 'alice',
  jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----' }],
  oauth2_credentials: [{ name: 'My Application', client_secret: 's3cret', redirect_uris: ['https://your-app.com/callback'] }],
};

async function userError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return (err as UserError).message;
}

describe('configSnapshot', () => {
  it('uuidV5 matches the RFC test vector', () => {
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('gives entries without ids stable name-based ids and a stable derived client_id', async () => {
    const a = await configSnapshot({ consumers: consumers(ALICE, { custom_id: 'svc-1' }), workspaces: [] });
    const b = await configSnapshot({ consumers: consumers(ALICE, { custom_id: 'svc-1' }), workspaces: [] });
    const [alice, svc] = a.consumers;
    expect(alice).toMatchObject({ id: uuidV5('consumer:username:alice'), username: 'alice', custom_id: null, source: 'config' });
    expect(svc.id).toBe(uuidV5('consumer:custom_id:svc-1'));
    expect(alice.jwt_secrets[0]).toMatchObject({ id: uuidV5('jwt:admin-key'), consumer_id: alice.id, algorithm: 'RS256', secret: null, source: 'config' });
    const cred = alice.oauth2_credentials[0];
    expect(cred.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(cred).toMatchObject({ id: uuidV5(`oauth2:${cred.client_id}`), consumer_id: alice.id, client_type: 'confidential' });
    expect(b.consumers[0].oauth2_credentials[0].client_id).toBe(cred.client_id);
    expect(b.consumers.map((c) => c.id)).toEqual(a.consumers.map((c) => c.id));
  });

  it('keeps given ids and client_ids', async () => {
    const id = '3f2b6c1a-8d7e-4f5a-9b0c-1d2e3f4a5b6c';
    const snap = await configSnapshot({
      consumers: consumers({ ...ALICE, id, oauth2_credentials: [{ ...ALICE.oauth2_credentials[0], client_id: 'my-client' }] }),
      workspaces: [],
    });
    expect(snap.consumers[0].id).toBe(id);
    expect(snap.consumers[0].oauth2_credentials[0]).toMatchObject({ client_id: 'my-client', id: uuidV5('oauth2:my-client') });
  });

  it('hashes client_secret, takes client_secret_hash as is, stores no secret for public clients', async () => {
    const hash = await hashSecret('other');
    const snap = await configSnapshot({
      consumers: consumers({
        username: 'alice',
        oauth2_credentials: [
          { name: 'a', client_id: 'a', client_secret: 's3cret', redirect_uris: ['https://x.test/cb'] },
          { name: 'b', client_id: 'b', client_secret_hash: hash, redirect_uris: ['https://x.test/cb'] },
          { name: 'c', client_id: 'c', client_type: 'public', redirect_uris: ['https://x.test/cb'] },
        ],
      }),
      workspaces: [],
    });
    const [a, b, c] = snap.consumers[0].oauth2_credentials;
    expect(a.client_secret_hash).not.toContain('s3cret');
    expect(await verifySecret('s3cret', a.client_secret_hash ?? '')).toBe(true);
    expect(b.client_secret_hash).toBe(hash);
    expect(c.client_secret_hash).toBeNull();
    expect(JSON.stringify(snap)).not.toContain('s3cret');
  });

  it('maps workspaces with their members, once each', async () => {
    const snap = await configSnapshot({ consumers: [], workspaces: [workspaceEntry.parse({ id: 'team', token_budget_day: 5, members: ['u1', 'u2', 'u1'] })] });
    expect(snap.workspaces).toMatchObject([{ id: 'team', token_budget_day: 5, members: ['u1', 'u2'], source: 'config' }]);
  });

  it('refuses problems with the path of the entry', async () => {
    const cb = ['https://x.test/cb'];
    expect(await userError(configSnapshot({ consumers: consumers({ username: 'a' }, { username: 'a' }), workspaces: [] }))).toBe(
      "consumers[1].username: 'a' is already used by consumers[0]",
    );
    expect(
      await userError(
        configSnapshot({ consumers: consumers({ username: 'a', jwt_secrets: [{ key: 'k', secret: 'x' }] }, { username: 'b', jwt_secrets: [{ key: 'k', secret: 'y' }] }), workspaces: [] }),
      ),
    ).toBe("consumers[1].jwt_secrets[0].key: 'k' is already used by consumers[0].jwt_secrets[0]");
    const withCred = (cred: object) => configSnapshot({ consumers: consumers({ username: 'a', oauth2_credentials: [{ name: 'n', redirect_uris: cb, ...cred }] }), workspaces: [] });
    expect(await userError(withCred({ client_secret_hash: 'plain-text' }))).toMatch(/^consumers\[0\]\.oauth2_credentials\[0\]\.client_secret_hash: expected scrypt/);
    expect(await userError(withCred({}))).toMatch(/needs client_secret/);
    expect(await userError(withCred({ client_type: 'public', client_secret: 'x' }))).toMatch(/public client has no client_secret/);
    expect(await userError(withCred({ client_secret: 'x', client_secret_hash: await hashSecret('x') }))).toMatch(/not both/);
    const ws = workspaceEntry.parse({ id: 'w' });
    expect(await userError(configSnapshot({ consumers: [], workspaces: [ws, ws] }))).toBe("workspaces[1].id: 'w' is already used by workspaces[0]");
  });

  it('configEntities writes entries the config schema accepts, and they snapshot back to the same entities', async () => {
    const snap = await configSnapshot({ consumers: consumers(ALICE, { custom_id: 'svc', tags: ['x'] }), workspaces: [workspaceEntry.parse({ id: 'team', members: ['u1'] })] });
    const entities = configEntities(snap);
    expect(JSON.stringify(entities)).not.toContain('s3cret');
    const again = await configSnapshot({ consumers: entities.consumers.map((c) => consumerEntry.parse(c)), workspaces: entities.workspaces.map((w) => workspaceEntry.parse(w)) });
    const strip = (v: unknown) => JSON.stringify(v, (k: string, x: unknown) => (k === 'created_at' || k === 'updated_at' ? undefined : x));
    expect(strip(again)).toBe(strip(snap));
  });
});
