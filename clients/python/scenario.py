"""The client scenario, through the generated Python client (openapi-python-client).

Run by clients/run-scenarios against a real server: MEDIALIB_URL, MEDIALIB_KEY (an admin key of
tenant `default`) and MEDIALIB_FOREIGN_ID (a media id of another tenant) come from the
environment. Every call goes through the generated functions and models; a wrong type or a
missing field fails here.
"""

import io
import os
import sys
import time

from medialib_client import AuthenticatedClient
from medialib_client.api.activity import get_usage
from medialib_client.api.jobs import get_job, start_delete_job
from medialib_client.api.lifecycle import delete_media_by_filter, restore_media, trash_media
from medialib_client.api.media import (
    bulk_delete_media,
    delete_media,
    download_media,
    get_media,
    list_media,
    upload_media,
)
from medialib_client.api.webhooks import create_webhook, delete_webhook, rotate_webhook_secret
from medialib_client.models import (
    BulkDeleteRequest,
    CreateWebhookRequest,
    DeleteByFilterRequest,
    DeleteJobRequest,
    DeleteReceipt,
    ErrorBody,
    EventType,
    Job,
    JobKind,
    JobState,
    Media,
    MediaPage,
    StorageStatus,
    Webhook,
)
from medialib_client.types import UNSET, File

FOLDER = "python"
JPEG = b"\xff\xd8\xff\xe0" + b"medialib python client" * 8
TEXT = b"hello from the python client\n"


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"scenario failed: {what}")


def upload(client: AuthenticatedClient, name: str, body: bytes, content_type: str, tags: str) -> Media:
    media = upload_media.sync(
        client=client,
        body=File(payload=io.BytesIO(body)),
        path=f"{FOLDER}/{name}",
        tags=tags,
        content_type=content_type,
    )
    check(isinstance(media, Media), f"upload {name}: {media!r}")
    check(media.content_type == content_type, f"stored type of {name}: {media.content_type}")
    check(media.size_bytes == len(body), f"size of {name}")
    return media


