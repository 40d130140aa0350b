"""A browser-like client for the hub's and sharebot's pages: cookies kept, redirects
followed one by one (so a test sees each), the hub's login and accept forms submitted."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html import unescape

import httpx

from tests.support.hub import RunningHub

_FORM_XSRF = re.compile(r'<input[^>]*name="_xsrf"[^>]*value="([^"]*)"')


@dataclass
class Browser:
    hub: RunningHub
    http: httpx.Client = field(init=False)
    trail: list[httpx.Response] = field(default_factory=list)
    accept_posted_at: float | None = None

    def __post_init__(self) -> None:
        # relative URLs are the hub's (its login form, say)
        self.http = httpx.Client(base_url=self.hub.public_url, follow_redirects=False, timeout=15)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def login(self, username: str) -> None:
        self.hub.login(self.http, username)

    def go(self, url: str, *, username: str | None = None, accept: bool = True) -> httpx.Response:
        """Open ``url`` and follow redirects; log in as ``username`` when the hub asks, and
        press Accept on the hub's accept page (``accept``). The last response."""
        response = self.http.get(url)
        self.trail.append(response)
        for _ in range(20):
            if response.status_code in (301, 302, 303, 307):
                target = str(response.url.join(response.headers["location"]))
                if "/hub/login" in httpx.URL(target).path and username is not None:
                    response = self._log_in(target, username)
                else:
                    response = self.http.get(target)
                self.trail.append(response)
                continue
            if accept and response.status_code == 200 and "/hub/accept-share" in response.url.path:
                match = _FORM_XSRF.search(response.text)
                assert match, response.text[:500]
                self.accept_posted_at = time.monotonic()
                response = self.http.post(
                    response.url,
                    data={
                        "code": response.url.params["code"],
                        "_xsrf": unescape(match.group(1)),
                    },
                )
                self.trail.append(response)
                continue
            return response
        raise AssertionError(f"too many redirects: {[str(r.url) for r in self.trail]}")

    def _log_in(self, login_url: str, username: str) -> httpx.Response:
        self.http.get(login_url)
        xsrf = next(c.value for c in self.http.cookies.jar if c.name == "_xsrf")
        return self.http.post(
            login_url, data={"username": username, "password": self.hub.password, "_xsrf": xsrf}
        )

    def visited(self) -> list[str]:
        """Paths visited, without queries (they hold codes and states)."""
        return [r.url.path for r in self.trail]
