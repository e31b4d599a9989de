"""Assistant web (`dce serveur`) : une consultation de travaux en plusieurs lots remplie dans un vrai navigateur.

Chromium des paquets Debian, piloté sans écran par Playwright. Sans Chromium ni Playwright les tests du
navigateur sont ignorés sur un poste ; sous CI=true leur absence fait échouer la suite. Les tests du
client Flask (fichier envoyé, jeton CSRF, hôte, échappement) tournent partout où Flask est installé.

DCE_CAPTURES=DOSSIER enregistre au passage les captures d'écran des guides (`make captures` : docs/captures).
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import EXEMPLES, RACINE, Lu, ecrire, reponses, reponses_seules

SOUS_CI = os.environ.get("CI") == "true"
CHROMIUM = os.environ.get("DCE_CHROMIUM", "/usr/bin/chromium")
ARGUMENTS_CHROMIUM = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--no-first-run", "--lang=fr-FR"]


def _exiger(module: str):
    try:
        return pytest.importorskip(module)
    except pytest.skip.Exception:
        if SOUS_CI:
            pytest.fail(f"{module} est requis en intégration continue (CI=true) : .ci/run doit l'installer")
        raise


_exiger("flask")
from generateur.interfaces.web import create_app  # noqa: E402


# --- client Flask : sans navigateur --------------------------------------------------------------------

@pytest.fixture
def client(tmp_path):
    app = create_app(RACINE, tmp_path / "consultations")
    return app.test_client()


def _jeton(client) -> str:
    page = client.get("/")
    return re.search(r'name="_csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def _envoyer(client, contenu: bytes, nom: str = "reponses.yaml"):
    return client.post("/reprendre", data={"_csrf": _jeton(client), "fichier": (io.BytesIO(contenu), nom)},
                       content_type="multipart/form-data")


def test_formulaire_sans_jeton_refuse(client):
    refus = client.post("/nouvelle", data={})
    assert refus.status_code == 400
    assert "Jeton de sécurité absent ou expiré" in refus.get_data(as_text=True)
    assert client.post("/nouvelle", data={"_csrf": "faux"}).status_code == 400
    accepte = client.post("/nouvelle", data={"_csrf": _jeton(client)})
    assert accepte.status_code == 302 and "/saisie/" in accepte.location


def test_hote_inconnu_refuse(client):
    """Une page d'un autre site qui se ferait passer pour 127.0.0.1 (rebond DNS) n'obtient rien."""
    assert client.get("/", headers={"Host": "attaquant.example"}).status_code == 400
    assert client.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_fichier_de_reponses_valide_repris(client):
    reponse = _envoyer(client, (EXEMPLES / "travaux-lycee.yaml").read_bytes(), "travaux-lycee.yaml")
    assert reponse.status_code == 302 and reponse.location.endswith("/recapitulatif")
    recap = client.get(reponse.location).get_data(as_text=True)
    assert "repris : il est complet et valide" in recap
    assert "Générer le DCE" in recap and "Gros œuvre et démolition" in recap
    assert "1\u00a0450\u00a0000,00\u00a0€\u00a0HT" in recap  # montant à la française (saisie.afficher)
    fichier = client.get(reponse.location.replace("recapitulatif", "reponses.yaml"))
    assert fichier.headers["Content-Disposition"].startswith('attachment; filename="2026-TRX-0417-reponses.yaml"')
    relu = yaml.safe_load(fichier.get_data(as_text=True))
    assert relu["reference"] == "2026-TRX-0417" and len(relu["lots"]) == 5


def test_regenerer_sans_changement_garde_la_version(client, tmp_path):
    """Générer, rouvrir la consultation, regénérer sans rien changer : la version 001 reste en vigueur."""
    recap = _envoyer(client, reponses_seules("nettoyage-hotel-region.yaml")).location
    jeton = _jeton(client)
    premiere = client.post(recap.replace("recapitulatif", "generer"), data={"_csrf": jeton})
    assert premiere.status_code == 302
    consultation = html.unescape(client.get(premiere.location).get_data(as_text=True))
    assert "DCE généré : version 001." in consultation and "Contrôles juridiques" in consultation
    reouverte = client.post(premiere.location + "/modifier", data={"_csrf": jeton})
    seconde = client.post(reouverte.location.replace("recapitulatif", "generer"), data={"_csrf": jeton})
    assert "Documents inchangés : la version 001 reste en vigueur." in html.unescape(
        client.get(seconde.location).get_data(as_text=True))
    archive = zipfile.ZipFile(io.BytesIO(client.get(premiere.location + "/dce.zip").data))
    assert {f"2026-SRV-0388-{piece}.docx" for piece in ("RC", "CCAP", "CCTP", "annexe-conformite")} <= set(
        archive.namelist())


def test_fichier_de_reponses_invalide_signale_comme_la_ligne_de_commande(client):
    """YAML illisible : refusé avec sa ligne ; réponses invalides : reprises, problèmes listés avec leur ligne."""
    illisible = _envoyer(client, b"reference: X\nlots: [\n", "casse.yaml")
    assert illisible.status_code == 422
    page = illisible.get_data(as_text=True)
    assert "Le fichier n'a pas pu être repris" in page and "casse.yaml, ligne" in page

    texte = (EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8")
    texte = texte.replace("duree_mois: 18", "duree_mois: dix-huit").replace("nature: travaux", "nature: travaux\nbudget: 3")
    reprise = _envoyer(client, texte.encode("utf-8"), "erreurs.yaml")
    assert reprise.status_code == 302
    recap = client.get(reprise.location).get_data(as_text=True)
    ligne = next(i for i, l in enumerate(texte.splitlines(), 1) if l.startswith("duree_mois"))
    assert f"erreurs.yaml, ligne {ligne}\u00a0: Durée du marché (en mois)\u00a0: valeur invalide" in recap
    assert "champ inconnu «\u00a0budget\u00a0»" in recap
    assert "Générer le DCE</button>" not in recap  # rien n'est généré tant qu'un problème reste


def test_fichier_non_utf8_et_trop_gros(client):
    assert "pas encodé en UTF-8" in _envoyer(client, "objet: é".encode("latin-1")).get_data(as_text=True)
    enorme = _envoyer(client, b"#" * (3 * 1024 * 1024))
    assert enorme.status_code == 413 and "Envoi trop volumineux" in enorme.get_data(as_text=True)


def test_valeurs_saisies_restent_des_donnees(client):
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    client.post(f"{saisie}/consultation", data={"_csrf": jeton, "action": "aller:consultation",
                                                "objet": "<script>alert(1)</script> {{ 7*7 }}"})
    page = client.get(f"{saisie}/consultation").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page and "<script>alert" not in page


@pytest.mark.parametrize("saisi, attendu", [("1.200.000", 1200000), ("1 200 000", 1200000),
                                            ("1\u202f200\u202f000,50 €", 1200000.5), ("950000", 950000)])
def test_montants_lus_comme_au_terminal(client, saisi, attendu):
    """Un seul analyseur de nombres (saisie.lire_nombre) : ce que le terminal accepte, le navigateur l'accepte."""
    from generateur.donnees import questionnaire, saisie

    montant = questionnaire.charger(RACINE / "questionnaire.yaml").question("lots.montant_estime")
    assert saisie.interpreter(montant, saisi) == attendu  # le terminal (dce nouveau)
    jeton = _jeton(client)
    adresse = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    client.post(f"{adresse}/lots", data={"_csrf": jeton, "action": "aller:lots", "lots.__nombre": "1",
                                          "lots.0.numero": "1", "lots.0.intitule": "Lot unique",
                                          "lots.0.montant_estime": saisi})
    enregistre = yaml.safe_load(client.get(f"{adresse}/reponses.yaml").get_data(as_text=True))
    assert enregistre["lots"][0]["montant_estime"] == attendu  # le navigateur


