// Stand-ins for services outside the project: Vectorize and Workers AI, with the same
// method names and shapes as the real bindings. Deterministic; faults can be injected.
import { WorkerEntrypoint } from "cloudflare:workers";

const DIMS = 768;
const namespaces = new Map(); // namespace -> Map(id -> {id, values, metadata})
const failedOnce = new Set();
const aiFailures = new Map(); // text -> calls failed so far

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fault injection for Workers AI: a text holding "ai-fail-N" fails its first N embedding
// calls; a text holding "ai-slow" is answered after 1.2 s.
async function embeddingFaults(texts) {
  for (const t of texts) {
    const m = String(t).match(/ai-fail-(\d+)/);
    if (m) {
      const seen = aiFailures.get(t) || 0;
      if (seen < Number(m[1])) {
        aiFailures.set(t, seen + 1);
        throw new Error("injected Workers AI failure");
      }
    }
  }
  if (texts.some((t) => String(t).includes("ai-slow"))) await sleep(1200);
}

// Fault injection for Vectorize: owners starting with "slow-" (and, once they have written,
// their namespaces) wait 0.8 s per call.
const slowNamespaces = new Set();
async function vectorizeDelay(owner, namespace) {
  if (String(owner || "").startsWith("slow-")) slowNamespaces.add(namespace || "");
  if (slowNamespaces.has(namespace || "")) await sleep(800);
}
const calls = { upsert: 0, query: 0, run: 0 };

// Fault injection for Vectorize queries: once an owner starting with "noquery-" has written,
// every query and lookup of its namespace fails (writes still work).
const brokenQueries = new Set();
function queryFaults(owner, namespace) {
  if (String(owner || "").startsWith("noquery-")) brokenQueries.add(namespace || "");
  return brokenQueries.has(namespace || "");
}

function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// A small lexical embedding (a stand-in for bge-base-en-v1.5): 768 dims, normalised.
function embed(text) {
  const v = new Array(DIMS).fill(0);
  const words = String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  for (const w of words) {
    const h = hash32(w);
    v[h % DIMS] += h & 0x80000000 ? -1 : 1;
  }
  const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => x / n);
}

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return na && nb ? d / Math.sqrt(na * nb) : 0;
}

