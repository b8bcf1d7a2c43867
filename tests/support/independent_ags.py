"""Assignment and Grade Services from the independent `lti1p3platform` package, over real HTTP.

The package issues the access token (it checks the tool's client assertion against the tool's
JWKS, fetched over HTTP) and answers line items, results and scores through its own handlers
(`handle_get_lineitems`, `handle_get_results`, `handle_update_score`: token and scope checks,
paging links); we supply only what it leaves abstract, an in-memory gradebook, and render its
responses as its Django adapter does (`Link: <…>; rel=next`, unquoted).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.response import generate_next_link
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService

from tests.support.independent_platform import rsa_key_pair


class _HttpRequest(Request):
    def build_metadata(self, request: dict[str, Any]):
        # Its paging adds 1 to the page it was given: hand numbers over as numbers.
        query = {k: int(v) if v.isdigit() else v for k, v in request["query"].items()}
        return {"method": request["method"], "form_data": request.get("form", {}), "get_data": query,
                "headers": request["headers"], "content_type": request["headers"].get("Content-Type"),
                "path": request["path"], "json": request.get("json")}


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class Gradebook(AssignmentsGradesService):
    """The package's AGS service over dicts: line items, and each one's results keyed by user."""

    PAGE = 2

    def __init__(self, request, platform_config, lineitems_url, store: "IndependentAgs"):
        super().__init__(request, platform_config, lineitems_url)
        self.store = store

    def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None, resource_id=None,
                       tag=None, **_):
        items = [i for i in self.store.line_items.values()
                 if (resource_id is None or i.get("resourceId") == resource_id) and (tag is None or i.get("tag") == tag)]
        size = limit or self.PAGE
        start = (page - 1) * size
        return {"content": items[start:start + size], "has_next": start + size < len(items), "next": None}

    def find_lineitem(self, line_item_id):
        return self.store.line_items[line_item_id]

    def create_lineitem(self, creation_data):
        item_id = str(len(self.store.line_items) + 1)
        item = {**creation_data, "id": f"{self.store.base_url}/lineitems/{item_id}"}
        self.store.line_items[item_id] = item
        return item

    def update_lineitem(self, update_data):
        raise NotImplementedError

    def delete_lineitem(self, line_item_id):
        raise NotImplementedError

    def update_score(self, line_item_id, score):
        self.store.scores.append((line_item_id, score))
        results = self.store.results.setdefault(line_item_id, {})
        results[score["userId"]] = {"userId": score["userId"], "resultScore": score.get("scoreGiven"),
                                    "resultMaximum": score.get("scoreMaximum"), "comment": score.get("comment"),
                                    "scoreOf": self.store.line_items[line_item_id]["id"]}
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None, **_):
        rows = [r for user, r in self.store.results.get(line_item_id, {}).items() if user_id in (None, user)]
        size = limit or self.PAGE
        start = (page - 1) * size
        self.ags.lineitem_url = self.store.line_items[line_item_id]["id"]
        return {"content": rows[start:start + size], "has_next": start + size < len(rows), "next": None}


class IndependentAgs:
    def __init__(self, *, issuer: str, client_id: str, tool_base_url: str):
        private_pem, public_pem = rsa_key_pair()
        self.registration = (Registration().set_iss(issuer).set_client_id(client_id).set_deployment_id("d-1")
                             .set_tool_key_set_url(tool_base_url + "/lti/jwks")
                             .set_platform_private_key(private_pem).set_platform_public_key(public_pem))
        self.line_items: dict[str, dict] = {}
        self.results: dict[str, dict[str, dict]] = {}
        self.scores: list[tuple[str, dict]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _service(self, request: dict) -> Gradebook:
        return Gradebook(_HttpRequest(request), _Conf(registration=self.registration), self.base_url + "/lineitems",
                         self)

    def start(self) -> "IndependentAgs":
        ags = self

        class Handler(BaseHTTPRequestHandler):
            def _request(self, body: bytes | None = None) -> dict:
                parsed = urlparse(self.path)
                request = {"method": self.command, "path": parsed.path, "query": dict(parse_qsl(parsed.query)),
                           "headers": dict(self.headers.items())}
                if body and "json" in (self.headers.get("Content-Type") or ""):
                    request["json"] = json.loads(body)
                elif body:
                    request["form"] = dict(parse_qsl(body.decode()))
                return request

            def do_GET(self):  # noqa: N802
                request = self._request()
                parts = request["path"].strip("/").split("/")
                if parts == ["jwks"]:
                    return self._json(200, {"keys": ags.registration.get_jwks()})
                if parts == ["lineitems"]:
                    return self._render(ags._service(request).handle_get_lineitems())
                if len(parts) == 3 and parts[0] == "lineitems" and parts[2] == "results":
                    return self._render(ags._service(request).handle_get_results(parts[1]))
                self._json(404, {"error": "not found"})

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = self._request(body)
                parts = request["path"].strip("/").split("/")
                if parts == ["token"]:
                    conf = _Conf(registration=ags.registration)
                    return self._json(200, conf.get_access_token(request["form"]))
                if parts == ["lineitems"]:
                    return self._render(ags._service(request).handle_create_lineitem())
                if len(parts) == 3 and parts[0] == "lineitems" and parts[2] == "scores":
                    return self._render(ags._service(request).handle_update_score(parts[1]))
                self._json(404, {"error": "not found"})

            def _render(self, response) -> None:
                # As the package's Django adapter renders a Response.
                if not 200 <= response.code < 300:
                    return self._json(response.code, {"error": response.message})
                data = response.result["content"] if response.result and "content" in response.result \
                    else response.result
                link = response.result.get("next") if isinstance(response.result, dict) else None
                self._json(response.code, data, response.media_type, generate_next_link(link) if link else None)

            def _json(self, status: int, data: Any, media_type: str = "application/json",
                      link: str | None = None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(payload)))
                if link:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
