import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends, wipeStore } from '../../test/helpers/stores.js';
import { createStore, DuplicateEntityError } from './index.js';
import { configEntities, configSnapshot } from './configSnapshot.js';
import { hashSecret, verifySecret } from './secretHash.js';
import type { ConsumerEntry, WorkspaceEntry } from '../config/schema.js';
import type { EntitySnapshot, Store } from './types.js';

/** exportEntities / syncEntities (config file sync and config import), on both backends. */

const RSA = '-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----\n';

function consumer(over: Partial<ConsumerEntry> & Pick<ConsumerEntry, 'username'>): ConsumerEntry {
  return { tags: [], jwt_secrets: [], oauth2_credentials: [], ...over };
}

function alice(): ConsumerEntry {
  return consumer({
    username: 'alice',
    jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: RSA, tags: [] }],
    oauth2_credentials: [
      { name: 'My Application', client_id: 'app-1', client_secret: 's3cret', client_type: 'confidential', redirect_uris: ['https://your-app.com/callback'], hash_secret: true, tags: [] },
    ],
  });
}

const workspace = (id: string, members: string[], token_budget_day: number | null = null): WorkspaceEntry => ({ id, members, token_budget_day });

function names(snap: EntitySnapshot): string[] {
  return snap.consumers.map((c) => `${c.username ?? c.custom_id}:${c.source}`).sort();
}