export class Vectorize extends WorkerEntrypoint {
  async describe() {
    let count = 0;
    for (const ns of namespaces.values()) count += ns.size;
    return { dimensions: DIMS, metric: "cosine", vectorCount: count };
  }
  async upsert(vectors) {
    calls.upsert++;
    const first = vectors[0] || {};
    await vectorizeDelay(first.metadata && first.metadata.owner, first.namespace);
    queryFaults(first.metadata && first.metadata.owner, first.namespace);
    if (!Array.isArray(vectors) || vectors.length > 1000) throw new Error("upsert takes 1..1000 vectors");
    for (const v of vectors) {
      if (typeof v.id !== "string" || new TextEncoder().encode(v.id).length > 64) throw new Error("VECTOR_ID_TOO_LONG");
      if (!Array.isArray(v.values) || v.values.length !== DIMS) throw new Error(`expected ${DIMS} dimensions`);
      // Fault injection: the first write of a vector whose owner starts with "flaky-" fails.
      const owner = String((v.metadata && v.metadata.owner) || "");
      if (owner.startsWith("flaky-") && !failedOnce.has(v.id)) {
        failedOnce.add(v.id);
        throw new Error("injected Vectorize failure");
      }
    }
    for (const v of vectors) {
      const ns = v.namespace || "";
      if (!namespaces.has(ns)) namespaces.set(ns, new Map());
      namespaces.get(ns).set(v.id, { id: v.id, values: v.values, metadata: v.metadata || {}, namespace: ns });
    }
    return { mutationId: `m-${Date.now()}`, count: vectors.length };
  }
  async query(vector, options = {}) {
    calls.query++;
    await vectorizeDelay("", options.namespace);
    if (queryFaults("", options.namespace)) throw new Error("injected Vectorize query failure");
    const topK = options.topK ?? 5;
    if (topK > 100) throw new Error("topK must be <= 100");
    const ns = namespaces.get(options.namespace || "") || new Map();
    const matches = [...ns.values()]
      .map((v) => ({ id: v.id, score: cosine(vector, v.values) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
    return { matches, count: matches.length };
  }
  async getByIds(ids) {
    const out = [];
    for (const ns of namespaces.values()) for (const id of ids) if (ns.has(id)) out.push(ns.get(id));
    return out;
  }
  async deleteByIds(ids) {
    // Fault injection: the first removal of a vector whose owner starts with "stuck-" fails.
    for (const ns of namespaces.values()) {
      for (const id of ids) {
        const v = ns.get(id);
        if (v && String(v.metadata.owner || "").startsWith("stuck-") && !failedOnce.has(`del:${id}`)) {
          failedOnce.add(`del:${id}`);
          throw new Error("injected Vectorize delete failure");
        }
      }
    }
    for (const ns of namespaces.values()) for (const id of ids) ns.delete(id);
    return { mutationId: `d-${Date.now()}`, count: ids.length };
  }
}

// A 1x1 PNG, the stand-in's every drawing.
const PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

export class Ai extends WorkerEntrypoint {
  async run(model, inputs = {}) {
    calls.run++;
    if (/bge|embedding/.test(model)) {
      const texts = Array.isArray(inputs.text) ? inputs.text : [inputs.text];
      if (texts.length > 100) throw new Error("at most 100 texts");
      await embeddingFaults(texts);
      return { shape: [texts.length, DIMS], data: texts.map(embed) };
    }
    if (/flux|diffusion|image/.test(model)) {
      if (String(inputs.prompt || "").includes("fail")) throw new Error("injected image failure");
      return { image: PNG_B64 };
    }
    const messages = inputs.messages || [{ role: "user", content: inputs.prompt || "" }];
    const last = [...messages].reverse().find((m) => m.role === "user");
    if (String(last ? last.content : "").includes("ai-down")) throw new Error("injected Workers AI chat failure");
    const asked = String(last ? last.content : "");
    // "show max_tokens" makes the answer report the limit it was given (always passed).
    const reply = asked.includes("show max_tokens") ? `max_tokens=${inputs.max_tokens}` : `stand-in reply to: ${asked.slice(0, 200)}`;
    // "use-tool" with tools given: a call of the first tool, in Workers AI's own shape.
    const tools = Array.isArray(inputs.tools) ? inputs.tools : [];
    if (asked.includes("use-tool") && tools.length) {
      const name = (tools[0].function || tools[0]).name;
      const calls = [{ name, arguments: { city: "Oslo" } }];
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      if (inputs.stream) {
        const enc = new TextEncoder();
        return new ReadableStream({
          start(controller) {
            controller.enqueue(enc.encode(`data: ${JSON.stringify({ response: "", tool_calls: calls })}\n\n`));
            controller.enqueue(enc.encode(`data: ${JSON.stringify({ response: "", usage })}\n\n`));
            controller.enqueue(enc.encode("data: [DONE]\n\n"));
            controller.close();
          },
        });
      }
      return { response: null, tool_calls: calls, usage };
    }
    if (inputs.stream) {
      const enc = new TextEncoder();
      const words = reply.split(" ");
      return new ReadableStream({
        start(controller) {
          words.forEach((w, i) => controller.enqueue(enc.encode(`data: ${JSON.stringify({ response: (i ? " " : "") + w })}\n\n`)));
          controller.enqueue(enc.encode(`data: ${JSON.stringify({ response: "", usage: { prompt_tokens: 10, completion_tokens: words.length, total_tokens: 10 + words.length } })}\n\n`));
          controller.enqueue(enc.encode("data: [DONE]\n\n"));
          controller.close();
        },
      });
    }
    return { response: reply, usage: { prompt_tokens: 10, completion_tokens: reply.split(" ").length, total_tokens: 10 + reply.split(" ").length }, max_tokens_seen: inputs.max_tokens ?? null };
  }
}

export default {
  async fetch() {
    return Response.json({ standins: true, calls });
  },
};
