// The JavaScript examples of Swiftia's "Delete File" documentation, run against medialib's
// `swiftia` profile. Only the base URL is adapted (`https://api.swiftia.io` becomes the
// server's); the examples already authenticate with a bearer API key.
//
// Usage: BASE=http://127.0.0.1:PORT KEY=mlk_… SINGLE=<id> MANY=<id>,<id> TAG=<tag> node swiftia.mjs
// Prints one JSON line with what each example returned.

const BASE = process.env.BASE;
const logs = [];
console.log = (...args) => logs.push(args.join(' '));
console.error = (...args) => logs.push(args.join(' '));

// --- Delete a Single File ---------------------------------------------------------------
async function deleteFile(apiKey, fileId) {
  const response = await fetch(
    `${BASE}/api/uploads/files/${fileId}`,
    {
      method: 'DELETE',
      headers: {
        'Authorization': `Bearer ${apiKey}`
      }
    }
  );

  const result = await response.json();
  
  if (result.deleted) {
    console.log(`File ${fileId} deleted successfully`);
    return true;
  } else {
    console.error(`Failed to delete file: ${result.error}`);
    return false;
  }
}

// --- Delete Multiple Files --------------------------------------------------------------
async function deleteMultipleFiles(apiKey, fileIds) {
  const results = await Promise.all(
    fileIds.map(fileId => deleteFile(apiKey, fileId))
  );
  
  const successCount = results.filter(r => r === true).length;
  console.log(`Deleted ${successCount} out of ${fileIds.length} files`);
  
  return results;
}

// --- Delete Files by Tag ----------------------------------------------------------------
async function deleteFilesByTag(apiKey, tag) {
  // First, get all files with the tag
  const response = await fetch(
    `${BASE}/api/uploads/files?tags=${tag}`,
    {
      headers: {
        'Authorization': `Bearer ${apiKey}`
      }
    }
  );

  const data = await response.json();
  const fileIds = data.files.map(file => file.id);
  
  // Then delete all files with that tag
  return await deleteMultipleFiles(apiKey, fileIds);
}

// --- Clean Up Old Files -----------------------------------------------------------------
async function cleanupOldFiles(apiKey, daysOld = 30) {
  const cutoffDate = new Date();
  cutoffDate.setDate(cutoffDate.getDate() - daysOld);
  
  // Get all files
  const response = await fetch(
    `${BASE}/api/uploads/files?limit=100`,
    {
      headers: {
        'Authorization': `Bearer ${apiKey}`
      }
    }
  );

  const data = await response.json();
  
  // Filter files older than cutoff date
  const oldFiles = data.files.filter(file => {
    const fileDate = new Date(file.createdAt);
    return fileDate < cutoffDate;
  });
  
  // Delete old files
  const fileIds = oldFiles.map(file => file.id);
  return await deleteMultipleFiles(apiKey, fileIds);
}

const apiKey = process.env.KEY;
const single = await deleteFile(apiKey, process.env.SINGLE);
const singleAgain = await deleteFile(apiKey, process.env.SINGLE);
const many = await deleteMultipleFiles(apiKey, process.env.MANY.split(','));
const byTag = await deleteFilesByTag(apiKey, process.env.TAG);
// Everything left was uploaded just now: nothing is 30 days old...
const notOld = await cleanupOldFiles(apiKey);
// ...but everything is older than tomorrow.
const old = await cleanupOldFiles(apiKey, -1);

process.stdout.write(JSON.stringify({ single, singleAgain, many, byTag, notOld, old, logs }) + '\n');
