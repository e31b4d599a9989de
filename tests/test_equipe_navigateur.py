"""Serveur d'équipe dans un vrai navigateur (Chromium de Debian, Playwright), à plusieurs utilisateurs à la fois :
cloisonnement des services, modifications concurrentes, publication bloquée jusqu'au visa du juriste.

Le serveur est celui de production (waitress, plusieurs fils) sur 127.0.0.1, avec une base SQLite ; les mêmes
règles sont vérifiées sur PostgreSQL par tests/test_equipe.py. Sans Chromium, Playwright ou l'option [equipe], ignorés
sur un poste ; sous CI=true, leur absence fait échouer la suite.
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import EXEMPLES, RACINE, reponses_seules
from test_web import _exiger, attendre, navigateur  # noqa: F401 - navigateur : Chromium sans écran (fixture)

for _module in ("sqlalchemy", "alembic", "argon2", "waitress"):
    _exiger(_module)

from test_equipe import MOT_DE_PASSE, _comptes  # noqa: E402


@pytest.fixture(scope="module")
def serveur(tmp_path_factory):
    """`dce serveur --equipe` tel qu'en production : waitress, 8 fils, port libre de 127.0.0.1."""
    from argon2 import PasswordHasher
    from waitress.server import create_server

    from generateur.base import comptes
    from generateur.interfaces.web.equipe import create_app_equipe

    vrai = comptes._HACHEUR
    comptes._HACHEUR = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # voir test_equipe.hachage_leger
    dossier = tmp_path_factory.mktemp("equipe")
    url = f"sqlite:///{dossier / 'dce.sqlite'}"
    app = create_app_equipe(RACINE, url, dossier / "stockage")
    _comptes(url)
    serveur_http = create_server(app, host="127.0.0.1", port=0, threads=8)
    fil = threading.Thread(target=serveur_http.run, daemon=True)
    fil.start()
    yield f"http://127.0.0.1:{serveur_http.effective_port}"
    serveur_http.close()
    comptes._HACHEUR = vrai


@pytest.fixture
def ouvrir(navigateur, serveur):  # noqa: F811 - la fixture importée de test_web
    """ouvrir("alice") → un onglet connecté sous ce compte, dans son propre contexte (ses propres cookies)."""
    contextes = []

    def _ouvrir(identifiant: str):
        contexte = navigateur.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        contexte.set_default_timeout(15000)
        contextes.append(contexte)
        page = contexte.new_page()
        page.goto(serveur + "/")
        attendre(page.locator("h1")).to_have_text("Connexion")
        page.get_by_label("Identifiant").fill(identifiant)
        page.get_by_label("Mot de passe").fill(MOT_DE_PASSE)
        page.get_by_role("button", name="Se connecter").click()
        attendre(page.locator("h1")).to_have_text("Consultations")
        return page

    yield _ouvrir
    for contexte in contextes:
        contexte.close()


def _reprendre(page, exemple: str) -> str:
    fichier = EXEMPLES / exemple
    if exemple != "travaux-lycee.yaml":  # le fichier voyage seul, sans les textes techniques qu'il désigne
        fichier = Path(tempfile.mkdtemp()) / exemple
        fichier.write_bytes(reponses_seules(exemple))
    page.set_input_files("#fichier", str(fichier))
    page.get_by_role("button", name="Reprendre ce fichier").click()
    attendre(page.locator("h1")).to_contain_text("Consultation ")
    return page.url


def test_une_acheteuse_ne_voit_pas_les_consultations_d_un_autre_service(ouvrir, serveur):
    alice = ouvrir("alice")
    adresse = _reprendre(alice, "restauration-lycees.yaml")
    attendre(alice.locator("h1")).to_have_text("Consultation 2026-FCS-0213")
    bruno = ouvrir("bruno")
    assert "2026-FCS-0213" not in bruno.locator("main").text_content()
    reponse = bruno.goto(adresse)
    assert reponse.status == 404
    attendre(bruno.locator("main")).to_contain_text("n'est pas visible de votre service")
    anne = ouvrir("anne")  # même service qu'Alice
    anne.get_by_role("link", name="2026-FCS-0213").first.click()
    attendre(anne.locator("h1")).to_have_text("Consultation 2026-FCS-0213")


