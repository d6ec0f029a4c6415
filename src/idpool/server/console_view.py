"""The console's pages as HTML: Jinja2 templates, autoescaping always on.

Pool names and login subjects come from callers and may be hostile, so nothing is marked safe;
every page a signed-in admin sees carries the session's CSRF token for its forms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from idpool.domain.ports import StoredKey
from idpool.server.console_auth import ConsoleAuth
from idpool.server.console_http import ASSETS, Request, Response, url, when
from idpool.server.console_svg import bar_chart, time_chart


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["url"] = url
    env.globals["time_chart"] = time_chart
    env.globals["bar_chart"] = bar_chart
    env.filters["when"] = when
    return env


class ConsoleView:
    def __init__(self, auth: ConsoleAuth) -> None:
        self._auth = auth
        self._templates = environment()

    def login_page(
        self, request: Request, status: int, *, next_path: str, error: str | None = None
    ) -> Response:
        response = self.render(
            "login.html",
            status,
            title="Sign in",
            user=None,
            csrf="",
            next_path=next_path,
            error=error,
        )
        if status == 401:
            # RFC 9110 wants a challenge on 401; this one names the form, not a browser dialog.
            response.headers.append(
                (
                    b"www-authenticate",
                    b'Cookie realm="idpool console", form-action="/console/login"',
                )
            )
        return response

    def render(self, template: str, status: int, **context: Any) -> Response:
        html = self._templates.get_template(template).render(**context)
        return Response(status, html.encode("utf-8"))

    def page(self, request: Request, template: str, **context: Any) -> Response:
        assert request.cookie is not None
        return self.render(
            template, 200, user=request.user, csrf=self._auth.csrf_token(request.cookie), **context
        )

    def error(self, request: Request, status: int, message: str) -> Response:
        csrf = self._auth.csrf_token(request.cookie) if request.cookie else ""
        user = request.user if request.cookie else None
        return self.render(
            "error.html",
            status,
            title="Error",
            user=user,
            csrf=csrf,
            message=message,
            code=status,
        )

    def confirm(
        self,
        request: Request,
        *,
        question: str,
        facts: Sequence[tuple[str, str]],
        consequence: str,
        action: str,
        hidden: Mapping[str, str],
        button: str,
        cancel: str,
    ) -> Response:
        return self.page(
            request,
            "confirm.html",
            title=question,
            facts=facts,
            consequence=consequence,
            action=action,
            hidden=hidden,
            button=button,
            cancel=cancel,
        )


def public_keys(keys: Sequence[StoredKey]) -> list[dict[str, Any]]:
    """Only public fields leave this function; the encrypted private key never does."""
    return [
        {
            "kid": key.kid,
            "status": "active" if key.retired_at is None else "retired",
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "expires_at": key.expires_at,
            "alg": str(key.public_jwk.get("alg", "")),
            "kty": str(key.public_jwk.get("kty", "")),
        }
        for key in keys
    ]
