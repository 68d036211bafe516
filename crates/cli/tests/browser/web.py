"""The web application in a real browser: Debian's chromium driven by Playwright (pinned in
scripts/test, never `playwright install`), axe-core (pinned, through axe-playwright-python)
run on every page visited. Started by crates/cli/tests/web_browser.rs, which serves a
prepared data folder and reads this script's exit code.

Usage: web.py BASE_URL PROFILE_DIR
"""

import hashlib
import re
import sys

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

BASE, PROFILE = sys.argv[1], sys.argv[2]
TITLE = "Délibération <script>alert(\"x\")</script> d'O'Brien"
PASSWORD = "Mot de passe très long"
axe = Axe()
visited = []


def check_page(page, what):
    """axe on the page as it is: no violation of level serious or critical."""
    results = axe.run(page)
    bad = [
        v
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    visited.append(what)
    if bad:
        for v in bad:
            print(f"axe, {what}: {v['id']} ({v['impact']}): {v['help']}", file=sys.stderr)
            for node in v["nodes"][:5]:
                print(f"    {node['target']}", file=sys.stderr)
        raise SystemExit(f"accessibility violations on {what}")


def sign_in(page, login, password=PASSWORD):
    page.goto(f"{BASE}/connexion")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


with sync_playwright() as p:
    browser = p.chromium.launch_persistent_context(
        PROFILE,
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        locale="fr-FR",
    )
    page = browser.new_page()

    # Nobody signed in: the sign-in page.
    page.goto(f"{BASE}/")
    expect(page).to_have_url(f"{BASE}/connexion")
    expect(page).to_have_title("Connexion — Carnac")
    check_page(page, "connexion")

    # The keyboard: the skip link comes first, and leads to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # A wrong password: one message, tied to the fields, the login kept.
    sign_in(page, "marie", "faux")
    expect(page.get_by_role("alert")).to_contain_text("Identifiant ou mot de passe incorrect")
    expect(page.get_by_label("Identifiant")).to_have_value("marie")
    expect(page.get_by_label("Mot de passe")).to_have_attribute("aria-describedby", "erreur-connexion")
    check_page(page, "connexion, erreur")

    # Signed in with the keyboard only.
    page.goto(f"{BASE}/connexion")
    page.get_by_label("Identifiant").focus()
    page.keyboard.type("marie")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{BASE}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accueil")
    session = [c for c in browser.cookies() if c["name"] == "carnac_session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict", session
    check_page(page, "accueil, choix du service")

    # Two tenants: one is chosen, then its volume is shown.
    page.get_by_label("Service d’archives", exact=True).select_option("0")
    page.get_by_role("button", name="Choisir").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accueil — 0")
    expect(page.get_by_text("Unités d’archives")).to_be_visible()
    check_page(page, "accueil d'un service")

    # Signed out: the session ends on the server; its cookie, replayed, opens nothing.
    cookie = [c for c in browser.cookies() if c["name"] == "carnac_session"][0]
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{BASE}/connexion")
    browser.add_cookies([cookie])
    page.goto(f"{BASE}/")
    expect(page).to_have_url(f"{BASE}/connexion")

    # A form posted from elsewhere (no token of this session) is refused.
    sign_in(page, "marie")
    expect(page).to_have_url(f"{BASE}/")
    response = page.request.post(f"{BASE}/deconnexion", form={"csrf": "forged"})
    assert response.status == 403, response.status
    page.goto(f"{BASE}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accueil")
    check_page(page, "accueil après une demande refusée")

    # A search with a facet, then the unit, then its file, whose digest is checked. A title
    # with markup is shown as text, and nothing in it runs.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_label("Service d’archives", exact=True).select_option("0")
    page.get_by_role("button", name="Choisir").click()
    page.get_by_label("Rechercher").fill("délibération")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", level=2).first).to_have_text("1 résultat")
    check_page(page, "recherche")
    page.get_by_role("link", name="FRAN_NP_009913").click()
    expect(page.get_by_text("retirer ce filtre")).to_be_visible()
    check_page(page, "recherche avec une facette")
    page.get_by_role("link", name=re.compile("^Délibération")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    check_page(page, "unité")
    digest = page.locator("code.empreinte").first.inner_text().split()[-1]
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Télécharger")).first.click()
    with open(download.value.path(), "rb") as f:
        got = hashlib.sha256(f.read()).hexdigest()
    assert got == digest, (got, digest)
    assert not dialogs, dialogs

    browser.close()

print(f"web: {len(visited)} pages checked with axe: {' | '.join(visited)}")
