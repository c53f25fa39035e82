import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionCallScript, functionCallStatement, quoteLiteral } from '../../src/store/sql-call.js';
import { Json } from '../../src/store/sql-store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

// Strings chosen to break out of a literal if quoting were wrong.
const HOSTILE = [
  "'", "''", "\\", "\\'", "'\\", "\\\\'", "a'); drop table rolegate.users; --", "x' or '1'='1",
  "E'\\x27'", '$$', '$a$ $a$', '"', '\\"', ';', '--', '/*', '*/', '\n\r\t', 'é ☃ 𝄞', '\u2028', '%', '\\0',
];

describe('quoteLiteral on real PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  for (const conforming of ['on', 'off']) {
    it(`reads back every hostile string unchanged with standard_conforming_strings ${conforming}`, async () => {
      await client.query(`set standard_conforming_strings = ${conforming}`);
      for (const value of HOSTILE) {
        const results = (await client.query(`select ${quoteLiteral(value)}::text as v; select 1 as after`)) as unknown as pg.QueryResult[];
        expect(results.map((r) => r.rows[0])).toEqual([{ v: value }, { after: 1 }]);
      }
      await client.query('reset standard_conforming_strings');
    });
  }

  it('passes numbers, booleans and null as a bound parameter would', async () => {
    const row = (await client.query(`select ${quoteLiteral(42)}::int as n, ${quoteLiteral(-1.5)}::float8 as f, ${quoteLiteral(true)}::boolean as b, ${quoteLiteral(null)}::text as z`)).rows[0];
    expect(row).toEqual({ n: 42, f: -1.5, b: true, z: null });
  });
});

describe('quoteLiteral', () => {
  it('refuses U+0000 with the error PostgreSQL gives a bound parameter, so no script is ever cut short', () => {
    expect(() => quoteLiteral('a\0b')).toThrow(expect.objectContaining({ code: '22021' }));
  });

  it('refuses numbers that have no literal', () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY]) expect(() => quoteLiteral(n)).toThrow(TypeError);
  });
});

describe('functionCallScript', () => {
  it('sets the timeout for its own transaction and calls the function with quoted named arguments', () => {
    expect(functionCallScript('find_user', { p_email: "o'neil@example.com", p_roles: ['a', 'b c'], p_data: new Json({ k: "'" }), p_skip: undefined }, 5000))
      .toBe(`set local statement_timeout = 5000; select rolegate.find_user(p_email => 'o''neil@example.com', p_roles => '{"a","b c"}', p_data => '{"k":"''"}'::jsonb) as result`);
  });

  it('spells a value with a backslash in the E form, every backslash doubled', () => {
    expect(functionCallScript('f', { p_a: 'a\\b', p_roles: ['x"y'] }, 1)).toBe(String.raw`set local statement_timeout = 1; select rolegate.f(p_a =>  E'a\\b', p_roles =>  E'{"x\\"y"}') as result`);
  });

  it('writes no name that is not an identifier and no timeout that is not a whole number of milliseconds', () => {
    expect(() => functionCallScript('x; drop', {}, 1)).toThrow(TypeError);
    expect(() => functionCallScript('f', { 'p; drop': 'v' }, 1)).toThrow(TypeError);
    for (const ms of [-1, 1.5, Number.NaN]) expect(() => functionCallScript('f', {}, ms)).toThrow(TypeError);
  });

  it('names the same arguments as the bound statement, in the same order', () => {
    const args = { p_a: 'x', p_b: null, p_c: 3 };
    expect(functionCallStatement('f', args)).toEqual({ text: 'select rolegate.f(p_a => $1, p_b => $2, p_c => $3) as result', values: ['x', null, 3] });
    expect(functionCallScript('f', args, 10)).toBe("set local statement_timeout = 10; select rolegate.f(p_a => 'x', p_b => null, p_c => '3') as result");
  });
});