def test_numero_du_lot_propose_d_office(client):
    """Le numéro d'un lot n'est pas à taper : « Lot 1 » porte 1, le lot ajouté porte le suivant."""
    jeton = _jeton(client)
    adresse = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    page = html.unescape(client.get(f"{adresse}/lots").get_data(as_text=True))
    assert re.search(r'name="lots\.0\.numero" value="1"', page)
    client.post(f"{adresse}/lots", data={"_csrf": jeton, "action": "ajouter:lots", "lots.__nombre": "1",
                                          "lots.0.numero": "1", "lots.0.intitule": "Papier"})
    enregistre = yaml.safe_load(client.get(f"{adresse}/reponses.yaml").get_data(as_text=True))
    assert [l.get("numero") for l in enregistre["lots"]] == [1, 2]


def test_sans_javascript_les_questions_conditionnelles_apparaissent_a_l_envoi(client):
    """Sans script, « Enregistrer et continuer » montre d'abord les questions que la réponse fait apparaître."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    avant = html.unescape(client.get(f"{saisie}/spaser").get_data(as_text=True))
    assert re.search(r'data-question="spaser.insertion.facilitateur" data-condition hidden>', avant)
    envoi = {"_csrf": jeton, "spaser.insertion.actif": "oui", "_visibles": "", "action": "suivant"}
    reste = client.post(f"{saisie}/spaser", data=envoi)
    page = html.unescape(reste.get_data(as_text=True))
    assert reste.status_code == 200 and "Vos réponses font apparaître de nouvelles questions" in page
    assert "Facilitateur de la clause d'insertion" in page
    assert re.search(r'data-question="spaser.insertion.facilitateur" data-condition>', page)
    vues = "spaser.insertion.taux spaser.insertion.cout_horaire spaser.insertion.facilitateur"
    suite = client.post(f"{saisie}/spaser", data={**envoi, "_visibles": vues})
    assert suite.status_code == 302 and suite.location.endswith("/recapitulatif")


def test_formulaire_produit_depuis_le_questionnaire(tmp_path):
    """Une question ajoutée à questionnaire.yaml apparaît dans le formulaire, sans une ligne de HTML."""
    racine = tmp_path / "catalogue"
    shutil.copytree(RACINE, racine, ignore=shutil.ignore_patterns(".*", "tests", "sortie*", "*.egg-info", "benchmarks"))
    texte = (racine / "questionnaire.yaml").read_text(encoding="utf-8")
    ajout = ('      - id: lieu_execution\n'
             '        replie: true\n'
             '        libelle: "Lieu d\'exécution"\n'
             '        type: texte\n'
             '        defaut: ""\n'
             '      - id: nombre_sites\n'
             '        libelle: "Nombre de sites desservis"\n'
             '        aide: "Question d\'essai ajoutée par le test."\n'
             '        type: entier\n'
             '        min: 1\n')
    assert texte.count('      - id: lieu_execution\n        replie: true\n        libelle: "Lieu d\'exécution"\n        type: texte\n        defaut: ""\n') == 1
    (racine / "questionnaire.yaml").write_text(texte.replace(ajout.split("      - id: nombre_sites")[0], ajout), encoding="utf-8")
    client = create_app(racine, tmp_path / "consultations").test_client()
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    page = client.get(f"{saisie}/consultation").get_data(as_text=True)
    assert '<label for="c-nombre_sites">Nombre de sites desservis</label>' in page
    assert 'aria-describedby="c-nombre_sites-aide"' in page
    envoi = client.post(f"{saisie}/consultation", data={"_csrf": jeton, "nombre_sites": "0", "action": "suivant"})
    assert envoi.status_code == 422
    page = envoi.get_data(as_text=True)
    assert "Nombre de sites desservis\u00a0: valeur 0 trop petite\u00a0: au moins 1 attendu" in page
    assert "nombre_sites\u00a0»" not in page  # aucune clé interne à l'écran


def test_refus_d_une_suggestion_imposee_par_la_loi_exige_une_justification(client, tmp_path):
    """Au-delà du seuil européen, la clause sociale s'impose (CCP L2112-2-1) : la refuser demande une justification."""
    donnees = reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 180000},
                             {"numero": 2, "intitule": "Enveloppes", "montant_estime": 120000}])
    saisie = _envoyer(client, ecrire(tmp_path, donnees).read_bytes()).location.rsplit("/", 1)[0]
    page = html.unescape(client.get(f"{saisie}/suggestions").get_data(as_text=True))
    assert "Clause d'insertion par l'activité économique" in page and "imposé par la loi" in page
    assert "Justification de l'absence de condition d'exécution sociale" in page
    jeton = _jeton(client)
    refus = client.post(f"{saisie}/suggestions", data={"_csrf": jeton, "suggestion.insertion": "non", "action": "suivant"})
    assert refus.status_code == 422
    assert "justification obligatoire pour refuser (CCP L2112-2-1" in html.unescape(refus.get_data(as_text=True))
    motif = "Marché de fournitures livrées par transporteur : aucune heure de main-d'œuvre sur place."
    justifie = client.post(f"{saisie}/suggestions", data={"_csrf": jeton, "suggestion.insertion": "non",
                                                          "justification.insertion": motif, "action": "suivant"})
    assert justifie.status_code == 302 and justifie.location.endswith("/spaser")
    fichier = yaml.safe_load(client.get(f"{saisie}/reponses.yaml").get_data(as_text=True))
    assert fichier["justifications"]["absence_clause_sociale"] == motif
    accepte = client.post(f"{saisie}/suggestions", data={"_csrf": jeton, "suggestion.insertion": "oui"})
    assert accepte.status_code == 302
    assert yaml.safe_load(client.get(f"{saisie}/reponses.yaml").get_data(as_text=True))["spaser"]["insertion"]["actif"] is True


