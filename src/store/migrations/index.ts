import type { Migration } from 'kysely';
import * as core0001 from './0001_core.js';
import * as oauth2Tokens0002 from './0002_oauth2_tokens.js';
import * as oauth2Revocations0003 from './0003_oauth2_revocations.js';

/**
 * Every migration, in order, listed explicitly (no directory scan: works from `dist/`, from
 * tsx and inside bundles). To add one: create `NNNN_what.ts` exporting `up` (and `down`) with
 * portable DDL, then add a line here. Names sort lexically and are recorded in
 * `kysely_migration`; never rename or edit one that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '0001_core': core0001,
  '0002_oauth2_tokens': oauth2Tokens0002,
  '0003_oauth2_revocations': oauth2Revocations0003,
};
