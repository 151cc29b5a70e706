"""The login, consent and error pages: Jinja2 templates, every outside value escaped."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.auth.login import PasswordLogin
from cpa.auth.pages import Lang, consent_page, error_page, login_page, text
from tests.auth import support

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
CARRIED = [("client_id", "portal-1"), ("state", HOSTILE), ("redirect_uri", "https://p/cb?a=1&b=2")]


def _login(lang: Lang, **extra: str) -> str:
    return login_page(
        lang=lang,
        partner=HOSTILE,
        fields=PasswordLogin.fields,
        carried=CARRIED,
        csrf="csrf-value",
        **extra,
    )


def _consent(lang: Lang) -> str:
    return consent_page(
        lang=lang,
        partner=HOSTILE,
        kind="training_body",
        scopes=["cpf:read", "cpf:hold"],
        days=90,
        until=dt.date(2027, 3, 1),
        carried=CARRIED,
        csrf="csrf-value",
        ticket=HOSTILE,
    )


def _pages(lang: Lang) -> list[str]:
    error = error_page(lang=lang, detail=HOSTILE)
    return [_login(lang), _login(lang, error="bad_login"), _consent(lang), error]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_outside_value_reaches_the_page_unescaped(lang: Lang) -> None:
    for page in _pages(lang):
        assert "<script" not in page and "<img" not in page and 'onerror=alert(2)">' not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert page.startswith("<!doctype html>") and f'<html lang="{lang}">' in page


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_forms_carry_the_request_and_their_step_exactly(lang: Lang) -> None:
    carried = dict(CARRIED)
    login = support.form_fields(_login(lang))
    assert login == {**carried, "csrf": "csrf-value", "step": "login", "lang": lang}
    consent = support.form_fields(_consent(lang))
    assert consent == {
        **carried,
        "csrf": "csrf-value",
        "step": "consent",
        "ticket": HOSTILE,
        "lang": lang,
    }
    assert '<input id="password" name="password" type="password"' in _login(lang)
    assert 'name="decision" value="accept"' in _consent(lang)


def test_words_in_french_first_and_in_english() -> None:
    french, english = _login("fr", error="bad_login"), _login("en", error="bad_login")
    assert "Se connecter" in french and "Compte Personnel d'Activité" in french
    assert "Numéro ou mot de passe incorrect." in french and ">English</a>" in french
    assert "Sign in" in english and "Wrong number or password." in english
    assert "lang=en" in french and "lang=fr" in english  # the switch keeps the request
    consent_fr, consent_en = _consent("fr"), _consent("en")
    assert "organisme de formation" in consent_fr and "jusqu'au 01/03/2027" in consent_fr
    assert "J'accepte" in consent_fr and "Je refuse" in consent_fr
    assert "training body" in consent_en and "until 2027-03-01" in consent_en
    assert "voir vos droits à la formation (CPF), en euros" in consent_fr
    assert "Trop d'essais" in text("title_too_many", "fr")


def test_the_language_link_says_its_language() -> None:
    """WCAG 3.1.2 / RGAA 8.7: the link to the other language is marked as that language."""
    assert '<a class="lang" href="/oauth/authorize?' in _login("fr")
    assert 'lang="en" hreflang="en">English</a>' in _login("fr")
    assert 'lang="fr" hreflang="fr">Français</a>' in _login("en")


def test_a_failed_login_is_announced_described_and_keeps_the_nir() -> None:
    page = _login("fr", error="bad_login", nir_value="1 80 05 75 123 456 27")
    assert "<title>Erreur : Connexion à votre compte CPA</title>" in page
    assert '<p class="error" role="alert" id="login-error">' in page
    assert 'value="1 80 05 75 123 456 27"' in page
    assert 'aria-describedby="nir-hint login-error" aria-invalid="true" autofocus>' in page
    assert 'aria-describedby="login-error" aria-invalid="true">' in page  # the password
    assert "<title>Error: Sign in to your CPA account</title>" in _login("en", error="bad_login")
    fresh = _login("fr")
    assert "aria-invalid" not in fresh and "autofocus" not in fresh and "Erreur" not in fresh
    assert 'id="nir-hint">Les 15 caractères inscrits sur votre carte Vitale' in fresh
    assert 'required aria-describedby="nir-hint">' in fresh


def test_the_consent_page_names_the_partner_once_and_its_time_limit() -> None:
    page = consent_page(
        lang="fr",
        partner="Mon Compte Formation (démo)",
        kind="portal",
        scopes=["account:read"],
        days=180,
        until=dt.date(2027, 3, 1),
        carried=CARRIED,
        csrf="c",
        ticket="t",
        now=dt.datetime(2026, 7, 1, 12, 0, 30, tzinfo=dt.UTC),
    )
    assert "Le portail « Mon Compte Formation (démo) » demande à :" in page
    assert "(portail)" not in page and "dans votre espace" not in page
    assert "dans la liste de vos autorisations" in page
    # 10 minutes after 12:00:30 UTC is 14:10:30 in Paris (summer time): said to the minute.
    assert "décidez avant 14 h 10 (10 minutes après votre connexion)" in page


@pytest.mark.parametrize(
    ("reason", "title", "restarts"),
    [
        ("invalid_request", "Cette demande ne peut pas aboutir", False),
        ("expired_form", "Le formulaire a expiré", True),
        ("expired_login", "Votre connexion a expiré", True),
        ("too_many", "Trop d'essais", True),
    ],
)
def test_the_error_page_says_what_happened_and_the_way_back(
    reason: str, title: str, restarts: bool
) -> None:
    page = error_page(
        lang="fr",
        detail="invalid_request: bad",
        reason=reason,  # type: ignore[arg-type]
        restart=CARRIED if restarts else None,
        wait_s=90,
    )
    assert f"<title>Erreur : {title}</title>" in page and f"<h1>{title}</h1>" in page
    assert '<code lang="en">invalid_request: bad</code>' in page
    assert ("Recommencer la connexion</a>" in page) is restarts
    assert ("vous a envoyé ici" in page) is (reason == "invalid_request")
    if reason == "too_many":
        assert "réessayez dans 2 minute(s)" in page


def test_the_pages_words_are_safe_and_their_values_escaped() -> None:
    words = text("asks_login", "fr", partner="<b>Partenaire</b>")
    assert str(words).startswith("&lt;b&gt;Partenaire&lt;/b&gt; vous demande")
    assert "d'Activité" in words  # the page's own apostrophe, not an escaped value
