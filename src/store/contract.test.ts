import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends, wipeStore } from '../../test/helpers/stores.js';
import { createStore, DuplicateEntityError, ReferenceNotFoundError } from './index.js';
import type { NewJwtSecret, NewOAuth2Credential, Store } from './types.js';

/**
 * The repository contract: every test runs against SQLite and PostgreSQL, real databases.
 * Sync/export semantics: sync.contract.test.ts; connections and migrations: lifecycle.test.ts.
 */

const jwt = (consumer_id: string, key: string): NewJwtSecret => ({ consumer_id, key, algorithm: 'HS256', rsa_public_key: null, secret: 'shh', tags: [] });
const client = (consumer_id: string, client_id: string): NewOAuth2Credential => ({
  consumer_id,
  name: 'My Application',
  client_id,
  client_secret_hash: 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
  client_type: 'confidential',
  redirect_uris: ['https://your-app.com/callback', 'https://your-app.com/other'],
  tags: ['t1'],
});

async function expectDuplicate(p: Promise<unknown>, entity: string, field: string, value: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DuplicateEntityError);
  expect(err).toMatchObject({ entity, field, value, code: 'TG_DUPLICATE', status: 409 });
}

describe.each(storeBackends())('store contract ($name)', (backend) => {
  let store: Store;

  beforeAll(async () => {
    store = await createStore(await backend.freshUrl());
    expect(await store.migrate()).toEqual(['0001_core', '0002_oauth2_tokens', '0003_oauth2_revocations']);
  });
  afterAll(async () => {
    await store?.close();
    backend.cleanup();
  });
  beforeEach(() => wipeStore(store));

  it('reports its kind and pings', async () => {
    expect(store.kind).toBe(backend.name);
    expect(await store.ping()).toBe(true);
  });

  describe('consumers', () => {
    it('creates, gets by id and by username, lists oldest first, pages', async () => {
      const a = await store.consumers.create({ username: 'alice', custom_id: 'c-1', tags: ['x', 'y'] });
      const b = await store.consumers.create({ username: null, custom_id: 'c-2', tags: [], created_at: a.created_at + 1 });
      expect(a).toMatchObject({ username: 'alice', custom_id: 'c-1', tags: ['x', 'y'], source: 'admin' });
      expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await store.consumers.get(a.id)).toEqual(a);
      expect(await store.consumers.get('alice')).toEqual(a);
      expect(await store.consumers.get('c-2')).toBeNull();
      expect(await store.consumers.get('nobody')).toBeNull();
      expect(await store.consumers.list()).toEqual([a, b]);
      expect(await store.consumers.list({ limit: 1 })).toEqual([a]);
      expect(await store.consumers.list({ offset: 1 })).toEqual([b]);
      expect(await store.consumers.list({ offset: 1, limit: 5 })).toEqual([b]);
    });

    it('keeps a given id, source and created_at; large times round-trip as numbers', async () => {
      const id = '0b6c1f3e-5f7a-4c1e-9a55-1d2f7e9b0c11';
      const c = await store.consumers.create({ id, username: 'given', custom_id: null, tags: [], source: 'config', created_at: 1_900_000_000_123 });
      expect(await store.consumers.get(id)).toEqual({ id, username: 'given', custom_id: null, tags: [], source: 'config', created_at: 1_900_000_000_123 });
      expect(c.created_at).toBe(1_900_000_000_123);
    });

    it('prefers an id match over a username match', async () => {
      const a = await store.consumers.create({ username: 'first', custom_id: null, tags: [] });
      const b = await store.consumers.create({ username: a.id, custom_id: null, tags: [] });
      expect((await store.consumers.get(a.id))?.id).toBe(a.id);
      expect((await store.consumers.get(b.id))?.id).toBe(b.id);
    });

    it('updates fields and returns null for an unknown id', async () => {
      const a = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      const u = await store.consumers.update(a.id, { username: 'alice2', tags: ['new'] });
      expect(u).toEqual({ ...a, username: 'alice2', tags: ['new'] });
      expect(await store.consumers.update(a.id, { custom_id: 'cid' })).toEqual({ ...a, username: 'alice2', tags: ['new'], custom_id: 'cid' });
      expect(await store.consumers.update(a.id, {})).toMatchObject({ custom_id: 'cid' });
      expect(await store.consumers.update('00000000-0000-4000-8000-000000000000', { username: 'x' })).toBeNull();
      expect(await store.consumers.get('alice')).toBeNull();
    });

    it('deletes, reporting whether the consumer existed', async () => {
      const a = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      expect(await store.consumers.delete(a.id)).toBe(true);
      expect(await store.consumers.delete(a.id)).toBe(false);
      expect(await store.consumers.get(a.id)).toBeNull();
    });

    it('refuses duplicates with the clashing field and value', async () => {
      const a = await store.consumers.create({ username: 'alice', custom_id: 'c-1', tags: [] });
      await expectDuplicate(store.consumers.create({ username: 'alice', custom_id: null, tags: [] }), 'consumer', 'username', 'alice');
      await expectDuplicate(store.consumers.create({ username: 'other', custom_id: 'c-1', tags: [] }), 'consumer', 'custom_id', 'c-1');
      await expectDuplicate(store.consumers.create({ id: a.id, username: 'x', custom_id: null, tags: [] }), 'consumer', 'id', a.id);
      const b = await store.consumers.create({ username: 'bob', custom_id: null, tags: [] });
      await expectDuplicate(store.consumers.update(b.id, { username: 'alice' }), 'consumer', 'username', 'alice');
      // Several consumers without username or custom_id are fine (NULLs never clash).
      await store.consumers.create({ username: null, custom_id: 'only-1', tags: [] });
      await store.consumers.create({ username: null, custom_id: 'only-2', tags: [] });
    });
  });

  describe('jwt secrets', () => {
    it('creates, gets by id and key, lists by consumer, deletes', async () => {
      const c = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      const s1 = await store.jwtSecrets.create(jwt(c.id, 'admin-key'));
      const s2 = await store.jwtSecrets.create({
        consumer_id: c.id,
        key: 'rsa-key',
        algorithm: 'RS256',
        rsa_public_key: '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n',
        secret: null,
        tags: ['rsa'],
        created_at: s1.created_at + 1,
      });
      expect(s1).toMatchObject({ consumer_id: c.id, key: 'admin-key', algorithm: 'HS256', secret: 'shh', rsa_public_key: null, source: 'admin' });
      expect(await store.jwtSecrets.get(s2.id)).toEqual(s2);
      expect(await store.jwtSecrets.getByKey('admin-key')).toEqual(s1);
      expect(await store.jwtSecrets.getByKey('missing')).toBeNull();
      expect(await store.jwtSecrets.listByConsumer(c.id)).toEqual([s1, s2]);
      expect(await store.jwtSecrets.delete(s1.id)).toBe(true);
      expect(await store.jwtSecrets.delete(s1.id)).toBe(false);
      expect(await store.jwtSecrets.listByConsumer(c.id)).toEqual([s2]);
    });

    it('refuses a duplicate key and an unknown consumer', async () => {
      const c = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      await store.jwtSecrets.create(jwt(c.id, 'admin-key'));
      await expectDuplicate(store.jwtSecrets.create(jwt(c.id, 'admin-key')), 'jwt_secret', 'key', 'admin-key');
      const err = await store.jwtSecrets.create(jwt('00000000-0000-4000-8000-000000000000', 'k2')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReferenceNotFoundError);
      expect(err).toMatchObject({ entity: 'consumer', value: '00000000-0000-4000-8000-000000000000', status: 404 });
    });
  });

  describe('oauth2 credentials', () => {
    it('creates, gets by id and client_id, lists by consumer, deletes', async () => {
      const c = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      const conf = await store.oauth2Credentials.create(client(c.id, 'client-1'));
      const pub = await store.oauth2Credentials.create({
        ...client(c.id, 'client-2'),
        client_type: 'public',
        client_secret_hash: null,
        created_at: conf.created_at + 1,
      });
      expect(conf).toMatchObject({ client_id: 'client-1', client_type: 'confidential', redirect_uris: ['https://your-app.com/callback', 'https://your-app.com/other'] });
      expect(await store.oauth2Credentials.get(conf.id)).toEqual(conf);
      expect(await store.oauth2Credentials.getByClientId('client-2')).toEqual(pub);
      expect(await store.oauth2Credentials.getByClientId('client-3')).toBeNull();
      expect(await store.oauth2Credentials.listByConsumer(c.id)).toEqual([conf, pub]);
      expect(await store.oauth2Credentials.delete(pub.id)).toBe(true);
      expect(await store.oauth2Credentials.delete(pub.id)).toBe(false);
      expect(await store.oauth2Credentials.getByClientId('client-2')).toBeNull();
    });

    it('refuses a duplicate client_id and an unknown consumer', async () => {
      const c = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
      await store.oauth2Credentials.create(client(c.id, 'client-1'));
      await expectDuplicate(store.oauth2Credentials.create(client(c.id, 'client-1')), 'oauth2_credential', 'client_id', 'client-1');
      await expect(store.oauth2Credentials.create(client('00000000-0000-4000-8000-000000000000', 'c9'))).rejects.toBeInstanceOf(ReferenceNotFoundError);
    });
  });

  it('deleting a consumer deletes its credentials', async () => {
    const c = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
    const other = await store.consumers.create({ username: 'bob', custom_id: null, tags: [] });
    const s = await store.jwtSecrets.create(jwt(c.id, 'k1'));
    const o = await store.oauth2Credentials.create(client(c.id, 'client-1'));
    const kept = await store.jwtSecrets.create(jwt(other.id, 'k2'));
    expect(await store.consumers.delete(c.id)).toBe(true);
    expect(await store.jwtSecrets.get(s.id)).toBeNull();
    expect(await store.jwtSecrets.getByKey('k1')).toBeNull();
    expect(await store.oauth2Credentials.get(o.id)).toBeNull();
    expect(await store.jwtSecrets.get(kept.id)).toEqual(kept);
    // The freed unique values can be used again.
    const c2 = await store.consumers.create({ username: 'alice', custom_id: null, tags: [] });
    await store.jwtSecrets.create(jwt(c2.id, 'k1'));
  });

  describe('workspaces', () => {
    it('upserts the budget override, keeping created_at and source', async () => {
      const w = await store.workspaces.upsert('team-a', { token_budget_day: 50_000 });
      expect(w).toMatchObject({ id: 'team-a', token_budget_day: 50_000, source: 'admin' });
      expect(w.updated_at).toBe(w.created_at);
      await new Promise((r) => setTimeout(r, 5));
      const w2 = await store.workspaces.upsert('team-a', { token_budget_day: null, source: 'config' });
      expect(w2).toMatchObject({ id: 'team-a', token_budget_day: null, source: 'admin', created_at: w.created_at });
      expect(w2.updated_at).toBeGreaterThan(w.updated_at);
      expect(await store.workspaces.get('team-a')).toEqual(w2);
      expect(await store.workspaces.get('nope')).toBeNull();
      const big = await store.workspaces.upsert('big', { token_budget_day: 5_000_000_000 });
      expect((await store.workspaces.get('big'))?.token_budget_day).toBe(5_000_000_000);
      expect((await store.workspaces.list()).map((x) => x.id)).toEqual(['team-a', big.id]);
    });

    it('manages memberships: idempotent add, isMember, list, workspacesOf oldest first, remove', async () => {
      const m1 = await store.workspaces.addMember('ws-b', 'user-1');
      expect(m1).toMatchObject({ workspace_id: 'ws-b', user_id: 'user-1', source: 'admin' });
      expect(await store.workspaces.get('ws-b')).toMatchObject({ token_budget_day: null, source: 'admin' });
      await new Promise((r) => setTimeout(r, 3));
      await store.workspaces.upsert('ws-a', { token_budget_day: 10 });
      await store.workspaces.addMember('ws-a', 'user-1', 'config');
      await store.workspaces.addMember('ws-a', 'user-2');
      expect(await store.workspaces.addMember('ws-b', 'user-1', 'config')).toEqual(m1);
      expect(await store.workspaces.isMember('ws-a', 'user-1')).toBe(true);
      expect(await store.workspaces.isMember('ws-a', 'user-3')).toBe(false);
      expect(await store.workspaces.isMember('ws-zz', 'user-1')).toBe(false);
      expect(await store.workspaces.workspacesOf('user-1')).toEqual(['ws-b', 'ws-a']);
      expect(await store.workspaces.workspacesOf('nobody')).toEqual([]);
      expect((await store.workspaces.listMembers('ws-a')).map((m) => [m.user_id, m.source])).toEqual([
        ['user-1', 'config'],
        ['user-2', 'admin'],
      ]);
      expect(await store.workspaces.removeMember('ws-b', 'user-1')).toBe(true);
      expect(await store.workspaces.removeMember('ws-b', 'user-1')).toBe(false);
      expect(await store.workspaces.workspacesOf('user-1')).toEqual(['ws-a']);
    });

    it('deleting a workspace deletes its memberships', async () => {
      await store.workspaces.addMember('ws-a', 'user-1');
      expect(await store.workspaces.delete('ws-a')).toBe(true);
      expect(await store.workspaces.delete('ws-a')).toBe(false);
      expect(await store.workspaces.isMember('ws-a', 'user-1')).toBe(false);
      expect(await store.workspaces.listMembers('ws-a')).toEqual([]);
      expect(await store.workspaces.workspacesOf('user-1')).toEqual([]);
    });
  });
});
