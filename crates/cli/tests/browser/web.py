"""The web application in a real browser: Debian's chromium driven by Playwright (pinned in
scripts/test, never `playwright install`), axe-core (pinned, through axe-playwright-python)
run on every page visited. Started by crates/cli/tests/web_browser.rs, which serves a
prepared data folder and reads this script's exit code.

Usage: web.py BASE_URL PROFILE_DIR REFUSED_TRANSFER SHORT_SESSIONS_URL

SHORT_SESSIONS_URL serves an archive whose sessions end after a minute without a request.
"""

import hashlib
import re
import sys
import time

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

BASE, PROFILE, REFUSED, SHORT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
    # A session on the archive of short sessions, in a browser of its own (cookies are not
    # told apart by port): left alone until its minute is over, at the end.
    other = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    )
    idle = other.new_context(locale="fr-FR").new_page()
    idle.goto(f"{SHORT}/connexion")
    idle.get_by_label("Identifiant").fill("marie")
    idle.get_by_label("Mot de passe").fill(PASSWORD)
    idle.get_by_role("button", name="Se connecter").click()
    expect(idle).to_have_url(f"{SHORT}/")
    idle_since = time.monotonic()

    page = browser.new_page()
    # What the page's script says (errors, the CSP's refusals) goes to the test's output.
    page.on("console", lambda m: print(f"console {m.type}: {m.text}", file=sys.stderr))
    page.on("pageerror", lambda e: print(f"page error: {e}", file=sys.stderr))

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
    expect(page.get_by_text("Unités d’archives", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Intégrité et preuves")).to_be_visible()
    check_page(page, "accueil d'un service")

    # Signed out: the session ends on the server; its cookie, replayed, opens nothing.
    cookie = [c for c in browser.cookies() if c["name"] == "carnac_session"][0]
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{BASE}/connexion")
    browser.add_cookies([cookie])
    page.goto(f"{BASE}/")
    expect(page).to_have_url(f"{BASE}/connexion?session=terminee")
    expect(page.get_by_role("status")).to_contain_text("Votre session a pris fin")

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

    def no_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", no_dialog)
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
    unit_page = page.url
    digest = page.locator("code.empreinte").first.inner_text().split()[-1]
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Télécharger")).first.click()
    with open(download.value.path(), "rb") as f:
        got = hashlib.sha256(f.read()).hexdigest()
    assert got == digest, (got, digest)
    assert not dialogs, dialogs
    page.remove_listener("dialog", no_dialog)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Relevé de valeur probante")).click()
    with open(download.value.path(), "rb") as f:
        assert f.read(512)[257:262] == b"ustar", "a tar"
    page.get_by_role("link", name="Historique de l’unité (journal)").click()
    expect(page.locator("tbody")).to_contain_text("INGEST")
    check_page(page, "historique d'une unité")

    # The journal, from the menu; its verification, which the journal then records.
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Journal et preuves").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Journal et preuves")
    check_page(page, "journal")
    page.get_by_label("Type d’événement").select_option("INGEST")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tbody tr").first).to_contain_text("INGEST")
    check_page(page, "journal filtré")
    page.get_by_role("button", name="Vérifier le journal").click()
    expect(page.get_by_role("status")).to_contain_text("Journal intact")
    check_page(page, "vérification du journal")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Versements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Versements")
    check_page(page, "versements (archiviste)")
    page.get_by_role("button", name="Se déconnecter").click()

    # A producer sends a transfer from the browser (its progress shown by the script), then
    # reads why it was refused; it may not open the journal.
    sign_in(page, "paul")
    expect(page).to_have_url(f"{BASE}/")
    page.get_by_role("link", name="Versements").first.click()
    check_page(page, "versements (producteur)")
    page.get_by_role("link", name="Envoyer un versement").click()
    check_page(page, "envoi d'un versement")
    page.get_by_label("Fichier du versement (zip ou tar)").set_input_files(REFUSED)
    page.get_by_role("button", name="Envoyer").click()
    expect(page).to_have_url(re.compile(r"/versements/(?!nouveau)[^/]+$"), timeout=30000)
    for _ in range(100):
        if "Refusé" in page.get_by_role("heading", level=1).inner_text():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refusé")
    expect(page.get_by_role("heading", name="Motifs du refus")).to_be_visible()
    expect(page.locator(".motifs")).to_contain_text("empreinte")
    check_page(page, "versement refusé")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Réponse au versement")).click()
    with open(download.value.path(), encoding="utf-8") as f:
        assert "ArchiveTransferReply" in f.read()
    response = page.goto(f"{BASE}/journal")
    assert response.status == 403, response.status
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    check_page(page, "accès refusé")
    page.get_by_role("button", name="Se déconnecter").click()

    # An elimination across three accounts: the archivist proposes the units of a search,
    # the producer agrees, the control authority gives its visa with the keyboard only,
    # the archivist executes it (confirmed), and the certificate is there.
    sign_in(page, "marie")
    page.get_by_label("Service d’archives", exact=True).select_option("0")
    page.get_by_role("button", name="Choisir").click()
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Éliminations").click()
    check_page(page, "éliminations")
    page.get_by_role("link", name="Proposer une élimination").click()
    check_page(page, "proposition d'élimination")
    page.get_by_label("Les unités d’une recherche", exact=True).check()
    page.get_by_label("Mots de la recherche").fill("Registre")
    page.get_by_role("button", name="Analyser et proposer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Proposée")
    expect(page.locator("table")).to_contain_text("Registre à éliminer")
    check_page(page, "élimination proposée")
    elimination = page.url
    page.get_by_role("button", name="Se déconnecter").click()

    sign_in(page, "paul")
    page.goto(elimination)
    expect(page.get_by_role("button", name="Enregistrer le visa")).to_have_count(0)
    check_page(page, "élimination, réponse du producteur")
    page.get_by_label("J’accepte l’élimination des unités du bordereau").check()
    page.get_by_role("button", name="Enregistrer ma réponse").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acceptée par le producteur")
    response = page.request.post(f"{elimination}/visa", form={"csrf": "forged", "decision": "accorde"})
    assert response.status == 403, response.status
    page.get_by_role("button", name="Se déconnecter").click()

    sign_in(page, "claire")
    page.goto(elimination)
    check_page(page, "élimination, visa")
    # From the skip link to the visa's first choice, then to its button: keys only, and
    # the focus always visible.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    def tab_to(element_id, most=80):
        for _ in range(most):
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.id || document.activeElement.textContent")
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"focus not visible on {focused}"
            if focused == element_id:
                return
        raise SystemExit(f"{element_id} not reached with the keyboard")

    tab_to("visa-oui")
    page.keyboard.press("Space")
    expect(page.get_by_label("J’accorde le visa (sauf les unités exceptées ci-dessous)")).to_be_checked()
    tab_to("Enregistrer le visa")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Visa accordé")
    check_page(page, "élimination, visa accordé")
    page.get_by_role("button", name="Se déconnecter").click()

    sign_in(page, "marie")
    page.get_by_label("Service d’archives", exact=True).select_option("0")
    page.get_by_role("button", name="Choisir").click()
    page.goto(elimination)
    confirmations = []
    page.on("dialog", lambda d: (confirmations.append(d.message), d.accept()))
    page.get_by_role("button", name="Exécuter l’élimination").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Exécutée")
    assert confirmations and "Détruire" in confirmations[0], confirmations
    with page.expect_download() as download:
        page.get_by_role("link", name="certificat (JSON)").click()
    with open(download.value.path(), encoding="utf-8") as f:
        certificate = f.read()
    assert "Registre à éliminer" in certificate, certificate[:2000]
    check_page(page, "élimination exécutée")

    # A delivery: from a unit's page, asked, delivered, its package downloaded.
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Rechercher").click()
    page.get_by_label("Rechercher").fill("délibération")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name=re.compile("^Délibération")).click()
    page.get_by_role("link", name="Demander la communication de cette unité").click()
    check_page(page, "demande de communication")
    page.get_by_label("Demandeur (la personne ou le service qui demande)").fill("M. Le Goff")
    page.get_by_role("button", name="Demander").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("paquet à télécharger")
    check_page(page, "communication")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le paquet (zip)").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"PK"
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Communications").click()
    check_page(page, "communications")

    # A transfer to the definitive archives: proposed from a search, its package sent, the
    # archives' acceptance recorded from a file (confirmed), the units purged.
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Transferts").click()
    check_page(page, "transferts")
    page.get_by_role("link", name="Proposer un transfert aux archives définitives").click()
    check_page(page, "proposition de transfert")
    page.get_by_label("Service d’archives destinataire").select_option("Identifier1")
    page.get_by_label("Les unités d’une recherche", exact=True).check()
    page.get_by_label("Mots de la recherche").fill("transférer")
    page.get_by_role("button", name="Analyser et envoyer le paquet").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Envoyé")
    expect(page.locator("table")).to_contain_text("Dossier à transférer")
    check_page(page, "transfert envoyé")
    transfer = page.locator("dl.fiche code").inner_text()
    reply = (
        '<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">'
        "<Date>2026-12-04T10:00:00</Date><MessageIdentifier>AD-OK</MessageIdentifier>"
        f"<CodeListVersions/><ReplyCode>OK</ReplyCode><MessageRequestIdentifier>{transfer}"
        "</MessageRequestIdentifier></ArchiveTransferReply>"
    )
    page.get_by_label("Fichier du message (XML)").set_input_files(
        files=[{"name": "reponse.xml", "mimeType": "application/xml", "buffer": reply.encode()}]
    )
    page.get_by_role("button", name="Enregistrer le message").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Terminé")
    assert any("purgées" in c for c in confirmations), confirmations
    expect(page.get_by_role("link", name="Télécharger le certificat (JSON)")).to_be_visible()
    check_page(page, "transfert terminé")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Restitutions").click()
    check_page(page, "restitutions")
    page.get_by_role("link", name="Proposer une restitution au producteur").click()
    check_page(page, "proposition de restitution")
    transfer_page = f"{BASE}/transferts/{transfer}"

    # Reflow (WCAG 1.4.10): at 320 px wide, and at 640 px (a 1280 px screen at 200 %), no
    # page scrolls sideways; wide tables scroll inside their own region.
    wide = page.viewport_size
    for width in (320, 640):
        page.set_viewport_size({"width": width, "height": 800})
        for path in (
            "/",
            "/recherche?q=d%C3%A9lib%C3%A9ration",
            "/versements",
            "/eliminations",
            elimination[len(BASE):],
            unit_page[len(BASE):],
            unit_page[len(BASE):] + "/historique",
            "/communications",
            "/transferts",
            transfer_page[len(BASE):],
            "/restitutions/nouvelle",
            "/journal",
        ):
            page.goto(f"{BASE}{path}")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                # The elements that stick out, to say what to fix.
                out = page.evaluate(
                    """w => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > w + 1)
                    .slice(0, 8)
                    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""",
                    width,
                )
                raise SystemExit(f"{path} is {scroll} px wide at {width} px: {out}")
            expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.set_viewport_size(wide)
    page.get_by_role("button", name="Se déconnecter").click()

    # The operator creates a tenant and an account for it; the account signs in there.
    sign_in(page, "olivier")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Administration").click()
    check_page(page, "administration, services")
    page.get_by_label("Identifiant du service (lettres, chiffres, tirets)").fill("brest")
    page.get_by_label("Nom (la collectivité)").fill("Ville de Brest")
    page.get_by_role("button", name="Créer le service").click()
    expect(page.locator("table")).to_contain_text("Ville de Brest")
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Comptes").click()
    check_page(page, "administration, comptes")
    page.get_by_label("Identifiant", exact=True).fill("lea")
    page.get_by_label("Rôle").select_option("archivist")
    page.get_by_label("Services d’archives (identifiants, séparés par des virgules)").fill("brest")
    page.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.get_by_role("status")).to_contain_text("est créé")
    check_page(page, "administration, compte créé")
    page.get_by_role("link", name="lea", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compte lea")
    check_page(page, "administration, un compte")
    page.get_by_role("link", name="Tous les comptes").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Référentiels").click()
    page.get_by_label("Service d’archives").select_option("0")
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("heading", name="Règles de gestion")).to_be_visible()
    check_page(page, "administration, référentiels")
    # A tenant's export, followed until it ends (the script reloads the page then), and
    # downloaded.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Exports").click()
    page.get_by_label("Service d’archives").select_option("0")
    page.get_by_role("button", name="Afficher").click()
    check_page(page, "administration, exports")
    page.get_by_role("button", name="Lancer l’export").click()
    download_link = page.get_by_role("link", name="Télécharger l’export (tar)")
    expect(download_link).to_be_visible(timeout=60000)
    with page.expect_download() as download:
        download_link.click()
    with open(download.value.path(), "rb") as f:
        assert f.read(512)[257:262] == b"ustar", "a tar"
    check_page(page, "administration, export terminé")
    # The script's following of a running export, against the real progress answer (the
    # export above ends before its page is shown): asked after 3 s, it answers "not
    # running", and the page is loaded again.
    href = page.get_by_role("link", name="Télécharger l’export (tar)").get_attribute("href")
    with page.expect_navigation(timeout=20000):
        page.evaluate(
            """url => {
                const step = document.createElement('div');
                step.className = 'etape';
                step.innerHTML = '<progress data-suivi="' + url + '"></progress><p data-suivi-texte></p>';
                document.querySelector('main').appendChild(step);
                followProgress(step.querySelector('progress'));
            }""",
            href.replace("/archive", "/etat"),
        )
    expect(page.locator("progress")).to_have_count(0)
    expect(download_link).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()
    sign_in(page, "lea")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accueil — brest")

    # The idle session: once its minute is over, the next page is the sign-in page, which
    # says the session ended.
    time.sleep(max(0.0, idle_since + 65 - time.monotonic()))
    idle.goto(f"{SHORT}/recherche?q=x")
    expect(idle).to_have_url(f"{SHORT}/connexion?session=terminee")
    expect(idle.get_by_role("status")).to_contain_text("Votre session a pris fin")
    check_page(idle, "session expirée")
    other.close()

    browser.close()

print(f"web: {len(visited)} pages checked with axe: {' | '.join(visited)}")
