// The client scenario, through openapi-fetch driven by the types openapi-typescript generates
// from the committed spec (schema.d.ts, written next to this file by clients/run). Type-checked
// with `tsc --strict` and run under Node by clients/scenarios.sh, which sets MEDIALIB_URL,
// MEDIALIB_KEY (an admin key of tenant `default`) and MEDIALIB_FOREIGN_ID (another tenant's
// media id).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Media = components["schemas"]["Media"];

const FOLDER = "typescript";
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...new TextEncoder().encode("medialib ts client")]);
const TEXT = new TextEncoder().encode("hello from the typescript client\n");

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(`scenario failed: ${what}`);
  }
}

function env(name: string): string {
  const value = process.env[name];
  check(value !== undefined, `${name} is set`);
  return value;
}

const client = createClient<paths>({
  baseUrl: env("MEDIALIB_URL"),
  headers: { Authorization: `Bearer ${env("MEDIALIB_KEY")}` },
});
const foreignId = Number(env("MEDIALIB_FOREIGN_ID"));

async function upload(name: string, bytes: Uint8Array<ArrayBuffer>, contentType: string, tags?: string): Promise<Media> {
  const { data, error } = await client.POST("/v1/media", {
    params: { query: { path: `${FOLDER}/${name}`, content_type: contentType, tags } },
    body: new Blob([bytes]),
    bodySerializer: (body) => body,
    headers: { "Content-Type": "application/octet-stream" },
  });
  check(data !== undefined, `upload ${name}: ${JSON.stringify(error)}`);
  check(data.content_type === contentType, `stored type of ${name}: ${data.content_type}`);
  check(data.size_bytes === bytes.length, `size of ${name}`);
  return data;
}

async function usage(): Promise<components["schemas"]["Usage"]> {
  const { data } = await client.GET("/v1/usage");
  check(data !== undefined, "usage");
  return data;
}

const before = await usage();
const photo = await upload("photo.jpg", JPEG, "image/jpeg", "summer,beach");
const note = await upload("note.txt", TEXT, "text/plain");
const counted = await usage();
check(counted.media_count === before.media_count + 2, "usage counts the uploads");
check(counted.bytes_used === before.bytes_used + JPEG.length + TEXT.length, "usage counts their bytes");

// Pages of one item each, newest first, until no cursor is left.
const seen: number[] = [];
let cursor: string | undefined;
do {
  const { data } = await client.GET("/v1/media", { params: { query: { folder: FOLDER, limit: 1, cursor } } });
  check(data !== undefined && data.items.length <= 1, "a page");
  seen.push(...data.items.map((item) => item.id));
  cursor = data.next_cursor;
} while (cursor !== undefined);
check(JSON.stringify(seen) === JSON.stringify([note.id, photo.id]), `listed ${seen}`);

const got = await client.GET("/v1/media/{id}", { params: { path: { id: photo.id } } });
check(got.data !== undefined && got.data.tags.join() === "beach,summer", "get");
const content = await client.GET("/v1/media/{id}/content", {
  params: { path: { id: photo.id } },
  parseAs: "arrayBuffer",
});
check(content.data !== undefined, "download");
check(Buffer.from(content.data).equals(Buffer.from(JPEG)), "downloaded bytes match");

const deleted = await client.DELETE("/v1/media/{id}", { params: { path: { id: photo.id } } });
const receipt = deleted.data;
check(receipt !== undefined, `delete: ${JSON.stringify(deleted.error)}`);
check(receipt.id === photo.id && receipt.deleted, "receipt names the deleted id");
check(receipt.message === "Media deleted successfully", receipt.message);
check(receipt.freed_bytes === JPEG.length, "receipt frees the photo's bytes");
check(receipt.storage === "purged", `storage ${receipt.storage}`);
check(receipt.removed.tag_assignments === 2, "both tag assignments removed");
check(receipt.removed.access_grants === 0 && receipt.removed.derivatives >= 0, "cascades");
check(!receipt.removed.community_copy && receipt.broken_references.length === 0, "nothing else");

