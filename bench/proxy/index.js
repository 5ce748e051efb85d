// The gateway's floor for bench/: the most trivial Worker that forwards a request to the
// upstream and streams its answer back. What memgate adds beyond this is its own cost.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname, {
      method: request.method,
      headers: { "content-type": "application/json" },
      body: request.method === "GET" ? undefined : await request.arrayBuffer(),
    });
  },
};