def test_deux_modifications_concurrentes_la_seconde_refusee_avec_explication(ouvrir):
    alice, anne = ouvrir("alice"), ouvrir("anne")
    adresse = _reprendre(alice, "nettoyage-hotel-region.yaml")
    for page in (alice, anne):
        page.goto(adresse)
        page.get_by_role("link", name="La consultation").click()
        attendre(page.locator("h1")).to_have_text("La consultation")
    alice.get_by_label("Objet de la consultation").fill("Nettoyage des locaux – version d'Alice")
    alice.get_by_role("button", name="Enregistrer et revenir à la consultation").click()
    attendre(alice.locator(".messages")).to_contain_text("Réponses enregistrées : version 2")

    anne.get_by_label("Durée du marché (en mois)").fill("30")
    anne.get_by_label("Objet de la consultation").fill("Nettoyage des locaux – version d'Anne")
    anne.get_by_role("button", name="Enregistrer et revenir à la consultation").click()
    conflit = anne.locator("#conflit")
    attendre(conflit).to_contain_text("Enregistrement refusé")
    attendre(conflit).to_contain_text("modifiée par Alice Martin")
    ligne = conflit.get_by_role("row", name=re.compile("Objet de la consultation"))
    assert "version d'Alice" in ligne.text_content()
    assert anne.get_by_label("Objet de la consultation").input_value() == "Nettoyage des locaux – version d'Anne"
    assert anne.get_by_label("Durée du marché (en mois)").input_value() == "30"  # rien de perdu côté Anne
    alice.reload()
    attendre(alice.locator(".chapeau")).to_have_text("Nettoyage des locaux – version d'Alice")  # ni côté Alice
    # Anne, informée, enregistre sa version sciemment : elle devient la version 3
    anne.get_by_role("button", name="Enregistrer et revenir à la consultation").click()
    attendre(anne.locator("#version")).to_have_text("3")
    anne.get_by_role("link", name="Historique des versions").click()
    anne.get_by_label("Comparer la version").select_option("2")
    anne.get_by_label("à la version").select_option("3")
    anne.get_by_role("button", name="Voir les différences").click()
    differences = anne.locator("#differences").text_content()
    assert "version d'Alice" in differences and "version d'Anne" in differences and "Durée du marché (en mois)3630" in differences


def test_clause_non_validee_publiee_seulement_apres_le_visa(ouvrir):
    alice = ouvrir("alice")
    adresse = _reprendre(alice, "restauration-lycees.yaml")
    # la liste des sites (pièce jointe que désignent les réponses) se téléverse depuis la fiche
    attendre(alice.locator("#fichiers-designes")).to_contain_text("manquant")
    alice.get_by_label("Fichier « pieces/restauration-lycees-sites.csv »").set_input_files(
        str(EXEMPLES / "pieces" / "restauration-lycees-sites.csv"))
    alice.get_by_role("button", name="Téléverser", exact=True).click()
    attendre(alice.locator(".messages")).to_contain_text("Fichier « pieces/restauration-lycees-sites.csv » téléversé")
    attendre(alice.locator("#fichiers-designes")).to_contain_text("présent")
    alice.get_by_role("button", name="Générer le DCE").click()
    attendre(alice.locator(".messages")).to_contain_text("DCE généré")
    attendre(alice.locator("#statut-visa")).to_contain_text("En attente du visa d'un juriste")
    alice.get_by_role("button", name="Publier la consultation").click()
    attendre(alice.locator("#refus")).to_contain_text("Publication impossible avant le visa d'un juriste")
    assert alice.locator("#publication").count() == 0

    julie = ouvrir("julie")
    julie.goto(adresse)
    julie.get_by_label("Commentaire du visa").fill("Clauses partielles relues avec la direction")
    julie.get_by_role("button", name=re.compile("Viser la version")).click()
    attendre(julie.locator("#statut-visa")).to_contain_text("donné par Julie Garnier")

    alice.goto(adresse)
    attendre(alice.locator("#statut-visa")).to_contain_text("Clauses partielles relues avec la direction")
    alice.get_by_role("button", name="Publier la consultation").click()
    attendre(alice.locator("#publication")).to_contain_text("Publiée le")
    attendre(alice.locator("#publication")).to_contain_text("par Alice Martin")
    attendre(alice.locator("details").first).to_contain_text("2026-FCS-0213-piece-restauration-lycees-sites.csv")


def test_aucun_defilement_horizontal_a_320_pixels(ouvrir, serveur):
    """Pages du mode équipe à 320 px de large (WCAG 1.4.10) : les tableaux larges défilent dans leur cadre."""
    alice = ouvrir("alice")
    travaux = _reprendre(alice, "travaux-lycee.yaml")  # tableau des fichiers joints à téléverser
    alice.goto(serveur + "/")
    fiche = _reprendre(alice, "amp-espaces-verts.yaml")
    alice.get_by_role("button", name="Générer le DCE").click()
    attendre(alice.locator(".messages")).to_contain_text("DCE généré")
    admin = ouvrir("admin")
    debordements = {}
    for page, adresses in ((alice, ["/", fiche, travaux, fiche + "/section/consultation", fiche + "/section/lots",
                                    fiche + "/historique?de=1&a=1", "/clauses"]),
                           (admin, ["/admin", "/admin/journal"])):
        page.set_viewport_size({"width": 320, "height": 800})
        for adresse in adresses:
            cible = adresse if adresse.startswith("http") else serveur + adresse
            assert page.goto(cible).status == 200, cible
            ecart = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if ecart > 0:
                debordements[adresse] = ecart
    assert debordements == {}
