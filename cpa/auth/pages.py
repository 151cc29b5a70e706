"""The login and consent pages: server-rendered HTML, no JavaScript, French first.

Jinja2 templates (``cpa/auth/templates/``) with autoescape: every value from outside is
escaped by the engine, the page's own words (:data:`_TEXT`) are marked safe with their
values escaped (:func:`text`). The pages carry a strict Content Security Policy (no script
at all, not even inline) and refuse to be framed.

Jinja2 itself rather than Litestar's ``TemplateConfig``: the pages are strings the browser
flow wraps in its own responses (status, :data:`PAGE_HEADERS`, the CSRF cookie), rendered
the same with no app around them (the tests render them directly), and the app's wiring
(``cpa/app.py``) needs no template engine for two pages of auth's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any, Literal
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cpa.auth.login import LoginField
from cpa.auth.scopes import SCOPE_WORDS

Lang = Literal["fr", "en"]

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_TEXT: dict[str, dict[Lang, str]] = {
    "title_login": {"fr": "Connexion à votre compte CPA", "en": "Sign in to your CPA account"},
    "asks_login": {
        "fr": (
            "{partner} vous demande de vous connecter pour accéder à votre "
            "Compte Personnel d'Activité."
        ),
        "en": "{partner} asks you to sign in to reach your Personal Activity Account.",
    },
    "sign_in": {"fr": "Se connecter", "en": "Sign in"},
    "bad_login": {
        "fr": "Numéro ou mot de passe incorrect.",
        "en": "Wrong number or password.",
    },
    "too_many": {
        "fr": "Trop d'essais : réessayez dans quelques minutes.",
        "en": "Too many attempts: try again in a few minutes.",
    },
    "title_consent": {"fr": "Autoriser l'accès à vos droits", "en": "Allow access to your rights"},
    "asks_consent": {
        "fr": "{partner} ({kind}) demande à :",
        "en": "{partner} ({kind}) asks to:",
    },
    "duration": {
        "fr": (
            "Pour {days} jours, jusqu'au {until}. Vous pourrez retirer cet accord à tout "
            "moment dans votre espace."
        ),
        "en": (
            "For {days} days, until {until}. You can withdraw this consent at any time "
            "from your account."
        ),
    },
    "already_granted": {
        "fr": "Vous lui avez déjà permis de :",
        "en": "You already allowed it to:",
    },
    "not_you": {"fr": "Ce n'est pas vous ? Se déconnecter", "en": "Not you? Sign out"},
    "title_logout": {"fr": "Vous êtes déconnecté", "en": "You are signed out"},
    "logged_out": {
        "fr": (
            "Votre session est terminée. Un service partenaire vous demandera de vous "
            "connecter à nouveau."
        ),
        "en": "Your session has ended. A partner service will ask you to sign in again.",
    },
    "accept": {"fr": "J'accepte", "en": "I accept"},
    "refuse": {"fr": "Je refuse", "en": "I refuse"},
    "title_error": {"fr": "Cette demande ne peut pas aboutir", "en": "This request cannot proceed"},
    "error_hint": {
        "fr": "Le service qui vous a envoyé ici a fait une demande invalide. Revenez sur son site.",
        "en": "The service that sent you here made an invalid request. Go back to its site.",
    },
    "other_lang": {"fr": "English", "en": "Français"},
}

KIND_WORDS: dict[str, dict[Lang, str]] = {
    "portal": {"fr": "portail", "en": "portal"},
    "training_body": {"fr": "organisme de formation", "en": "training body"},
    "advisor_tool": {"fr": "outil de conseiller", "en": "advisor tool"},
    "operator": {"fr": "opérateur", "en": "operator"},
}

_TEMPLATES = Environment(
    loader=PackageLoader("cpa.auth", "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a missing value is a bug, not an empty string
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def language(query_lang: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` first, then the browser's first preference; French by default."""
    if query_lang in ("fr", "en"):
        return query_lang  # type: ignore[return-value]
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "fr"


def text(key: str, lang: Lang, **values: object) -> Markup:
    """The page's words in ``lang``, safe as they are, with ``values`` escaped into them."""
    return Markup(_TEXT[key][lang]).format(**values)


def _render(name: str, lang: Lang, **values: Any) -> str:
    words = partial(text, lang=lang)
    return _TEMPLATES.get_template(name).render(lang=lang, text=words, **values)


def switch_url(params: Iterable[tuple[str, str]], lang: Lang) -> str:
    other = "en" if lang == "fr" else "fr"
    kept = [(k, v) for k, v in params if k != "lang"]
    return "/oauth/authorize?" + urlencode([*kept, ("lang", other)])


def login_page(
    *,
    lang: Lang,
    partner: str,
    fields: tuple[LoginField, ...],
    carried: list[tuple[str, str]],
    csrf: str,
    error: str | None = None,
    nir_value: str = "",
) -> str:
    return _render(
        "login.html",
        lang,
        title=text("title_login", lang),
        switch_url=switch_url(carried, lang),
        partner=partner,
        fields=fields,
        carried=carried,
        csrf=csrf,
        error=error,
        nir_value=nir_value,
    )


def consent_page(
    *,
    lang: Lang,
    partner: str,
    kind: str,
    scopes: list[str],
    days: int,
    until: dt.date,
    carried: list[tuple[str, str]],
    csrf: str,
    ticket: str,
    granted: list[str] | None = None,
) -> str:
    """``scopes``: what the partner asks that the citizen has not granted it yet (the page asks
    only for that); ``granted``: what an active consent already grants it."""
    return _render(
        "consent.html",
        lang,
        title=text("title_consent", lang),
        switch_url=None,
        partner=partner,
        kind=KIND_WORDS[kind][lang],
        scopes=[SCOPE_WORDS[s][lang] for s in scopes],
        granted=[SCOPE_WORDS[s][lang] for s in granted or ()],
        days=days,
        until=until.strftime("%d/%m/%Y") if lang == "fr" else until.isoformat(),
        carried=carried,
        csrf=csrf,
        ticket=ticket,
    )


def logout_page(*, lang: Lang) -> str:
    return _render("logout.html", lang, title=text("title_logout", lang), switch_url=None)


def error_page(*, lang: Lang, detail: str) -> str:
    return _render(
        "error.html", lang, title=text("title_error", lang), switch_url=None, detail=detail
    )


def carried_parameters(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The authorization request parameters a form carries to its next step."""
    if "request_uri" in params:
        names: tuple[str, ...] = ("client_id", "request_uri")
    else:
        names = (
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "prompt",
        )
    return [(name, params[name]) for name in names if name in params]
