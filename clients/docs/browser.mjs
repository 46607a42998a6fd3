// The docs UI in a real browser (Chromium, driven by puppeteer-core), as a person would use it:
// the page at /docs renders with every request answered by the server itself (nothing is
// fetched from anywhere else), "Authorize" takes an API key, and "Try it out" on
// DELETE /v1/media/{id} deletes an uploaded file and shows its receipt. Keeps a screenshot.
//
// Environment: MEDIALIB_URL, MEDIALIB_KEY (set by clients/scenarios.sh), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT (where to write the PNG).
import puppeteer from "puppeteer-core";

const url = process.env.MEDIALIB_URL;
const key = process.env.MEDIALIB_KEY;
const screenshot = process.env.SCREENSHOT ?? "docs.png";

function check(condition, what) {
  if (!condition) {
    throw new Error(`docs browser test failed: ${what}`);
  }
}

// A file to delete through the UI.
const uploaded = await fetch(`${url}/v1/media?path=docs/browser.txt`, {
  method: "POST",
  headers: { Authorization: `Bearer ${key}`, "Content-Type": "text/plain" },
  body: "deleted from the docs page",
});
check(uploaded.status === 201, `upload answered ${uploaded.status}`);
const { id } = await uploaded.json();

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1600 });
  // Offline: any request to another origin is refused and counted.
  const origin = new URL(url).origin;
  const elsewhere = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    if (request.url().startsWith("data:") || new URL(request.url()).origin === origin) {
      request.continue();
    } else {
      elsewhere.push(request.url());
      request.abort();
    }
  });
  await page.goto(`${url}/docs`, { waitUntil: "networkidle0" });
  const operation = "#operations-Media-delete_media";
  await page.waitForSelector(operation, { timeout: 15000 });

  await page.click(".auth-wrapper .authorize");
  await page.waitForSelector(".modal-ux input");
  await page.type(".modal-ux input", key);
  await page.click(".modal-ux .auth-btn-wrapper .authorize");
  await page.click(".modal-ux .btn-done");

  await page.click(`${operation} .opblock-summary`);
  await page.waitForSelector(`${operation} .try-out__btn`);
  await page.click(`${operation} .try-out__btn`);
  await page.type(`${operation} tr[data-param-name="id"] input`, String(id));
  await page.click(`${operation} .execute`);
  const status = `${operation} .live-responses-table .response .response-col_status`;
  await page.waitForSelector(status, { timeout: 15000 });
  const answered = await page.$eval(status, (cell) => cell.textContent.trim());
  check(answered === "200", `DELETE answered ${answered}`);
  const body = await page.$eval(`${operation} .live-responses-table .response-col_description pre`, (pre) =>
    pre.textContent,
  );
  const receipt = JSON.parse(body);
  check(receipt.id === id && receipt.deleted === true && receipt.storage === "purged", `receipt ${body}`);
  const shown = await page.$(operation);
  check(shown !== null, "the operation is on the page");
  await shown.screenshot({ path: screenshot });
  check(elsewhere.length === 0, `requests to other origins: ${elsewhere.join(", ")}`);
} finally {
  await browser.close();
}
const gone = await fetch(`${url}/v1/media/${id}`, { headers: { Authorization: `Bearer ${key}` } });
check(gone.status === 404, "the file deleted from the docs page is gone");
console.log(`docs browser test: ok (screenshot ${screenshot})`);