const extra = await upload("extra.txt", TEXT, "text/plain");
const bulk = await client.POST("/v1/media/bulk-delete", { body: { ids: [extra.id, photo.id, foreignId] } });
check(bulk.data !== undefined, "bulk delete");
check(bulk.data.requested === 3 && bulk.data.deleted === 1 && bulk.data.failed === 2, "bulk counts");
const [own, missing, foreign] = bulk.data.results;
check(own !== undefined && own.deleted && own.status === 200 && own.storage === "purged", "own id deleted");
check(missing !== undefined && !missing.deleted && missing.status === 404, "missing id");
check(missing.code === "media_not_found", "missing id's code");
check(foreign !== undefined && !foreign.deleted && foreign.code === "media_not_found", "foreign id");
check(foreign.storage === undefined, "no storage for an id not deleted");

const trashed = await client.POST("/v1/media/{id}/trash", { params: { path: { id: note.id } } });
check(trashed.data !== undefined && trashed.data.trashed_at !== undefined, "trashed");
const restored = await client.POST("/v1/media/{id}/restore", { params: { path: { id: note.id } } });
check(restored.data !== undefined && restored.data.trashed_at === undefined, "restored without a body");

const dry = await client.POST("/v1/media/delete-by-filter", { body: { dry_run: true, folder: FOLDER } });
check(dry.data !== undefined && dry.data.dry_run && dry.data.matched === 1, "dry run");
check(dry.data.ids.length === 1 && dry.data.ids[0] === note.id, "dry run ids");
// A dry run forecasts the real run: what it would delete and free.
check(dry.data.deleted === 1 && dry.data.freed_bytes === TEXT.length, "dry run forecast");
const done = await client.POST("/v1/media/delete-by-filter", { body: { dry_run: false, folder: FOLDER } });
check(done.data !== undefined && done.data.deleted === 1 && done.data.freed_bytes === TEXT.length, "delete by filter");

// Webhooks: added with a type filter, its secret rotated, removed (its URL is never called: no
// event of its type happens).
const hook = await client.POST("/v1/webhooks", {
  body: { url: "http://127.0.0.1:9/typescript", event_types: ["media.purged"] },
});
check(hook.data !== undefined && hook.data.secret.startsWith("whsec_"), `webhook: ${JSON.stringify(hook.error)}`);
check(hook.data.event_types.join() === "media.purged" && hook.data.enabled, "webhook fields");
const rotated = await client.POST("/v1/webhooks/{id}/rotate-secret", { params: { path: { id: hook.data.id } } });
check(rotated.data !== undefined && rotated.data.secret !== hook.data.secret, "rotated secret");
const removed = await client.DELETE("/v1/webhooks/{id}", { params: { path: { id: hook.data.id } } });
check(removed.response.status === 204, "webhook removed");

// A delete job: accepted at once, followed until it ends.
const jobFile = await upload("job/one.txt", TEXT, "text/plain");
const started = await client.POST("/v1/jobs/delete-by-filter", { body: { folder: `${FOLDER}/job` } });
check(started.data !== undefined && started.data.kind === "delete_by_filter", `job: ${JSON.stringify(started.error)}`);
let job = started.data;
const deadline = Date.now() + 30_000;
while (job.state === "queued" || job.state === "running") {
  check(Date.now() < deadline, `job still ${job.state}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const polled = await client.GET("/v1/jobs/{id}", { params: { path: { id: job.id } } });
  check(polled.data !== undefined, "job");
  job = polled.data;
}
check(job.state === "succeeded" && job.progress.deleted === 1, `job ended: ${JSON.stringify(job)}`);
check(job.progress.freed_bytes === TEXT.length && job.progress.kept.length === 0, "job receipt");
const jobGone = await client.GET("/v1/media/{id}", { params: { path: { id: jobFile.id } } });
check(jobGone.response.status === 404, "the job deleted the file");

const gone = await client.GET("/v1/media/{id}", { params: { path: { id: note.id } } });
check(gone.data === undefined && gone.error !== undefined, "404");
check(gone.response.status === 404 && gone.error.code === "media_not_found", `404 body: ${JSON.stringify(gone.error)}`);
const after = await usage();
check(after.media_count === before.media_count && after.bytes_used === before.bytes_used, "usage back");
console.log("typescript scenario: ok");
