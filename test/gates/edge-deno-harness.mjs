// Runs under Deno, not Node: `deno run --no-config --no-remote --no-npm <this> <requests.json>`.
// Loads the generated edge function as Netlify's Deno-based edge would (a plain ES module
// importing its bundled runtime, with `Netlify.env` holding the site's variables), sends it
// the requests from the JSON file and prints one JSON answer per request. The requests, the
// routing decision and every expectation live in Node (test/gates/edge-deno.test.ts).
const input = JSON.parse(await Deno.readTextFile(Deno.args[0]));
globalThis.Netlify = { env: { toObject: () => ({ ...input.env }) } };
const { default: gate } = await import(new URL(`file://${input.entry}`).href);
const PAGE_BODY = input.pageBody;
const answers = [];
for (const { url, cookie } of input.requests) {
  let calls = 0;
  const context = {
    next: async () => {
      calls += 1;
      return new Response(PAGE_BODY, { status: 200, headers: { 'content-type': 'text/html' } });
    },
  };
  const response = await gate(new Request(url, { headers: cookie ? { cookie } : {} }), context);
  const body = await response.text();
  answers.push({
    status: response.status,
    location: response.headers.get('location'),
    served: calls === 1 && response.status === 200 && body === PAGE_BODY,
    setCookies: response.headers.getSetCookie(),
    cacheControl: response.headers.get('cache-control'),
  });
}
console.log(JSON.stringify({ runtime: `deno ${Deno.version.deno}`, answers }));
