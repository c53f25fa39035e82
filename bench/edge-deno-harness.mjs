// Runs under Deno, not Node: `deno run --no-config --no-remote --no-npm <this> <input.json>`
// (bench/edge-deno.ts writes the input and reads the one JSON line this prints). Measures, in
// one process and in alternating rounds, the edge gate letting a signed-in visitor through and
// a bare jose `jwtVerify` of the same token, so both see the same JIT, heap and machine state.
import { opsPerSecond } from './stats.ts';

const input = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const { createEdgeGate } = await import(new URL(`file://${input.runtime}`).href);
const { jwtVerify } = await import(new URL(`file://${input.jose}`).href);

const gate = createEdgeGate({ env: () => ({ ...input.env }), table: input.table });
const page = new Response(input.pageBody, { status: 200, headers: { 'content-type': 'text/html' } });
let nextCalls = 0;
const context = { next: async () => (nextCalls += 1, page) };
const request = new Request(input.url, { headers: { cookie: `nf_jwt=${input.token}` } });
// The floor gets the gate's advantage too: a CryptoKey imported once (jose re-imports raw bytes per call).
const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(input.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
const verifyOptions = { algorithms: ['HS256'] };

// A check that cannot fail proves nothing: the same path without the cookie must be bounced,
// and with it the gate must answer with next()'s page, called once.
const anonymous = await gate(new Request(input.url), context);
if (anonymous.status !== 302 || nextCalls !== 0) throw new Error(`anonymous visitor not bounced: ${anonymous.status}, next() called ${nextCalls}×`);
const signedIn = await gate(request, context);
if (signedIn !== page || nextCalls !== 1) throw new Error(`signed-in visitor not let through: ${signedIn.status}, next() called ${nextCalls}×`);
if ((await jwtVerify(input.token, key, verifyOptions)).payload.sub !== input.subject) throw new Error('jose returned another subject');

const candidates = {
  gate: async () => {
    if ((await gate(request, context)) !== page) throw new Error('the gate stopped letting the visitor through');
  },
  jose: async () => {
    if ((await jwtVerify(input.token, key, verifyOptions)).payload.sub !== input.subject) throw new Error('jose stopped accepting the token');
  },
};

for (const run of Object.values(candidates)) await opsPerSecond(run, input.warmupMs);
const rates = { gate: [], jose: [] };
for (let round = 0; round < input.rounds; round++) {
  const order = round % 2 ? ['jose', 'gate'] : ['gate', 'jose'];
  for (const name of order) rates[name].push(await opsPerSecond(candidates[name], input.roundMs));
}
console.log(JSON.stringify({ deno: Deno.version.deno, v8: Deno.version.v8, rates }));
