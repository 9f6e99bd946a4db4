import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isInfrastructureError } from '../../src/lib/errors.js';

const ferret = (errmsg: string) =>
  new MongoServerError({ ok: 0, errmsg, code: 1, codeName: 'InternalError' });

describe('which server errors mean "try again shortly" (503)', () => {
  it('when FerretDB just restarted and its registry meets an existing metadata table, then it is transient', () => {
    // seen in a loaded test run, on the first write after a FerretDB restart
    const err = ferret(
      '[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:123 postgresql.(*collection).InsertAll] [registry.go:487 metadata.(*Registry).collectionCreate] [registry.go:338 metadata.(*Registry).databaseGetOrCreate] ERROR: relation "_ferretdb_database_metadata" already exists (SQLSTATE 42P07)',
    );
    expect(isInfrastructureError(err)).toBe(true);
  });

  it('when PostgreSQL behind FerretDB is away, then it is transient; other internal errors are not', () => {
    expect(isInfrastructureError(ferret('failed to connect to `host=127.0.0.1`: dial error'))).toBe(true);
    expect(isInfrastructureError(ferret('ERROR: relation "leads_x" already exists (SQLSTATE 42P07)'))).toBe(
      false,
    );
    expect(isInfrastructureError(ferret('ERROR: division by zero (SQLSTATE 22012)'))).toBe(false);
    expect(isInfrastructureError(new Error('Command timed out'))).toBe(true);
    expect(isInfrastructureError(new Error('validation failed'))).toBe(false);
  });
});
