"""Google Drive v3 through google-auth: list a folder (every page), download a file (streamed).

Why these libraries: google-auth signs the service-account JWT and refreshes the access token
(an expired token answered with 401 is refreshed and the request replayed by AuthorizedSession);
requests streams the body so a large file never sits in memory twice. Nothing here logs a key
or a token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from infra.drive.errors import (
    ChecksumMismatch, FolderNotFound, SecretMissing, TerminalIngestError, Throttled, TransientIngestError, Truncated,
)
from infra.drive.settings import SCOPES

FOLDER_MIME = "application/vnd.google-apps.folder"
FIELDS = "nextPageToken,files(id,name,md5Checksum,size,modifiedTime,mimeType)"
TIMEOUT = (10, 120)  # connect, read (seconds)


@dataclass(frozen=True)
class DriveFile:
    """One file of the folder, as files.list reports it."""

    id: str
    name: str
    md5: str | None
    size: int
    modified_time: str
    mime_type: str


def session_from_key(key_json: dict[str, Any]) -> AuthorizedSession:
    """An HTTP session authorised as the service account (read-only Drive scope)."""
    try:
        credentials = service_account.Credentials.from_service_account_info(key_json, scopes=list(SCOPES))
    except (ValueError, KeyError) as exc:
        raise SecretMissing(f"the secret is not a service-account key ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120]})") from None
    return AuthorizedSession(credentials, max_refresh_attempts=2)


class DriveClient:
    """The two Drive calls the ingestion needs."""

    def __init__(self, session: AuthorizedSession, root: str):
        self.session = session
        self.root = root

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.get(url, timeout=TIMEOUT, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientIngestError(f"Drive unreachable: {type(exc).__name__}") from None
        except Exception as exc:  # google-auth's RefreshError: the token endpoint refused the key
            if type(exc).__name__ == "RefreshError":
                raise TerminalIngestError(f"the token endpoint refused the service-account key: "
                                          f"{str(exc)[:160]}") from None
            raise
        if response.status_code == 429 or (response.status_code == 403 and "rateLimit" in response.text):
            retry_after = response.headers.get("Retry-After")
            response.close()
            raise Throttled(f"Drive throttled the request (HTTP {response.status_code}, Retry-After {retry_after})",
                            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
        if response.status_code >= 500:
            response.close()
            raise TransientIngestError(f"Drive server error HTTP {response.status_code}")
        return response

    def check_folder(self, folder_id: str) -> None:
        """Fail clearly when the id is not a folder the service account can see."""
        response = self._get(f"{self.root}/files/{folder_id}", params={"fields": "id,name,mimeType",
                                                                       "supportsAllDrives": "true"})
        if response.status_code == 404:
            raise FolderNotFound(f"Drive folder {folder_id} does not exist or is not shared with the service account")
        if response.status_code != 200:
            raise TerminalIngestError(f"Drive refused folder {folder_id}: HTTP {response.status_code}")
        if response.json().get("mimeType") != FOLDER_MIME:
            raise FolderNotFound(f"Drive id {folder_id} is a file, not a folder")

    def list_folder(self, folder_id: str) -> Iterator[DriveFile]:
        """Every non-trashed file directly in the folder, following nextPageToken."""
        token: str | None = None
        while True:
            params = {"q": f"'{folder_id}' in parents and trashed = false", "fields": FIELDS, "pageSize": "100",
                      "supportsAllDrives": "true", "includeItemsFromAllDrives": "true", "orderBy": "name"}
            if token:
                params["pageToken"] = token
            response = self._get(f"{self.root}/files", params=params)
            if response.status_code != 200:
                raise TerminalIngestError(f"Drive files.list failed: HTTP {response.status_code}")
            body = response.json()
            for item in body.get("files", []):
                if item.get("mimeType") == FOLDER_MIME:
                    continue
                yield DriveFile(item["id"], item["name"], item.get("md5Checksum"), int(item.get("size", 0)),
                                item.get("modifiedTime", ""), item.get("mimeType", ""))
            token = body.get("nextPageToken")
            if not token:
                return

    def download(self, item: DriveFile, dest: Path) -> str:
        """Stream the file to ``dest``; return its md5 after checking length and checksum."""
        response = self._get(f"{self.root}/files/{item.id}", params={"alt": "media", "supportsAllDrives": "true"},
                             stream=True)
        if response.status_code != 200:
            response.close()
            raise TerminalIngestError(f"{item.name}: Drive refused the download: HTTP {response.status_code}")
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        try:
            with dest.open("wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
            raise Truncated(f"{item.name}: download cut off after {received} bytes ({type(exc).__name__})") from None
        finally:
            response.close()
        if item.size and received != item.size:
            raise Truncated(f"{item.name}: received {received} bytes, Drive reports {item.size}")
        md5 = digest.hexdigest()
        if item.md5 and md5 != item.md5:
            raise ChecksumMismatch(f"{item.name}: md5 of the download {md5} differs from Drive's {item.md5}")
        return md5
