"""A local stand-in for the few Hugging Face Hub endpoints that ``create_repo`` + ``upload_folder``
call, so the real huggingface_hub upload code runs end to end over loopback HTTP in tests.

Implemented (as documented by the Hub and observed from huggingface_hub's client code):
``POST /api/repos/create``, ``POST /api/validate-yaml`` (the model card header must parse and name a
licence), ``POST /api/models/{repo}/preupload/{rev}`` (answers "lfs" for files
over 10 kB or with binary extensions, "regular" otherwise), the git-LFS batch API
``POST /{repo}.git/info/lfs/objects/batch`` (basic transfer, upload + verify actions),
``PUT /lfs-upload/{oid}`` (the upload URL it hands out, sha256 checked), ``POST /lfs-verify`` and
``POST /api/models/{repo}/commit/{rev}`` (NDJSON: header, inline files, LFS pointers).
For downloads it also serves repos given to :meth:`FakeHub.serve`: ``GET /api/models/{repo}[/revision/{rev}]``
(the file listing) and ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with the headers
``hf_hub_download`` checks (``X-Repo-Commit``, ``ETag`` = the file's sha256, ``Content-Length``).
Every request is recorded in ``requests``; anything else answers 404 and is recorded too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BINARY = (".safetensors", ".onnx", ".pt2", ".torchscript", ".pth", ".bin")


def validate_card(text: str) -> list[str]:
    """The model-card checks the Hub makes that an export could fail: a YAML header that parses,
    and a licence (with a name when it is "other")."""
    import yaml

    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        return ["no YAML metadata header"]
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        return [f"invalid YAML: {exc}"]
    if "license" not in meta:
        return ["missing license"]
    if meta["license"] == "other" and not meta.get("license_name"):
        return ["license other needs license_name"]
    return []


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[
            str, dict
        ] = {}  # repo_id -> {"private": bool, "files": {path: bytes}, "commits": [...]}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, lower-cased headers)
        self.served: dict[str, tuple[str, dict[str, bytes]]] = {}  # repo_id -> (commit, files) for downloads
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, repo_id: str, files: dict[str, bytes], commit: str | None = None) -> str:
        """Offer ``files`` of ``repo_id`` for download at ``commit`` (and at ``main``); returns the commit."""
        commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
        self.served[repo_id] = (commit, dict(files))
        return commit

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    return self.rfile.read(n)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return b""

            def _send(self, status: int, payload: dict | None = None) -> None:
                data = json.dumps(payload or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> None:
                hub.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )

            def do_POST(self) -> None:
                self._record()
                body = self._body()
                path = self.path.split("?")[0]
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    return self._send(401, {"error": "Invalid credentials"})
                if path == "/api/repos/create":
                    req = json.loads(body)
                    repo_id = (
                        f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                    )
                    if repo_id in hub.repos:
                        return self._send(
                            409,
                            {
                                "error": "You already created this model repo",
                                "url": f"{hub.endpoint}/{repo_id}",
                            },
                        )
                    private = bool(req.get("private")) or req.get("visibility") == "private"
                    hub.repos[repo_id] = {"private": private, "files": {}, "commits": []}
                    return self._send(
                        200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id, "id": repo_id}
                    )
                if path == "/api/validate-yaml":
                    errors = validate_card(json.loads(body)["content"])
                    return self._send(
                        400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []}
                    )
                if m := re.fullmatch(r"/api/models/(.+)/preupload/([^/]+)", path):
                    files = json.loads(body)["files"]
                    modes = [
                        {
                            "path": f["path"],
                            "uploadMode": "lfs"
                            if f["size"] > 10_000 or f["path"].endswith(BINARY)
                            else "regular",
                            "shouldIgnore": False,
                        }
                        for f in files
                    ]
                    return self._send(200, {"files": modes})
                if m := re.fullmatch(r"/(.+)\.git/info/lfs/objects/batch", path):
                    objects = json.loads(body)["objects"]
                    out = [
                        {
                            "oid": o["oid"],
                            "size": o["size"],
                            "authenticated": True,
                            "actions": {
                                "upload": {"href": f"{hub.endpoint}/lfs-upload/{o['oid']}"},
                                "verify": {"href": f"{hub.endpoint}/lfs-verify"},
                            },
                        }
                        for o in objects
                    ]
                    return self._send(200, {"transfer": "basic", "objects": out})
                if path == "/lfs-verify":
                    req = json.loads(body)
                    ok = req["oid"] in hub.lfs and len(hub.lfs[req["oid"]]) == req["size"]
                    return self._send(200 if ok else 404, {})
                if m := re.fullmatch(r"/api/models/(.+)/commit/([^/]+)", path):
                    repo_id = m.group(1)
                    if repo_id not in hub.repos:
                        return self._send(404, {"error": "Repository not found"})
                    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                    header = next(item["value"] for item in lines if item["key"] == "header")
                    for item in lines:
                        value = item["value"]
                        if item["key"] == "file":
                            hub.repos[repo_id]["files"][value["path"]] = base64.b64decode(value["content"])
                        elif item["key"] == "lfsFile":
                            if value["oid"] not in hub.lfs:
                                return self._send(
                                    422, {"error": f"LFS object {value['oid']} was never uploaded"}
                                )
                            hub.repos[repo_id]["files"][value["path"]] = hub.lfs[value["oid"]]
                    oid = hashlib.sha1(json.dumps(sorted(hub.repos[repo_id]["files"])).encode()).hexdigest()
                    hub.repos[repo_id]["commits"].append({"oid": oid, "summary": header["summary"]})
                    return self._send(
                        200, {"commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}", "commitOid": oid}
                    )
                return self._send(404, {"error": f"stand-in Hub does not implement POST {path}"})

            def do_PUT(self) -> None:
                self._record()
                body = self._body()
                if m := re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", self.path):
                    if hashlib.sha256(body).hexdigest() != m.group(1):
                        return self._send(400, {"error": "sha256 mismatch"})
                    hub.lfs[m.group(1)] = body
                    return self._send(200, {})
                return self._send(404, {"error": f"stand-in Hub does not implement PUT {self.path}"})

            def _download(self, body: bool) -> bool:
                """Answer a listing or a ``resolve`` request for a served repo; False if it is neither."""
                path = self.path.split("?")[0]
                for repo_id, (commit, files) in hub.served.items():
                    if re.fullmatch(rf"/api/models/{re.escape(repo_id)}(/revision/(main|{commit}))?", path):
                        self._send(200, {"id": repo_id, "sha": commit, "siblings": [{"rfilename": f} for f in files]})
                        return True
                    m = re.fullmatch(rf"/{re.escape(repo_id)}/resolve/(main|{commit})/(.+)", path)
                    if m and m.group(2) in files:
                        data = files[m.group(2)]
                        self.send_response(200)
                        self.send_header("X-Repo-Commit", commit)
                        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        if body:
                            self.wfile.write(data)
                        return True
                return False

            def do_HEAD(self) -> None:
                self._record()
                if not self._download(body=False):
                    self.send_response(404)
                    self.end_headers()

            def do_GET(self) -> None:
                self._record()
                if not self._download(body=True):
                    self._send(404, {"error": f"stand-in Hub does not implement GET {self.path}"})

        return Handler