describe.each(storeBackends())('store sync contract ($name)', (backend) => {
  let store: Store;

  beforeAll(async () => {
    store = await createStore(await backend.freshUrl());
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    backend.cleanup();
  });
  beforeEach(() => wipeStore(store));

  it('replace: the config slice equals the snapshot, admin rows survive, ids stay stable', async () => {
    const bob = await store.consumers.create({ username: 'bob', custom_id: null, tags: [] });
    const bobKey = await store.jwtSecrets.create({ consumer_id: bob.id, key: 'bob-key', algorithm: 'HS256', rsa_public_key: null, secret: 'x', tags: [] });
    await store.workspaces.addMember('team', 'admin-added-user');

    const first = await configSnapshot({ consumers: [alice(), consumer({ username: 'carol' })], workspaces: [workspace('team', ['u1', 'u2'], 1000)] });
    await store.syncEntities(first, { source: 'config', mode: 'replace' });
    const after1 = await store.exportEntities();
    expect(names(after1)).toEqual(['alice:config', 'bob:admin', 'carol:config']);
    const a1 = after1.consumers.find((c) => c.username === 'alice');
    expect(a1?.jwt_secrets.map((s) => s.key)).toEqual(['admin-key']);
    expect(a1?.oauth2_credentials[0]).toMatchObject({ client_id: 'app-1', source: 'config' });
    expect(await verifySecret('s3cret', a1?.oauth2_credentials[0].client_secret_hash ?? '')).toBe(true);
    expect(after1.workspaces).toMatchObject([{ id: 'team', token_budget_day: 1000, source: 'config' }]);
    expect([...after1.workspaces[0].members].sort()).toEqual(['admin-added-user', 'u1', 'u2']);

    // Reload with alice removed, u2 dropped, dave added: only config rows change.
    const second = await configSnapshot({ consumers: [consumer({ username: 'carol' }), consumer({ username: 'dave' })], workspaces: [workspace('team', ['u1'], 1000)] });
    await store.syncEntities(second, { source: 'config', mode: 'replace' });
    const after2 = await store.exportEntities();
    expect(names(after2)).toEqual(['bob:admin', 'carol:config', 'dave:config']);
    expect(await store.jwtSecrets.getByKey('admin-key')).toBeNull();
    expect(await store.oauth2Credentials.getByClientId('app-1')).toBeNull();
    expect(await store.jwtSecrets.get(bobKey.id)).toEqual(bobKey);
    expect([...after2.workspaces[0].members].sort()).toEqual(['admin-added-user', 'u1']);
    expect(after2.consumers.find((c) => c.username === 'carol')?.id).toBe(after1.consumers.find((c) => c.username === 'carol')?.id);

    // The same config again changes nothing.
    await store.syncEntities(await configSnapshot({ consumers: [consumer({ username: 'carol' }), consumer({ username: 'dave' })], workspaces: [workspace('team', ['u1'], 1000)] }), {
      source: 'config',
      mode: 'replace',
    });
    expect(await store.exportEntities()).toEqual(after2);

    // An empty config removes every config row and nothing else.
    await store.syncEntities({ consumers: [], workspaces: [] }, { source: 'config', mode: 'replace' });
    const after3 = await store.exportEntities();
    expect(names(after3)).toEqual(['bob:admin']);
    expect(after3.workspaces).toEqual([]);
  });

  it('replace takes over an Admin API row with the same natural key, keeping its id', async () => {
    const admin = await store.consumers.create({ username: 'alice', custom_id: null, tags: ['old'] });
    await store.syncEntities(await configSnapshot({ consumers: [{ ...alice(), tags: ['new'] }], workspaces: [] }), { source: 'config', mode: 'replace' });
    expect(await store.consumers.get('alice')).toMatchObject({ id: admin.id, tags: ['new'], source: 'config', created_at: admin.created_at });
    expect((await store.jwtSecrets.getByKey('admin-key'))?.consumer_id).toBe(admin.id);
  });

  it('a renamed config consumer frees its old natural key in the same sync', async () => {
    const id = '5d0f1b7c-2a43-4b8e-9c1d-7e6f5a4b3c2d';
    await store.syncEntities(await configSnapshot({ consumers: [consumer({ id, username: 'old-name' })], workspaces: [] }), { source: 'config', mode: 'replace' });
    await store.syncEntities(await configSnapshot({ consumers: [consumer({ id, username: 'new-name' }), consumer({ username: 'old-name' })], workspaces: [] }), {
      source: 'config',
      mode: 'replace',
    });
    expect((await store.consumers.get('new-name'))?.id).toBe(id);
    expect((await store.consumers.get('old-name'))?.id).not.toBe(id);
  });

  it('merge: upserts without deleting; existing rows keep their source', async () => {
    await store.syncEntities(await configSnapshot({ consumers: [alice()], workspaces: [workspace('team', ['u1'])] }), { source: 'config', mode: 'replace' });
    const bob = await store.consumers.create({ username: 'bob', custom_id: null, tags: [] });
    const imported = await configSnapshot({
      consumers: [{ ...alice(), tags: ['imported'], jwt_secrets: [] }, consumer({ username: 'erin' })],
      workspaces: [workspace('team', ['u9'], 77)],
    });
    await store.syncEntities(imported, { source: 'admin', mode: 'merge' });
    const snap = await store.exportEntities();
    expect(names(snap)).toEqual(['alice:config', 'bob:admin', 'erin:admin']);
    expect(snap.consumers.find((c) => c.username === 'alice')).toMatchObject({ tags: ['imported'] });
    expect(await store.jwtSecrets.getByKey('admin-key')).not.toBeNull();
    expect(await store.consumers.get(bob.id)).toEqual(bob);
    expect(snap.workspaces[0]).toMatchObject({ id: 'team', token_budget_day: 77, source: 'config' });
    expect([...snap.workspaces[0].members].sort()).toEqual(['u1', 'u9']);
    expect((await store.workspaces.listMembers('team')).find((m) => m.user_id === 'u9')?.source).toBe('admin');
  });

  it('export → config entities → import into an empty store gives the same entities', async () => {
    await store.syncEntities(await configSnapshot({ consumers: [alice(), consumer({ username: 'carol' })], workspaces: [workspace('team', ['u1'], 5)] }), {
      source: 'config',
      mode: 'replace',
    });
    await store.consumers.create({ username: null, custom_id: 'admin-made', tags: ['t'] });
    const exported = await store.exportEntities();
    const entities = configEntities(exported);
    await wipeStore(store);
    const reimport = await configSnapshot({
      consumers: entities.consumers.map((c) => ({ ...consumer({ username: c.username }), ...c }) as ConsumerEntry),
      workspaces: entities.workspaces.map((w) => ({ members: [], token_budget_day: null, ...w })),
    });
    await store.syncEntities(reimport, { source: 'admin', mode: 'merge' });
    // Config entries carry no times or source; order by id since import stamps one created_at.
    const strip = (s: EntitySnapshot) =>
      JSON.stringify({ ...s, consumers: [...s.consumers].sort((a, b) => a.id.localeCompare(b.id)) }, (k: string, v: unknown) =>
        k === 'created_at' || k === 'updated_at' || k === 'source' ? undefined : v,
      );
    expect(strip(await store.exportEntities())).toEqual(strip(exported));
  });

  it('a clash fails the whole sync with DuplicateEntityError and writes nothing', async () => {
    await store.consumers.create({ username: 'bob', custom_id: null, tags: [] });
    await store.consumers.create({ username: null, custom_id: 'taken', tags: [] });
    const before = await store.exportEntities();
    // bob is adopted by username; its new custom_id clashes with another row.
    const snap = await configSnapshot({ consumers: [consumer({ username: 'zed' }), consumer({ username: 'bob', custom_id: 'taken' })], workspaces: [] });
    const err = await store.syncEntities(snap, { source: 'config', mode: 'replace' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateEntityError);
    expect(err).toMatchObject({ entity: 'consumer', field: 'custom_id', value: 'taken' });
    expect(await store.exportEntities()).toEqual(before);
  });

  it('keeps the stored client secret hash while the secret is unchanged (no rewrite on restart)', async () => {
    const plain = `secret-${backend.name}-${Date.now()}`;
    const entry = (secret: object): ConsumerEntry =>
      consumer({
        username: 'alice',
        oauth2_credentials: [{ name: 'app', client_id: `reuse-${backend.name}`, client_type: 'confidential', redirect_uris: ['https://x.test/cb'], hash_secret: true, tags: [], ...secret }],
      });
    // As another process (or a previous run) stored it: a hash this process never made.
    const stored = await hashSecret(plain);
    await store.syncEntities(await configSnapshot({ consumers: [entry({ client_secret_hash: stored })], workspaces: [] }), { source: 'config', mode: 'replace' });
    const again = await configSnapshot({ consumers: [entry({ client_secret: plain })], workspaces: [] }, { store });
    expect(again.consumers[0].oauth2_credentials[0].client_secret_hash).toBe(stored);
    // A rotated secret gets a new hash.
    const rotated = await configSnapshot({ consumers: [entry({ client_secret: `${plain}-rotated` })], workspaces: [] }, { store });
    const hash = rotated.consumers[0].oauth2_credentials[0].client_secret_hash ?? '';
    expect(hash).not.toBe(stored);
    expect(await verifySecret(`${plain}-rotated`, hash)).toBe(true);
  });
});