def main() -> None:
    client = AuthenticatedClient(base_url=os.environ["MEDIALIB_URL"], token=os.environ["MEDIALIB_KEY"])
    foreign_id = int(os.environ["MEDIALIB_FOREIGN_ID"])

    before = get_usage.sync(client=client)
    photo = upload(client, "photo.jpg", JPEG, "image/jpeg", "summer,beach")
    note = upload(client, "note.txt", TEXT, "text/plain", "")
    usage = get_usage.sync(client=client)
    check(usage.media_count == before.media_count + 2, "usage counts the uploads")
    check(usage.bytes_used == before.bytes_used + len(JPEG) + len(TEXT), "usage counts their bytes")

    # Pages of one item each, newest first, until no cursor is left.
    seen: list[int] = []
    cursor = UNSET
    while True:
        page = list_media.sync(client=client, folder=FOLDER, limit=1, cursor=cursor)
        check(isinstance(page, MediaPage) and len(page.items) <= 1, f"page: {page!r}")
        seen += [item.id for item in page.items]
        if isinstance(page.next_cursor, str):
            cursor = page.next_cursor
        else:
            break
    check(seen == [note.id, photo.id], f"listed {seen}")

    got = get_media.sync(photo.id, client=client)
    check(isinstance(got, Media) and got.tags == ["beach", "summer"], f"get: {got!r}")
    content = download_media.sync(photo.id, client=client)
    check(content.payload.read() == JPEG, "downloaded bytes match")

    receipt = delete_media.sync(photo.id, client=client)
    check(isinstance(receipt, DeleteReceipt), f"delete: {receipt!r}")
    check(receipt.id == photo.id and receipt.deleted, "receipt names the deleted id")
    check(receipt.message == "Media deleted successfully", receipt.message)
    check(receipt.freed_bytes == len(JPEG), "receipt frees the photo's bytes")
    check(receipt.storage == StorageStatus.PURGED, f"storage {receipt.storage}")
    check(receipt.removed.tag_assignments == 2, "both tag assignments removed")
    check(receipt.removed.access_grants == 0 and receipt.removed.derivatives >= 0, "cascades")
    check(not receipt.removed.community_copy and receipt.broken_references == [], "nothing else")

    extra = upload(client, "extra.txt", TEXT, "text/plain", "")
    bulk = bulk_delete_media.sync(client=client, body=BulkDeleteRequest(ids=[extra.id, photo.id, foreign_id]))
    check(bulk.requested == 3 and bulk.deleted == 1 and bulk.failed == 2, f"bulk: {bulk!r}")
    own, missing, foreign = bulk.results
    check(own.deleted and own.status == 200 and own.storage == StorageStatus.PURGED, "own id deleted")
    check(not missing.deleted and missing.status == 404 and missing.code == "media_not_found", "missing id")
    check(not foreign.deleted and foreign.status == 404 and foreign.code == "media_not_found", "foreign id")
    check(isinstance(foreign.storage, type(UNSET)), "no storage for an id not deleted")

    trashed = trash_media.sync(note.id, client=client)
    check(isinstance(trashed, Media) and trashed.trashed_at is not UNSET, "trashed")
    restored = restore_media.sync(note.id, client=client)
    check(isinstance(restored, Media) and restored.trashed_at is UNSET, "restored without a body")

    dry = delete_media_by_filter.sync(client=client, body=DeleteByFilterRequest(dry_run=True, folder=FOLDER))
    # A dry run forecasts the real run: what it would delete and free.
    check(dry.dry_run and dry.matched == 1 and dry.ids == [note.id] and dry.deleted == 1
          and dry.freed_bytes == len(TEXT), f"dry run: {dry!r}")
    done = delete_media_by_filter.sync(client=client, body=DeleteByFilterRequest(dry_run=False, folder=FOLDER))
    check(not done.dry_run and done.deleted == 1 and done.freed_bytes == len(TEXT), f"delete by filter: {done!r}")

    # Webhooks: added with a type filter, its secret rotated, removed (nothing is sent: the URL
    # is never called while no event of its type happens).
    hook = create_webhook.sync(client=client, body=CreateWebhookRequest(
        url="http://127.0.0.1:9/python", event_types=[EventType.MEDIA_PURGED]))
    check(isinstance(hook, Webhook) and hook.secret.startswith("whsec_"), f"webhook: {hook!r}")
    check(hook.event_types == [EventType.MEDIA_PURGED] and hook.enabled, "webhook fields")
    rotated = rotate_webhook_secret.sync(hook.id, client=client)
    check(isinstance(rotated, Webhook) and rotated.secret != hook.secret, "rotated secret")
    check(delete_webhook.sync_detailed(hook.id, client=client).status_code == 204, "webhook removed")

    # A delete job: accepted at once, followed until it ends.
    job_file = upload(client, "job/one.txt", TEXT, "text/plain", "")
    job = start_delete_job.sync(client=client, body=DeleteJobRequest(folder=f"{FOLDER}/job"))
    check(isinstance(job, Job) and job.kind == JobKind.DELETE_BY_FILTER, f"job: {job!r}")
    deadline = time.monotonic() + 30
    while job.state in (JobState.QUEUED, JobState.RUNNING):
        check(time.monotonic() < deadline, f"job still {job.state}")
        time.sleep(0.2)
        job = get_job.sync(job.id, client=client)
        check(isinstance(job, Job), f"job: {job!r}")
    check(job.state == JobState.SUCCEEDED and job.progress.deleted == 1, f"job ended: {job!r}")
    check(job.progress.freed_bytes == len(TEXT) and job.progress.kept == [], "job receipt")
    check(isinstance(get_media.sync(job_file.id, client=client), ErrorBody), "job deleted the file")

    gone = get_media.sync(note.id, client=client)
    check(isinstance(gone, ErrorBody) and gone.code == "media_not_found", f"404 body: {gone!r}")
    after = get_usage.sync(client=client)
    check((after.media_count, after.bytes_used) == (before.media_count, before.bytes_used), "usage back")
    print("python scenario: ok")


if __name__ == "__main__":
    main()
