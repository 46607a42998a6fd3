// The JavaScript examples of the media gallery's delete documentation, run against medialib's
// `gallery` profile. Only the base URL and the credentials are adapted: the documentation's
// same-origin session cookie (`credentials: 'include'`) becomes a bearer API key, and its
// relative URLs get the server's base.
//
// Usage: BASE=http://127.0.0.1:PORT KEY=mlk_… SINGLE=<id> BULK=<id>,<id>,… node gallery.mjs
// Prints one JSON line with what each example reported.

const BASE = process.env.BASE;
const credentials = { headers: { Authorization: `Bearer ${process.env.KEY}` } };
const logs = [];
console.log = (...args) => logs.push(args.join(' '));
console.error = (...args) => logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));

// --- JavaScript (Fetch API) -------------------------------------------------------------
const mediaId = Number(process.env.SINGLE);

const response = await fetch(`${BASE}/api/user/media/${mediaId}`, {
  method: 'DELETE',
  ...credentials
});

let single;
if (response.ok) {
  const result = await response.json();
  console.log(result.message); // "Media deleted successfully"
  single = result.message;
} else {
  const error = await response.json();
  console.error('Delete failed:', error.message);
  single = `failed: ${error.message}`;
}

// --- Bulk Delete Example ------------------------------------------------------------------
async function bulkDeleteMedia(mediaIds) {
  const results = {
    successful: [],
    failed: []
  };

  for (const id of mediaIds) {
    try {
      const response = await fetch(`${BASE}/api/user/media/${id}`, {
        method: 'DELETE',
        ...credentials
      });

      if (response.ok) {
        results.successful.push(id);
      } else {
        const error = await response.json();
        results.failed.push({ id, error: error.message });
      }
    } catch (error) {
      results.failed.push({ id, error: error.message });
    }
  }

  console.log(`Deleted ${results.successful.length} items`);
  if (results.failed.length > 0) {
    console.error(`Failed to delete ${results.failed.length} items:`, results.failed);
  }

  return results;
}

// Usage
const idsToDelete = process.env.BULK.split(',').map(Number);
const results = await bulkDeleteMedia(idsToDelete);

process.stdout.write(JSON.stringify({ single, bulk: results, logs }) + '\n');