def test_commande_dce_serveur_ecoute_sur_la_machine_seule(tmp_path):
    """`dce serveur --port 0` : 127.0.0.1 par défaut, l'adresse affichée répond."""
    import subprocess
    import sys
    import urllib.request

    commande = [sys.executable, "-c", "from generateur.interfaces.cli import main; main()", "--catalogue", str(RACINE), "serveur", "--port", "0",
                "--consultations", str(tmp_path / "consultations")]
    processus = subprocess.Popen(commande, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        ligne = processus.stdout.readline()
        adresse = re.search(r"(http://127\.0\.0\.1:\d+/)", ligne)
        assert adresse, ligne + processus.stderr.read() if processus.poll() is not None else ligne
        with urllib.request.urlopen(adresse.group(1), timeout=10) as page:
            assert page.status == 200 and "Commencer une nouvelle consultation" in page.read().decode("utf-8")
    finally:
        processus.terminate()
        processus.wait(timeout=10)


# --- navigateur ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def serveur(tmp_path_factory):
    """L'application sur 127.0.0.1, port libre, dans un fil d'exécution."""
    from werkzeug.serving import make_server

    dossier = tmp_path_factory.mktemp("consultations")
    serveur_http = make_server("127.0.0.1", 0, create_app(RACINE, dossier), threaded=True)
    fil = threading.Thread(target=serveur_http.serve_forever, daemon=True)
    fil.start()
    yield f"http://127.0.0.1:{serveur_http.server_port}", dossier
    serveur_http.shutdown()


@pytest.fixture(scope="module")
def navigateur():
    if not Path(CHROMIUM).is_file():
        message = f"Chromium absent ({CHROMIUM}) : paquet Debian « chromium »"
        if SOUS_CI:
            pytest.fail(message + " requis en intégration continue (CI=true) : .ci/run doit l'installer")
        pytest.skip(message)
    sync_api = _exiger("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGUMENTS_CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def page(navigateur):
    contexte = navigateur.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR", accept_downloads=True)
    contexte.set_default_timeout(10000)
    onglet = contexte.new_page()
    hors_machine: list[str] = []
    onglet.on("request", lambda r: hors_machine.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    yield onglet
    contexte.close()
    assert hors_machine == [], f"requêtes hors de la machine : {hors_machine}"


def capture(page, nom: str) -> None:
    """Capture d'écran des guides (docs/) quand DCE_CAPTURES désigne un dossier (PNG en palette, < 150 Ko)."""
    dossier = os.environ.get("DCE_CAPTURES")
    if not dossier:
        return
    from PIL import Image

    chemin = Path(dossier) / f"{nom}.png"
    chemin.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot(full_page=False)))
    image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(chemin, optimize=True)


def attendre(cible):
    """Assertion Playwright qui attend la page suivante (expect)."""
    from playwright.sync_api import expect

    return expect(cible)


def _groupe(page, nom: str):
    return page.get_by_role("group", name=re.compile(re.escape(nom)))


def _continuer(page) -> None:
    page.get_by_role("button", name="Enregistrer et continuer", exact=True).last.click()


SANS_ETIQUETTE = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(c => !c.closest('[hidden]') && c.labels.length === 0).map(c => c.name)"""


def test_question_conditionnelle(page, serveur):
    """La filière BTP n'est posée que pour des travaux ; l'insertion déplie ses questions sans rechargement."""
    adresse, _ = serveur
    page.goto(adresse + "/")
    page.keyboard.press("Tab")  # premier arrêt du clavier : le lien d'évitement
    attendre(page.locator(":focus")).to_have_text("Aller au contenu")
    page.get_by_role("button", name="Commencer une nouvelle consultation").click()
    page.get_by_role("button", name="La consultation").click()
    attendre(page.locator("h1")).to_have_text("La consultation")
    _groupe(page, "Nature du marché").get_by_label("Fournitures", exact=True).check()
    page.get_by_role("button", name="Achat responsable (SPASER)").click()
    attendre(page.locator("h1")).to_have_text("Achat responsable (SPASER)")
    attendre(_groupe(page, "Lots relevant du contrat de filière BTP")).to_be_hidden()
    facilitateur = page.get_by_label("Facilitateur de la clause d'insertion")
    assert not facilitateur.is_visible()
    _groupe(page, "Clause d'insertion par l'activité économique").get_by_label("Oui", exact=True).check()
    facilitateur.wait_for(state="visible")  # affichée par le serveur via le petit script, sans envoi du formulaire
    assert "Question affichée" in page.locator("#annonces").text_content()
    _groupe(page, "Clause d'insertion par l'activité économique").get_by_label("Non", exact=True).check()
    facilitateur.wait_for(state="hidden")

    page.get_by_role("button", name="La consultation").click()
    attendre(page.locator("h1")).to_have_text("La consultation")
    _groupe(page, "Nature du marché").get_by_label("Travaux", exact=True).check()
    page.get_by_role("button", name="Achat responsable (SPASER)").click()
    attendre(_groupe(page, "Lots relevant du contrat de filière BTP")).to_be_visible()


LOTS = [("Gros œuvre et désamiantage", "640 000", "55"), ("Menuiseries extérieures bois", "210000", ""),
        ("Chauffage et ventilation", "330 000,50", "")]
CRITERES = [("Prix des prestations", "40", "Prix"), ("Valeur technique", "45", "Valeur technique"),
            ("Performance environnementale du chantier", "15", "Performance environnementale")]


def test_consultation_de_travaux_en_plusieurs_lots(page, serveur, tmp_path):
    """De la page d'accueil au zip : ce que fait un acheteur qui ne connaît que `dce serveur`."""
    adresse, dossier = serveur
    page.goto(adresse + "/")
    assert page.title() == "Consultations – dce"
    page.get_by_role("button", name="Commencer une nouvelle consultation").click()

    # L'acheteur : valeur par défaut du questionnaire
    attendre(page.get_by_label("Profil d'acheteur")).to_have_value("occitanie")
    _continuer(page)

    # La consultation, avec une erreur de validation affichée près du champ
    page.get_by_label("Référence de la consultation").fill("2027-TRX-0042")
    page.get_by_label("Objet de la consultation").fill("Réhabilitation du gymnase du lycée Jean-Jaurès à Castres")
    _groupe(page, "Nature du marché").get_by_label("Travaux", exact=True).check()
    page.get_by_label("Famille d'achat").select_option("batiment")
    page.get_by_label("Code CPV principal").fill("4521")
    page.get_by_label("Date de lancement de la consultation").fill("2026-12-01")
    page.get_by_label("Date et heure limites de remise des plis").fill("2027-01-20T12:00")
    page.get_by_label("Durée du marché (en mois)").fill("14")
    _continuer(page)
    attendre(page).to_have_title(re.compile("^Erreur : La consultation"))
    cpv = page.get_by_label("Code CPV principal")
    assert cpv.get_attribute("aria-invalid") == "true"
    assert "c-cpv-erreur" in cpv.get_attribute("aria-describedby")
    erreur = page.locator("#c-cpv-erreur")
    assert "Format invalide «\u00a04521\u00a0»" in erreur.text_content()
    assert "cpv" not in erreur.text_content()  # près du champ, le message sans clé interne
    assert page.locator("#resume-erreurs").evaluate("e => e === document.activeElement")  # le focus sur le résumé
    assert page.locator("#resume-erreurs a[href='#c-cpv']").count() == 1
    assert page.get_by_label("Référence de la consultation").input_value() == "2027-TRX-0042"  # rien n'est perdu
    capture(page, "section-erreur")
    cpv.fill("45212200-8")
    cpv.press("Enter")  # Entrée dans un champ : « Enregistrer et continuer », pas « Précédent »

    # Le prix et les variantes : valeurs par défaut
    attendre(page.locator("h1")).to_have_text("Le prix")
    _continuer(page)
    attendre(page.locator("h1")).to_have_text("Variantes")
    _continuer(page)

    # Les lots : trois lots, un quatrième ajouté puis supprimé
    attendre(page.locator("h1")).to_have_text("Les lots")
    for rang, (intitule, montant, main_oeuvre) in enumerate(LOTS, start=1):
        if rang > 1:
            page.get_by_role("button", name="Ajouter un lot").click()
        lot = _groupe(page, f"Lot {rang}")
        lot.get_by_label("Numéro du lot").fill(str(rang))
        lot.get_by_label("Intitulé du lot").fill(intitule)
        lot.get_by_label("Montant estimé du lot (€ HT)").fill(montant)
        if main_oeuvre:
            lot.get_by_text("Précisions facultatives").click()
            lot.get_by_label("Part de la main-d'œuvre dans le montant du lot (%)").fill(main_oeuvre)
    if os.environ.get("DCE_CAPTURES"):
        page.evaluate("window.scrollTo(0, 0)")
        capture(page, "lots")
    page.get_by_role("button", name="Ajouter un lot").click()
    attendre(_groupe(page, "Lot 4")).to_be_visible()
    assert page.evaluate(SANS_ETIQUETTE) == []  # chaque champ, listes imbriquées comprises, a son étiquette
    page.get_by_role("button", name="Supprimer le lot 4").click()
    attendre(_groupe(page, "Lot 4")).to_have_count(0)
    assert _groupe(page, "Lot 1").get_by_label("Intitulé du lot").input_value() == LOTS[0][0]
    _continuer(page)

    # Le chantier (questions propres aux travaux) : le maître d'œuvre, le reste par défaut
    attendre(page.locator("h1")).to_have_text("Le chantier (travaux)")
    page.get_by_label("Maître d'œuvre", exact=True).fill("Atelier Tarn Architectes")
    _continuer(page)

    # L'exécution des prestations (fournitures et services) : aucune question pour des travaux
    attendre(page.locator("h1")).to_have_text("L'exécution des prestations (fournitures et services)")
    _continuer(page)

    # Les pièces jointes par l'acheteur : aucune ici
    attendre(page.locator("h1")).to_have_text("Pièces jointes par l'acheteur")
    _continuer(page)

    # Les critères
    for rang, (intitule, ponderation, nature) in enumerate(CRITERES, start=1):
        if rang > 1:
            page.get_by_role("button", name="Ajouter un critère").click()
        critere = _groupe(page, f"Critère {rang}")
        critere.get_by_label("Intitulé du critère").fill(intitule)
        critere.get_by_label("Pondération (%)").first.fill(ponderation)
        critere.get_by_label("Nature du critère").select_option(label=nature)
    _continuer(page)

    # Les suggestions du SPASER : retenir l'insertion et l'avance de la filière BTP
    attendre(page.locator("h1")).to_have_text("Suggestions pour cet achat")
    _groupe(page, "Clause d'insertion par l'activité économique").get_by_label("Retenir", exact=True).check()
    _groupe(page, "Avance majorée du contrat de filière BTP").get_by_label("Retenir", exact=True).check()
    _continuer(page)

    # Achat responsable : les suggestions retenues sont cochées, la question conditionnelle est posée
    attendre(page.locator("h1")).to_have_text("Achat responsable (SPASER)")
    tranchees = page.locator("#tranchees").text_content()  # décidé aux suggestions : pas redemandé
    assert "Lots relevant du contrat de filière BTP\u00a0: oui" in tranchees
    assert "Clause d'insertion par l'activité économique\u00a0: oui" in tranchees
    assert _groupe(page, "Lots relevant du contrat de filière BTP").count() == 0
    assert _groupe(page, "Clause d'insertion par l'activité économique").count() == 0
    capture(page, "spaser-tranchees")
    page.get_by_label("Facilitateur de la clause d'insertion").fill("Maison de l'emploi du Tarn")
    page.get_by_role("button", name="Enregistrer et voir le récapitulatif").click()

    # Récapitulatif puis génération
    attendre(page.locator("h1")).to_have_text("Récapitulatif")
    recap = page.locator("main").text_content()
    assert "Chauffage et ventilation" in recap and "330\u00a0000,50\u00a0€\u00a0HT" in recap
    assert "Clause d'insertion par l'activité économique" in recap
    capture(page, "recapitulatif")
    with page.expect_download() as fichier_reponses:
        page.get_by_role("link", name="Télécharger le fichier de réponses (.yaml)").click()
    reponses = yaml.safe_load(Path(fichier_reponses.value.path()).read_text(encoding="utf-8"))
    assert [l["intitule"] for l in reponses["lots"]] == [l[0] for l in LOTS]
    page.get_by_role("button", name="Générer le DCE").click()

    # La consultation générée : contrôles, explication, zip
    attendre(page.locator("h1")).to_have_text("Consultation 2027-TRX-0042")
    attendre(page.locator(".messages")).to_contain_text("DCE généré : version 001")
    capture(page, "consultation")
    assert page.get_by_role("heading", name="Contrôles juridiques").is_visible()
    assert page.get_by_role("heading", name=re.compile(r"Clauses retenues \(\d+\)")).is_visible()
    with page.expect_download() as telechargement:
        page.get_by_role("link", name="Télécharger la version générée (zip, usage interne)").click()
    assert telechargement.value.suggested_filename == "2027-TRX-0042-DCE-v001.zip"
    archive = zipfile.ZipFile(telechargement.value.path())
    noms = archive.namelist()
    for piece in ("RC", "CCAP", "CCTP", "annexe-conformite", "tracabilite-SPASER"):
        assert f"2027-TRX-0042-{piece}.docx" in noms
    archive.extractall(tmp_path)
    ccap = Lu(tmp_path / "2027-TRX-0042-CCAP.docx")
    for intitule, _, _ in LOTS:
        assert intitule in ccap.tout
    assert "Maison de l’emploi du Tarn" in ccap.tout  # la réponse de l'acheteur, dans la clause d'insertion
    assert "Atelier Tarn Architectes" in ccap.tout  # le maître d'œuvre, dans l'article « Intervenants »
    assert "30\u00a0%" in ccap.tout  # avance de la filière BTP
    rc = Lu(tmp_path / "2027-TRX-0042-RC.docx")
    assert "Performance environnementale du chantier" in rc.tout and "Réhabilitation du gymnase" in rc.texte
    annexe = Lu(tmp_path / "2027-TRX-0042-annexe-conformite.docx")
    assert "2027-TRX-0042" in annexe.tout
    relu = yaml.safe_load(archive.read("2027-TRX-0042-reponses.yaml"))
    assert relu["spaser"]["filiere_btp"] is True and len(relu["lots"]) == 3
    assert (dossier / "2027-TRX-0042" / "versions" / "001").is_dir()  # même disposition que `dce regenerer`

    # La liste des consultations
    page.get_by_role("link", name="Consultations", exact=True).first.click()
    attendre(page.locator("h1")).to_have_text("Consultations")
    assert page.get_by_role("link", name="Reprendre la saisie 2027-TRX-0042").count() == 0  # saisie close
    ligne = page.get_by_role("table", name=re.compile(r"1 consultation dans")).get_by_role("row", name=re.compile("2027-TRX-0042"))
    cellules = ligne.get_by_role("cell").all_text_contents()
    assert "Réhabilitation du gymnase" in cellules[0] and cellules[1] == "3"
    assert re.match(r"(Conforme|À vérifier|\d+ obligation)", cellules[2]) and cellules[3].startswith("version 001")
    capture(page, "consultations")
    ligne.get_by_role("link", name="2027-TRX-0042", exact=True).click()
    attendre(page.locator("h1")).to_have_text("Consultation 2027-TRX-0042")


# --- petits écrans (WCAG 1.4.10, refusion) ------------------------------------------------------------

DEBORDEMENT = """() => document.documentElement.scrollWidth - window.innerWidth"""


def test_aucun_defilement_horizontal_a_320_390_et_1280_pixels(navigateur, serveur, tmp_path):
    """Accueil (consultations et saisies en cours), sections, récapitulatif et page d'une consultation : à 320 px
    de large, la page ne défile pas horizontalement (les tableaux larges défilent dans leur cadre)."""
    base, _ = serveur
    contexte = navigateur.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    contexte.set_default_timeout(10000)
    page = contexte.new_page()
    debordements = {}

    def mesurer(adresses: list[str]) -> None:
        for largeur in (320, 390, 1280):
            page.set_viewport_size({"width": largeur, "height": 800})
            for adresse in adresses:
                assert page.goto(adresse).status == 200, adresse
                if page.evaluate(DEBORDEMENT) > 0:
                    debordements[(largeur, adresse)] = page.evaluate(DEBORDEMENT)
        page.set_viewport_size({"width": 1280, "height": 800})

    def reprendre(exemple: str) -> str:
        # un fichier envoyé au navigateur voyage seul : sans les textes techniques du CCTP qu'il désigne
        envoye = tmp_path / exemple
        envoye.write_text("".join(l for l in (EXEMPLES / exemple).read_text(encoding="utf-8").splitlines(True)
                                  if "cctp_technique:" not in l), encoding="utf-8")
        page.goto(base + "/")
        page.set_input_files("input[type=file]", str(envoye))
        page.get_by_role("button", name="Reprendre ce fichier").click()
        attendre(page.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
        return page.url

    recapitulatif = reprendre("travaux-lycee.yaml")
    saisie = recapitulatif.rsplit("/", 1)[0]
    mesurer([base + "/", recapitulatif] + [f"{saisie}/{s}" for s in ("consultation", "lots", "criteres", "spaser", "pieces")])
    page.goto(recapitulatif)
    page.get_by_role("button", name="Générer le DCE").first.click()
    attendre(page.get_by_role("heading", name=re.compile("2026-TRX-0417"))).to_be_visible()
    consultation = page.url
    reprendre("restauration-lycees.yaml")  # une saisie en cours à côté d'une consultation générée, sur l'accueil
    mesurer([base + "/", consultation, consultation + "/publication"])
    contexte.close()
    assert debordements == {}


def test_motif_sans_publicite_apparait_quand_la_procedure_le_demande(client):
    """La question du motif (liste du code, article cité) est cachée tant que la procédure n'est pas un marché sans
    publicité ni mise en concurrence, puis posée à l'envoi."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    avant = html.unescape(client.get(f"{saisie}/consultation").get_data(as_text=True))
    assert re.search(r'data-question="motif_sans_publicite" data-condition hidden>', avant)
    assert "Urgence impérieuse (R2122-1)" in avant and "Besoin inférieur au seuil de dispense (R2122-8)" in avant
    envoi = {"_csrf": jeton, "procedure_choisie": "sans_publicite", "_visibles": "", "action": "suivant"}
    page = html.unescape(client.post(f"{saisie}/consultation", data=envoi).get_data(as_text=True))
    assert re.search(r'data-question="motif_sans_publicite" data-condition>', page)  # montrée, pas cachée


# --- aucune perte : deux onglets, menu des étapes, contrôles sur la page ------------------------------------

def _lots_du_brouillon(dossier: Path, saisie: str) -> list[dict]:
    ident = saisie.rstrip("/").rsplit("/", 1)[1]
    return yaml.safe_load((dossier / ".brouillons" / f"{ident}.yaml").read_text(encoding="utf-8"))["lots"]


def test_deux_onglets_l_ancien_est_refuse_sans_rien_perdre(navigateur, serveur):
    """Deux onglets sur la page des lots du même brouillon : le second ajoute un lot ; le premier, resté sur
    l'ancienne version, enregistre : refus clair qui propose de recharger, le lot du second est toujours là."""
    base, dossier = serveur
    contexte = navigateur.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    contexte.set_default_timeout(10000)
    premier = contexte.new_page()
    premier.goto(base + "/")
    premier.set_input_files("input[type=file]", str(EXEMPLES / "travaux-lycee.yaml"))
    premier.get_by_role("button", name="Reprendre ce fichier").click()
    attendre(premier.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
    saisie = premier.url.rsplit("/", 1)[0]
    premier.goto(saisie + "/lots")
    second = contexte.new_page()
    second.goto(saisie + "/lots")
    nombre = len(_lots_du_brouillon(dossier, saisie))

    second.get_by_role("button", name="Ajouter un lot").click()
    nouveau = _groupe(second, f"Lot {nombre + 1}")
    nouveau.get_by_label("Intitulé du lot").fill("Espaces verts")
    nouveau.get_by_label("Montant estimé du lot (€ HT)").fill("12 000")
    second.get_by_role("button", name="Enregistrer et voir le récapitulatif").click()
    attendre(second.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
    assert _lots_du_brouillon(dossier, saisie)[-1]["intitule"] == "Espaces verts"

    _groupe(premier, "Lot 1").get_by_label("Intitulé du lot").fill("Gros œuvre seul")
    premier.get_by_role("button", name="Enregistrer et continuer", exact=True).last.click()
    attendre(premier.locator("h1")).to_contain_text("Enregistrement refusé")
    alerte = premier.locator("#conflit").text_content()
    assert "depuis un autre onglet" in alerte and "Recharger la page" in alerte
    assert "Lot 1 — Intitulé du lot" in premier.locator(".perdues").text_content()  # la saisie refusée est redonnée
    assert "Gros œuvre seul" in premier.locator(".perdues").text_content()
    capture(premier, "conflit")
    premier.set_viewport_size({"width": 320, "height": 800})
    assert premier.evaluate(DEBORDEMENT) <= 0  # lisible à 320 px sans défilement horizontal
    premier.set_viewport_size({"width": 1280, "height": 900})
    lots = _lots_du_brouillon(dossier, saisie)
    assert len(lots) == nombre + 1 and lots[-1]["intitule"] == "Espaces verts"  # rien perdu
    assert lots[0]["intitule"] != "Gros œuvre seul"  # rien écrasé

    recapitulatif = contexte.new_page()  # un récapitulatif affiché avant la dernière modification ne génère pas
    recapitulatif.goto(saisie + "/recapitulatif")
    old_version = recapitulatif.locator("input[name=_version]").first.input_value()
    premier.get_by_role("link", name="Recharger la page avec les dernières réponses").click()
    attendre(premier.locator("h1")).to_have_text("Les lots")
    assert _groupe(premier, f"Lot {nombre + 1}").get_by_label("Intitulé du lot").input_value() == "Espaces verts"
    _groupe(premier, "Lot 1").get_by_label("Intitulé du lot").fill("Gros œuvre seul")
    premier.get_by_role("button", name="Enregistrer et voir le récapitulatif").click()  # à jour : accepté
    attendre(premier.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
    lots = _lots_du_brouillon(dossier, saisie)
    assert lots[0]["intitule"] == "Gros œuvre seul" and lots[-1]["intitule"] == "Espaces verts"
    assert recapitulatif.locator("input[name=_version]").first.input_value() == old_version
    versions = sorted(dossier.glob("*/versions/*"))
    recapitulatif.get_by_role("button", name="Générer le DCE").first.click()
    attendre(recapitulatif.locator(".messages")).to_contain_text("rien n'a été généré")
    assert "Gros œuvre seul" in recapitulatif.locator("main").text_content()  # le récapitulatif à jour
    assert sorted(dossier.glob("*/versions/*")) == versions
    contexte.close()


def test_montant_negatif_puis_menu_des_etapes_message_et_rien_d_enregistre(page, serveur):
    """Un montant négatif tapé puis un clic dans le menu des étapes : la page revient avec le message, le
    brouillon garde l'ancienne valeur ; la somme des lots différente du total est signalée sur la page des lots."""
    base, dossier = serveur
    page.goto(base + "/")
    page.set_input_files("input[type=file]", str(EXEMPLES / "travaux-lycee.yaml"))
    page.get_by_role("button", name="Reprendre ce fichier").click()
    attendre(page.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
    saisie = page.url.rsplit("/", 1)[0]
    avant = _lots_du_brouillon(dossier, saisie)[0]["montant_estime"]
    page.goto(saisie + "/lots")
    montant = _groupe(page, "Lot 1").get_by_label("Montant estimé du lot (€ HT)")
    montant.fill("-5 000")
    page.get_by_role("navigation", name="Étapes de la saisie").get_by_role("button", name="Critères de jugement des offres").click()
    attendre(page.locator("h1")).to_have_text("Les lots")  # on reste sur la page
    resume = page.locator("#resume-erreurs").text_content()
    assert "Lot 1 — Montant estimé du lot (€ HT)" in resume and "trop petite" in resume
    assert "lots.0" not in page.locator("main").text_content()
    assert montant.input_value() == "-5000"  # ce qui a été tapé reste à l'écran
    assert _lots_du_brouillon(dossier, saisie)[0]["montant_estime"] == avant  # rien d'enregistré de faux

    page.get_by_role("button", name="Ajouter un lot").click()  # ajouter un lot : refusé aussi, rien n'est écrit
    attendre(page.locator("#resume-erreurs")).to_contain_text("trop petite")
    assert _lots_du_brouillon(dossier, saisie)[0]["montant_estime"] == avant
    nombre = len(_lots_du_brouillon(dossier, saisie))
    dernier = _groupe(page, f"Lot {nombre}").get_by_label("Montant estimé du lot (€ HT)")
    montant.fill(str(avant))
    dernier.fill("-1")
    page.get_by_role("button", name=f"Supprimer le lot {nombre}").click()  # supprimer le lot fautif : permis
    attendre(_groupe(page, f"Lot {nombre}")).to_have_count(0)
    assert len(_lots_du_brouillon(dossier, saisie)) == nombre - 1
    page.get_by_role("navigation", name="Étapes de la saisie").get_by_role("button", name="La consultation").click()
    attendre(page.locator("h1")).to_have_text("La consultation")
    total = sum(l["montant_estime"] for l in _lots_du_brouillon(dossier, saisie))
    page.get_by_label("Montant total estimé de la consultation (€ HT), pour contrôle").fill(str(total))
    page.get_by_role("navigation", name="Étapes de la saisie").get_by_role("button", name="Les lots").click()
    attendre(page.locator("h1")).to_have_text("Les lots")
    montant.fill(str(int(avant) + 1000))  # valeur valide, mais la somme ne fait plus le total
    _continuer(page)
    attendre(page.locator("h1")).to_have_text("Les lots")
    assert "diffère du montant total estimé" in page.locator("#resume-erreurs").text_content()
    assert _lots_du_brouillon(dossier, saisie)[0]["montant_estime"] == int(avant) + 1000  # enregistrée, signalée


def test_date_limite_avant_le_lancement_signalee_sur_sa_page(client):
    """Dès la page de la consultation, sans attendre la fin du questionnaire (réponses encore incomplètes)."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    page = client.post(f"{saisie}/consultation", data={"_csrf": jeton, "action": "suivant", "reference": "X-1",
                                                       "date_lancement": "2027-03-01",
                                                       "date_limite_offres": "2027-02-01T12:00"})
    texte = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 422
    assert "la date limite de remise des plis doit suivre la date de lancement" in texte
    page = client.post(f"{saisie}/criteres", data={"_csrf": jeton, "action": "suivant", "criteres.__nombre": "2",
                                                   "criteres.0.intitule": "Prix", "criteres.0.ponderation": "60",
                                                   "criteres.0.type": "prix",
                                                   "criteres.1.intitule": "Valeur technique",
                                                   "criteres.1.ponderation": "30", "criteres.1.type": "technique"})
    assert "la somme des pondérations des critères vaut 90 % au lieu de 100 %" in html.unescape(
        page.get_data(as_text=True))


def test_recherche_cpv_par_mot_et_nature_proposee(page, serveur):
    """« peinture » tapé dans le code CPV propose 45442100-8 (Travaux de peinture) ; ce code choisi propose la
    nature « Travaux » (règle d_apres_cpv du questionnaire) ; un mot envoyé sans script reçoit les codes proposés."""
    base, _ = serveur
    page.goto(base + "/")
    page.get_by_role("button", name="Commencer une nouvelle consultation").click()
    page.get_by_role("button", name="La consultation").click()
    attendre(page.locator("h1")).to_have_text("La consultation")
    cpv = page.get_by_label("Code CPV principal")
    cpv.press_sequentially("peinture")
    attendre(page.locator("#c-cpv-codes option[value='45442100-8']")).to_have_count(1)
    assert page.locator("#c-cpv-codes option[value='45442100-8']").text_content() == "Travaux de peinture"
    assert not _groupe(page, "Nature du marché").get_by_label("Travaux", exact=True).is_checked()
    cpv.fill("")
    cpv.press_sequentially("45442100-8")
    attendre(_groupe(page, "Nature du marché").get_by_label("Travaux", exact=True)).to_be_checked()
    assert "Nature du marché proposée d'après ce code : Travaux" in page.locator("#c-cpv-nature").text_content()
    cpv.scroll_into_view_if_needed()
    capture(page, "cpv-nature")

    # Nature déjà choisie : les codes de cette nature d'abord ; un mot envoyé tel quel : les codes en message
    reponse = page.request.get(base + "/cpv?q=peinture&nature=travaux").json()
    assert reponse[0] == {"code": "45442100-8", "libelle": "Travaux de peinture", "nature": "travaux"}
    cpv.fill("peinture")
    _continuer(page)
    erreur = page.locator("#c-cpv-erreur").text_content()
    assert "n'est pas un code CPV" in erreur and "45442100-8 (Travaux de peinture)" in erreur


def test_autres_reglages_replies_et_ouverts_sur_une_erreur(client):
    """Pages courtes : les questions `replie: true` du questionnaire sont rangées sous « Autres réglages », replié ;
    une erreur sur l'une d'elles l'ouvre."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    page = client.get(f"{saisie}/consultation").get_data(as_text=True)
    replie = re.search(r'(?s)<details class="facultatifs autres-reglages" id="autres-reglages"( open)?>(.*?)</details>', page)
    assert replie and replie.group(1) is None
    assert 'id="c-delai_garantie_mois"' in replie.group(2) and 'id="c-visite' in replie.group(2)
    assert 'id="c-cpv"' not in replie.group(2) and 'id="c-cpv"' in page  # les questions principales restent dehors
    envoi = client.post(f"{saisie}/consultation", data={"_csrf": jeton, "delai_garantie_mois": "-3",
                                                        "action": "suivant"})
    assert envoi.status_code == 422
    assert '<details class="facultatifs autres-reglages" id="autres-reglages" open>' in envoi.get_data(as_text=True)


def test_code_cpv_faux_jamais_enregistre_meme_par_le_menu(client, tmp_path):
    """45454000-5 (chiffre de contrôle faux) puis un clic sur une autre étape : refusé avec le bon code, rien
    d'enregistré ; les autres réponses de la page restent à l'écran."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    envoi = client.post(f"{saisie}/consultation", data={"_csrf": jeton, "action": "aller:prix", "reference": "X-2",
                                                        "cpv": "45454000-5"})
    assert envoi.status_code == 422
    page = html.unescape(envoi.get_data(as_text=True))
    assert "est 45454000-4" in page and 'value="X-2"' in page
    brouillon = yaml.safe_load((tmp_path / "consultations" / ".brouillons" / f"{saisie.rsplit('/', 1)[1]}.yaml")
                               .read_text(encoding="utf-8"))
    assert "cpv" not in brouillon and "reference" not in brouillon  # rien de la page n'est enregistré
    corrige = client.post(f"{saisie}/consultation", data={"_csrf": jeton, "action": "aller:prix", "reference": "X-2",
                                                          "cpv": "45454000-4"})
    assert corrige.status_code == 302 and corrige.location.endswith("/prix")


def test_sans_script_la_nature_est_proposee_d_apres_le_code_cpv(client):
    """Sans JavaScript : un code CPV de services enregistré sans nature, la page propose « Services » à confirmer."""
    jeton = _jeton(client)
    saisie = client.post("/nouvelle", data={"_csrf": jeton}).location.rsplit("/", 1)[0]
    client.post(f"{saisie}/consultation", data={"_csrf": jeton, "action": "actualiser", "cpv": "90910000-9"})
    page = html.unescape(client.get(f"{saisie}/consultation").get_data(as_text=True))
    assert "Proposée d'après le code CPV\u00a0: <strong>Services</strong> (à confirmer)" in page
    assert 'value="services" checked' not in page  # proposée, jamais cochée à la place de l'acheteuse


# --- publier depuis le navigateur (issue 18) -------------------------------------------------------------

def test_publier_depuis_le_navigateur_avec_une_piece_televersee(page, serveur, tmp_path):
    """Reprendre un fichier de réponses, téléverser une pièce sur la page « Pièces jointes par l'acheteur »,
    générer, publier (progression visible pendant la conversion en PDF), télécharger l'archive publique : elle
    contient les pièces en Word, Excel et PDF et la pièce téléversée, et aucun document interne."""
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.skip("LibreOffice absent")
    base, dossier = serveur
    piece = EXEMPLES / "pieces" / "travaux-lycee" / "plan-rez-de-chaussee.pdf"
    page.goto(base + "/")
    envoye = tmp_path / "amp-espaces-verts.yaml"  # le fichier voyage seul, sans les textes techniques qu'il désigne
    envoye.write_bytes(reponses_seules("amp-espaces-verts.yaml"))
    page.set_input_files("input[type=file]", str(envoye))
    page.get_by_role("button", name="Reprendre ce fichier").click()
    attendre(page.get_by_role("heading", name="Récapitulatif", exact=True)).to_be_visible()
    recapitulatif = page.url
    page.goto(recapitulatif.rsplit("/", 1)[0] + "/pieces")
    attendre(page.get_by_role("heading", name="Pièces jointes par l'acheteur")).to_be_visible()
    page.locator("#televersement-fichier").set_input_files(str(piece))
    page.locator("#televersement-titre").fill("Plan des parcs entretenus")
    page.locator("#televersement-nature").select_option("plans")
    page.get_by_role("button", name="Téléverser la pièce").click()
    attendre(page.get_by_text("Pièce « Plan des parcs entretenus » téléversée")).to_be_visible()
    capture(page, "piece-televersee")
    page.goto(recapitulatif)
    page.get_by_role("button", name="Générer le DCE").first.click()
    attendre(page.get_by_role("heading", name=re.compile("AMP-2026-EV-041"))).to_be_visible()
    page.get_by_role("button", name="Publier", exact=True).click()
    attendre(page.get_by_role("heading", name="Publication en cours")).to_be_visible()
    # la progression se voit pendant la conversion en PDF (la page se recharge d'elle-même)
    attendre(page.locator("#progression-etape")).to_contain_text("Étape 2 sur 3 : Conversion en PDF par LibreOffice",
                                                                 timeout=60000)
    capture(page, "publication-en-cours")
    lien = page.get_by_role("link", name=re.compile("Télécharger l'archive publique"))
    attendre(lien).to_be_visible(timeout=180000)
    attendre(page.get_by_text(re.compile("Publication terminée en"))).to_be_visible()
    # l'annexe a des points à vérifier (SIRET et profil d'acheteur de la Métropole à compléter, CCTP à joindre…) :
    # la page ne présente l'archive que comme un projet, avec la synthèse de l'annexe (revue 3, B1)
    attendre(page.get_by_text("Projet de DCE, à ne pas déposer sur le profil d'acheteur en l'état.")).to_be_visible()
    attendre(page.get_by_text(re.compile("La consultation ne peut être dite conforme"))).to_be_visible()
    assert page.get_by_text("Ce que voient les candidats, à déposer sur le profil d'acheteur.").count() == 0
    with page.expect_download() as telechargement:
        lien.click()
    assert telechargement.value.suggested_filename == "AMP-2026-EV-041-DCE.zip"
    chemin = tmp_path / "public.zip"
    telechargement.value.save_as(chemin)
    archive = zipfile.ZipFile(chemin)
    noms = archive.namelist()
    for attendu in ("RC.docx", "RC.pdf", "AE-lot-1.pdf", "AE-lot-2.pdf", "CCAP.pdf", "CCTP.pdf",
                    "cadre-memoire-technique.pdf", "piece-plan-rez-de-chaussee.pdf", "liste-des-pieces.csv"):
        assert f"AMP-2026-EV-041-{attendu}" in noms, (attendu, noms)
    assert any(n.endswith(".xlsx") for n in noms)
    assert archive.read("AMP-2026-EV-041-piece-plan-rez-de-chaussee.pdf") == piece.read_bytes()
    assert not [n for n in noms if re.search("annexe|tracabilite|manifeste|reponses|DECP", n)]
    (tmp_path / "RC.docx").write_bytes(archive.read("AMP-2026-EV-041-RC.docx"))
    assert "la pièce «\u00a0Plan des parcs entretenus\u00a0»" in Lu(tmp_path / "RC.docx").texte  # annoncée par le RC
    # le dossier interne est à part, sur le disque de la consultation
    publication = next(dossier.glob("*/publication"))
    assert (publication / "AMP-2026-EV-041-interne.zip").is_file()


def test_televersement_et_publication_refusee_si_une_piece_manque(client, monkeypatch, tmp_path):
    """Téléversement : titre et nature exigés, nom du fichier assaini (ni dossier ni « .. ») ; publication d'une
    consultation dont une pièce annoncée manque : la page dit laquelle, avec le libellé de la question, et rien
    n'est publié."""
    import time

    monkeypatch.setenv("DCE_SOFFICE", sys.executable)  # la publication échoue avant toute conversion
    jeton = _jeton(client)
    texte = reponses_seules("restauration-lycees.yaml").decode("utf-8")  # pièces désignées, absentes ici
    recap = _envoyer(client, texte.encode("utf-8"), "restauration.yaml").location
    ident = recap.split("/")[2]
    envoi = client.post(f"/saisie/{ident}/pieces/televerser", data={
        "_csrf": jeton, "fichier": (io.BytesIO(b"%PDF-1.4 liste"), "../../Liste des sites été.PDF"), "titre": "",
        "nature": "inconnue"}, content_type="multipart/form-data", follow_redirects=True)
    page = html.unescape(envoi.get_data(as_text=True))
    assert "Titre de la pièce : réponse obligatoire." in page and "Nature de la pièce : choisir" in page
    envoi = client.post(f"/saisie/{ident}/pieces/televerser", data={
        "_csrf": jeton, "fichier": (io.BytesIO(b"%PDF-1.4 liste"), "../../Liste des sites été.PDF"),
        "titre": "Liste des sites", "nature": "liste_sites", "lot": "2"}, content_type="multipart/form-data")
    assert envoi.status_code == 302
    brouillon = yaml.safe_load(client.get(f"/saisie/{ident}/reponses.yaml").get_data(as_text=True))
    assert brouillon["pieces_acheteur"][-1] == {"titre": "Liste des sites", "fichier": "pieces/Liste-des-sites-ete.pdf",
                                                "nature": "liste_sites", "lot": 2}
    consultation = client.post(recap.replace("recapitulatif", "generer"), data={"_csrf": jeton}).location
    rangee = tmp_path / "consultations" / "2026-FCS-0213" / "pieces" / "Liste-des-sites-ete.pdf"
    assert rangee.read_bytes() == b"%PDF-1.4 liste"  # avec la consultation, à côté de son fichier de réponses
    assert not list((tmp_path / "consultations" / ".brouillons").glob("*-pieces"))
    reouverte = client.post(consultation + "/modifier", data={"_csrf": jeton}).location
    assert (tmp_path / "consultations" / ".brouillons" / f"{reouverte.split('/')[2]}-pieces" / rangee.name).is_file()
    suivi = client.post(consultation + "/publier", data={"_csrf": jeton}).location
    for _ in range(100):
        page = html.unescape(client.get(suivi).get_data(as_text=True)).replace("\u00a0", " ").replace("\u202f", " ")
        if "Publication en cours" not in page:
            break
        time.sleep(0.1)
    assert "La publication a échoué : rien n'a été écrit" in page
    assert ("Pièces jointes au dossier par l'acheteur — Pièce 1 — Fichier de la pièce : "
            "« pieces/restauration-lycees-sites.csv » : fichier introuvable") in page
    assert "Liste-des-sites-ete.pdf" not in page  # la pièce téléversée, elle, est bien là
    assert client.get(consultation + "/publication/2026-FCS-0213-DCE.zip").status_code == 404
    assert client.get(consultation + "/publication/..%2F..%2Freponses.yaml").status_code == 404
