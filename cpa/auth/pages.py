"""The login and consent pages: server-rendered HTML, no JavaScript, French first.

Every value from outside is escaped (``html.escape``); the pages carry a strict Content
Security Policy (no script at all, not even inline) and refuse to be framed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from html import escape
from typing import Literal
from urllib.parse import urlencode

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

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f6f6f6;color:#161616}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem;background:#fff;min-height:100vh;
box-sizing:border-box}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;font-size:1.1rem;
padding:.7rem;border:1px solid #666;border-radius:4px}
button{font-size:1.1rem;padding:.8rem 1.2rem;margin:1.2rem .5rem 0 0;border-radius:4px;
border:2px solid #000091;cursor:pointer;min-width:8rem}
.primary{background:#000091;color:#fff}.secondary{background:#fff;color:#000091}
.error{background:#ffe9e9;border-left:4px solid #ce0500;padding:.7rem;margin:1rem 0}
ul{padding-left:1.2rem}li{margin:.4rem 0}
.lang{float:right;font-size:.9rem}
"""


def language(query_lang: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` first, then the browser's first preference; French by default."""
    if query_lang in ("fr", "en"):
        return query_lang  # type: ignore[return-value]
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "fr"


def text(key: str, lang: Lang, **values: str) -> str:
    return _TEXT[key][lang].format(**{k: escape(v) for k, v in values.items()})


def _page(lang: Lang, title: str, body: str, switch_url: str | None) -> str:
    switch = ""
    if switch_url is not None:
        switch = f'<a class="lang" href="{escape(switch_url)}">{text("other_lang", lang)}</a>'
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{switch}<h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def _hidden(fields: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields
    )


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
    inputs = "".join(
        f'<label for="{f.name}">{escape(f.label_fr if lang == "fr" else f.label_en)}</label>'
        f'<input id="{f.name}" name="{f.name}" type="{f.kind}" autocomplete="{f.autocomplete}" '
        f'value="{escape(nir_value) if f.kind == "text" else ""}" required>'
        for f in fields
    )
    alert = f'<p class="error" role="alert">{text(error, lang)}</p>' if error else ""
    body = (
        f"<p>{text('asks_login', lang, partner=partner)}</p>{alert}"
        '<form method="post" action="/oauth/authorize">'
        f"{_hidden([*carried, ('csrf', csrf), ('step', 'login'), ('lang', lang)])}{inputs}"
        f'<button class="primary" type="submit">{text("sign_in", lang)}</button></form>'
    )
    return _page(lang, text("title_login", lang), body, switch_url(carried, lang))


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
) -> str:
    items = "".join(f"<li>{escape(SCOPE_WORDS[s][lang])}</li>" for s in scopes)
    until_text = until.strftime("%d/%m/%Y") if lang == "fr" else until.isoformat()
    hidden = _hidden(
        [*carried, ("csrf", csrf), ("step", "consent"), ("ticket", ticket), ("lang", lang)]
    )
    buttons = "".join(
        f'<button class="{style}" type="submit" name="decision" value="{value}">'
        f"{text(value, lang)}</button>"
        for style, value in (("primary", "accept"), ("secondary", "refuse"))
    )
    body = (
        f"<p>{text('asks_consent', lang, partner=partner, kind=KIND_WORDS[kind][lang])}</p>"
        f"<ul>{items}</ul>"
        f"<p>{text('duration', lang, days=str(days), until=until_text)}</p>"
        f'<form method="post" action="/oauth/authorize">{hidden}{buttons}</form>'
    )
    return _page(lang, text("title_consent", lang), body, None)


def error_page(*, lang: Lang, detail: str) -> str:
    body = f'<p>{text("error_hint", lang)}</p><p class="error">{escape(detail)}</p>'
    return _page(lang, text("title_error", lang), body, None)


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
        )
    return [(name, params[name]) for name in names if name in params]
