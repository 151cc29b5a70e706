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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cpa.auth.login import LoginField
from cpa.auth.scopes import SCOPE_WORDS
from cpa.auth.tickets import TICKET_LIFETIME_S

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
    "error_prefix": {"fr": "Erreur : ", "en": "Error: "},
    "asks_login": {
        "fr": (
            "{partner} vous demande de vous connecter pour accéder à votre "
            "Compte Personnel d'Activité."
        ),
        "en": "{partner} asks you to sign in to reach your Personal Activity Account.",
    },
    "nir_hint": {
        "fr": (
            "Les 15 caractères inscrits sur votre carte Vitale, clé comprise (les 2 derniers). "
            "Les espaces sont acceptés."
        ),
        "en": (
            "The 15 characters printed on your carte Vitale, key included (the last 2). "
            "Spaces are accepted."
        ),
    },
    "sign_in": {"fr": "Se connecter", "en": "Sign in"},
    "bad_login": {
        "fr": "Numéro ou mot de passe incorrect. Vérifiez les deux champs puis réessayez.",
        "en": "Wrong number or password. Check both fields and try again.",
    },
    "title_consent": {"fr": "Autoriser l'accès à vos droits", "en": "Allow access to your rights"},
    "asks_consent": {
        "fr": "{kind} « {partner} » demande à :",
        "en": "The {kind} “{partner}” asks to:",
    },
    "duration": {
        "fr": "Pour {days} jours, jusqu'au {until}.",
        "en": "For {days} days, until {until}.",
    },
    "withdraw": {
        "fr": (
            "Vous pourrez retirer cet accord à tout moment dans la liste de vos autorisations, "
            "sur le portail où vous consultez votre Compte Personnel d'Activité : l'accès "
            "s'arrête aussitôt."
        ),
        "en": (
            "You can withdraw this consent at any time from the list of your consents, on the "
            "portal where you view your Personal Activity Account: the access stops at once."
        ),
    },
    "decide_by": {
        "fr": (
            "Pour votre sécurité, décidez avant {time} ({minutes} minutes après votre "
            "connexion). Passé ce délai, il faudra vous reconnecter."
        ),
        "en": (
            "For your security, decide before {time} ({minutes} minutes after signing in). "
            "After that, you will have to sign in again."
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
    "start_again": {"fr": "Recommencer la connexion", "en": "Start again"},
    "title_invalid_request": {
        "fr": "Cette demande ne peut pas aboutir",
        "en": "This request cannot proceed",
    },
    "hint_invalid_request": {
        "fr": (
            "Le service qui vous a envoyé ici a fait une demande invalide : vous n'y êtes pour "
            "rien. Fermez cette page et revenez sur le site de ce service pour réessayer."
        ),
        "en": (
            "The service that sent you here made an invalid request: it is not your doing. "
            "Close this page and go back to that service's site to try again."
        ),
    },
    "title_expired_form": {"fr": "Le formulaire a expiré", "en": "The form has expired"},
    "hint_expired_form": {
        "fr": (
            "Ce formulaire a expiré ou n'a pas été envoyé depuis cette page (par exemple après "
            "une longue pause). Rien n'a été enregistré : recommencez la connexion."
        ),
        "en": (
            "This form expired or was not sent from this page (after a long pause, for "
            "instance). Nothing was recorded: start again."
        ),
    },
    "title_expired_login": {"fr": "Votre connexion a expiré", "en": "Your sign-in has expired"},
    "hint_expired_login": {
        "fr": (
            "Vous deviez décider dans les {minutes} minutes suivant votre connexion, ou cette "
            "connexion a déjà servi. Rien n'a été accordé : recommencez la connexion."
        ),
        "en": (
            "You had to decide within {minutes} minutes of signing in, or this sign-in was "
            "already used. Nothing was granted: start again."
        ),
    },
    "title_too_many": {"fr": "Trop d'essais", "en": "Too many attempts"},
    "hint_too_many": {
        "fr": (
            "Trop d'essais de connexion ont échoué. Pour protéger votre compte, réessayez dans "
            "{minutes} minute(s)."
        ),
        "en": (
            "Too many sign-in attempts failed. To protect your account, try again in "
            "{minutes} minute(s)."
        ),
    },
    "other_lang": {"fr": "English", "en": "Français"},
    "technical_detail": {"fr": "Détail technique (en anglais) :", "en": "Technical detail:"},
}

ErrorReason = Literal["invalid_request", "expired_form", "expired_login", "too_many"]
"""What happened, so the error page says it (and offers to start again when the citizen can):
the partner's request is invalid, the form's CSRF cookie expired, the login ticket expired or
was used, too many failed logins."""

KIND_WORDS: dict[str, dict[Lang, str]] = {
    # French: the kind with its article, as the consent sentence starts with it.
    "portal": {"fr": "Le portail", "en": "portal"},
    "training_body": {"fr": "L'organisme de formation", "en": "training body"},
    "advisor_tool": {"fr": "L'outil de conseiller", "en": "advisor tool"},
    "operator": {"fr": "L'opérateur", "en": "operator"},
}

PARIS = "Europe/Paris"
"""The time zone the consent page's time limit is said in (the service is French)."""

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


def _render(name: str, lang: Lang, *, title: Markup, error: bool = False, **values: Any) -> str:
    """``title`` heads the page; the window's title starts with "Erreur" / "Error" when the
    page reports one (the first words a screen reader says, RGAA 8.6)."""
    words = partial(text, lang=lang)
    head_title = text("error_prefix", lang) + title if error else title
    return _TEMPLATES.get_template(name).render(
        lang=lang, other=_other(lang), text=words, title=title, head_title=head_title, **values
    )


def _other(lang: Lang) -> Lang:
    return "en" if lang == "fr" else "fr"


def switch_url(params: Iterable[tuple[str, str]], lang: Lang) -> str:
    """The same page in the other language."""
    return restart_url(params, _other(lang))


def restart_url(params: Iterable[tuple[str, str]], lang: Lang) -> str:
    """The authorization request again, from its login page: the way back after an expired
    form or login (WCAG 2.2.1: the citizen can start again without the partner)."""
    kept = [(k, v) for k, v in params if k != "lang"]
    return "/oauth/authorize?" + urlencode([*kept, ("lang", lang)])


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
    """The login form; after a failed attempt, the error is announced (role=alert), the fields
    are marked invalid and described by it, focus lands on the first one, the NIR is kept."""
    return _render(
        "login.html",
        lang,
        title=text("title_login", lang),
        error=error is not None,
        switch_url=switch_url(carried, lang),
        partner=partner,
        fields=fields,
        hints={"nir": text("nir_hint", lang)},
        carried=carried,
        csrf=csrf,
        message=text(error, lang) if error else None,
        nir_value=nir_value,
    )


def decision_deadline(now: dt.datetime, lang: Lang) -> str:
    """The time a login ticket issued ``now`` ends, to the minute and never later than it, in
    Paris time (UTC where the time-zone database is missing)."""
    ends = now + dt.timedelta(seconds=TICKET_LIFETIME_S)
    try:
        ends, zone = ends.astimezone(ZoneInfo(PARIS)), ""
    except ZoneInfoNotFoundError:
        ends, zone = ends.astimezone(dt.UTC), " UTC"
    return (f"{ends:%H} h {ends:%M}" if lang == "fr" else f"{ends:%H:%M}") + zone


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
    now: dt.datetime | None = None,
) -> str:
    """``scopes``: what the partner asks that the citizen has not granted it yet (the page asks
    only for that); ``granted``: what an active consent already grants it. With the time the
    decision must be taken by (the login ticket's end, WCAG 2.2.1; once it has passed, the error
    page offers to start again)."""
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
        decide_by=decision_deadline(now or dt.datetime.now(dt.UTC), lang),
        minutes=TICKET_LIFETIME_S // 60,
        carried=carried,
        csrf=csrf,
        ticket=ticket,
    )


def logout_page(*, lang: Lang) -> str:
    return _render("logout.html", lang, title=text("title_logout", lang), switch_url=None)


def error_page(
    *,
    lang: Lang,
    detail: str | None = None,
    reason: ErrorReason = "invalid_request",
    restart: list[tuple[str, str]] | None = None,
    wait_s: int = 0,
) -> str:
    """What happened (``reason``) in the citizen's words, the technical ``detail`` (English:
    marked so) for the partner's developers, and the way back: start again when ``restart``
    (the request's parameters) is given."""
    minutes = TICKET_LIFETIME_S // 60 if reason == "expired_login" else -(-wait_s // 60)
    return _render(
        "error.html",
        lang,
        title=text(f"title_{reason}", lang),
        error=True,
        switch_url=None,
        hint=text(f"hint_{reason}", lang, minutes=minutes),
        detail=detail,
        restart_url=restart_url(restart, lang) if restart is not None else None,
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
