"""Screenshots of the web application's main pages, for the README: a fresh archive made
with the `carnac` binary (a tenant, its referentials, accounts, transfers, an eliminable
unit), served on a free loopback port, then visited in Debian's chromium through the same
pinned Playwright as the browser test. Run by scripts/screenshots, not by the tests.

Usage: screenshots.py CARNAC_BINARY TESTDATA_DIR OUTPUT_DIR
"""

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

from playwright.sync_api import expect, sync_playwright

CARNAC, TESTDATA, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
PASSWORD = "Un mot de passe de démonstration"


def carnac(data, *args):
    out = subprocess.run(
        [CARNAC, "--data", data, *args], capture_output=True, text=True, env={**os.environ, "RUST_LOG": "error"}
    )
    if out.returncode != 0:
        raise SystemExit(f"carnac {' '.join(args)}: {out.stderr}")
    return out.stdout


def sip(title, content, declared=None, agency="FRAN_NP_009913", date="2019-03-04"):
    """A SEDA 2.2 transfer of one unit with one file (its manifest declaring `declared`)."""
    declared = content if declared is None else declared
    esc = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
<Date>2026-12-04T04:00:00</Date><MessageIdentifier>demo</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
<CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
<DataObjectPackage><DataObjectGroup id="G1"><BinaryDataObject id="O1"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/f.txt</Uri><MessageDigest algorithm="SHA-256">{hashlib.sha256(declared).hexdigest()}</MessageDigest><Size>{len(declared)}</Size><FileInfo><Filename>document.txt</Filename></FileInfo></BinaryDataObject></DataObjectGroup>
<DescriptiveMetadata><ArchiveUnit id="U1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>{esc}</Title><Description>Pièce versée par le secrétariat de mairie.</Description><Keyword><KeywordContent>conseil municipal</KeywordContent></Keyword><StartDate>{date}</StartDate><EndDate>{date}</EndDate></Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit></DescriptiveMetadata>
<ManagementMetadata><OriginatingAgencyIdentifier>{agency}</OriginatingAgencyIdentifier></ManagementMetadata>
</DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.xml", manifest)
        z.writestr("Content/f.txt", content)
    return buf.getvalue()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data):
    carnac(data, "tenant", "create", "0", "--name", "Commune de Carnac")
    carnac(data, "referential", "import", "--tenant", "0", os.path.join(TESTDATA, "referentials/tenant-0"))
    pw = os.path.join(data, "demo.pw")
    with open(pw, "w", encoding="utf-8") as f:
        f.write(PASSWORD + "\n")
    for login, role in [("marie", "archivist"), ("paul", "producer"), ("claire", "control-authority"), ("olivier", "operator")]:
        args = ["account", "create", login, "--role", role, "--password-file", pw]
        if role != "operator":
            args += ["--tenant", "0"]
        carnac(data, *args)
    for i, (title, date) in enumerate(
        [
            ("Délibération du conseil municipal sur la voirie", "2019-03-04"),
            ("Délibération relative au budget primitif", "2020-04-14"),
            ("Arrêté du maire portant alignement", "2021-06-01"),
            ("Délibération créant un emploi saisonnier", "2022-05-30"),
        ]
    ):
        path = os.path.join(data, f"t{i}.zip")
        with open(path, "wb") as f:
            f.write(sip(title, f"Texte de la pièce {i}.\n".encode(), date=date))
        carnac(data, "ingest", "--tenant", "0", path)
    # A unit whose retention is over, to be eliminated.
    path = os.path.join(data, "registre.zip")
    with open(path, "wb") as f:
        f.write(sip("Registre des entrées de la bibliothèque (doublon)", b"registre\n", date="1998-01-01"))
    atr = os.path.join(data, "registre-atr.xml")
    carnac(data, "ingest", "--tenant", "0", path, "--atr", atr)
    with open(atr, encoding="utf-8") as f:
        unit = re.search(r"<SystemId>([^<]+)</SystemId>", f.read()).group(1)
    changes = os.path.join(data, "changes.json")
    with open(changes, "w", encoding="utf-8") as f:
        json.dump(
            {
                "units": [unit],
                "actions": [
                    {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                    {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"},
                ],
            },
            f,
        )
    carnac(data, "rules", "change", "--tenant", "0", "--file", changes)
    carnac(data, "seal")
    bad = os.path.join(data, "refuse.zip")
    with open(bad, "wb") as f:
        f.write(sip("Délibération transmise deux fois", b"recu\n", declared=b"declare\n"))
    return bad


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        bad = prepare(data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [CARNAC, "--data", data, "serve", "--listen", f"127.0.0.1:{port}"],
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            shoot(base, bad)
        finally:
            server.kill()
            server.wait()


def shoot(base, bad):
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
        page = context.new_page()

        def shot(name):
            page.screenshot(path=os.path.join(OUT, f"{name}.png"))
            print(f"{OUT}/{name}.png")

        def sign_in(login):
            context.clear_cookies()
            page.goto(f"{base}/connexion")
            page.get_by_label("Identifiant").fill(login)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()

        page.goto(f"{base}/connexion")
        shot("connexion")
        sign_in("marie")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Accueil")
        shot("accueil")
        page.get_by_label("Rechercher").first.fill("délibération")
        page.get_by_role("button", name="Rechercher").click()
        shot("recherche")
        page.get_by_role("link", name=re.compile("^Délibération du conseil")).click()
        shot("unite")
        page.goto(f"{base}/journal")
        shot("journal")
        page.get_by_role("button", name="Vérifier le journal").click()
        shot("journal-verification")
        page.goto(f"{base}/eliminations/nouvelle")
        page.get_by_role("button", name="Analyser et proposer").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Proposée")
        elimination = page.url
        sign_in("paul")
        page.goto(f"{base}/versements/nouveau")
        page.get_by_label("Fichier du versement (zip ou tar)").set_input_files(bad)
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_url(re.compile(r"/versements/(?!nouveau)[^/]+$"))
        for _ in range(100):
            if "Refusé" in page.get_by_role("heading", level=1).inner_text():
                break
            page.wait_for_timeout(200)
            page.reload()
        shot("versement-refuse")
        page.goto(f"{base}/versements")
        shot("versements")
        page.goto(elimination)
        page.get_by_label("J’accepte l’élimination des unités du bordereau").check()
        page.get_by_role("button", name="Enregistrer ma réponse").click()
        sign_in("claire")
        page.goto(elimination)
        shot("elimination-visa")
        sign_in("olivier")
        page.goto(f"{base}/administration")
        shot("administration")
        page.set_viewport_size({"width": 320, "height": 800})
        sign_in("marie")
        shot("accueil-320px")
        browser.close()


main()
