"""Serveur d'équipe (`dce serveur --equipe`) : base, migrations, comptes et rôles, CSRF, verrou optimiste, audit,
visa juridique et publication — chaque test tourne sur SQLite et sur un PostgreSQL jetable (conftest).

Sans l'option [equipe] (SQLAlchemy, Alembic, argon2, waitress, psycopg) les tests sont ignorés sur un poste ;
sous CI=true leur absence fait échouer la suite.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import zipfile

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, Lu, copier_exemple, reponses_seules

SOUS_CI = os.environ.get("CI") == "true"
for _module in ("sqlalchemy", "alembic", "argon2", "waitress", "psycopg", "flask"):
    try:
        pytest.importorskip(_module)
    except pytest.skip.Exception:
        if SOUS_CI:
            pytest.fail(f"{_module} (option [equipe]) est requis en intégration continue (CI=true)")
        raise

from sqlalchemy.orm import sessionmaker  # noqa: E402

from generateur.base import comptes, connexion, depot  # noqa: E402
from generateur.interfaces.web.equipe import create_app_equipe  # noqa: E402

MOT_DE_PASSE = "correct-cheval-agrafe"


@pytest.fixture(autouse=True)
def hachage_leger(monkeypatch):
    """argon2id aux paramètres minimaux pendant les tests (les vrais coûtent ~1 s par essai sur 2 cœurs partagés) ;
    l'algorithme et le format de l'empreinte restent ceux de la production."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(comptes, "_HACHEUR", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _comptes(url: str) -> None:
    moteur = connexion.ouvrir(url)
    connexion.migrer(moteur)
    fabrique = sessionmaker(moteur, expire_on_commit=False)
    with connexion.session(fabrique) as s:
        comptes.ajouter(s, "alice", "Alice Martin", "acheteur", MOT_DE_PASSE, "Direction des lycées")
        comptes.ajouter(s, "anne", "Anne Roux", "acheteur", MOT_DE_PASSE, "Direction des lycées")
        comptes.ajouter(s, "bruno", "Bruno Petit", "acheteur", MOT_DE_PASSE, "Direction des transports")
        comptes.ajouter(s, "julie", "Julie Garnier", "juriste", MOT_DE_PASSE, None)
        comptes.ajouter(s, "admin", "Arnaud Admin", "administrateur", MOT_DE_PASSE, None)


@pytest.fixture
def app(url_base, tmp_path):
    application = create_app_equipe(RACINE, url_base, tmp_path / "stockage")
    _comptes(url_base)
    return application


def _jeton(client, adresse: str = "/connexion") -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', client.get(adresse).get_data(as_text=True)).group(1)


def _connecte(app, identifiant: str):
    client = app.test_client()
    reponse = client.post("/connexion", data={"_csrf": _jeton(client), "identifiant": identifiant,
                                              "mot_de_passe": MOT_DE_PASSE})
    assert reponse.status_code == 302, reponse.get_data(as_text=True)
    return client


def _texte(reponse) -> str:
    return html.unescape(reponse.get_data(as_text=True)).replace("\u00a0", " ").replace("\u202f", " ")


def _importer(client, exemple: str = "nettoyage-hotel-region.yaml") -> str:
    reponse = client.post("/reprendre", data={"_csrf": _jeton(client, "/"), "fichier": (
        io.BytesIO(reponses_seules(exemple)), exemple)}, content_type="multipart/form-data")
    assert reponse.status_code == 302, _texte(reponse)
    return reponse.location


# --- base et migrations ------------------------------------------------------------------------------------

def test_migration_d_une_base_vide_et_modeles_conformes(url_base):
    """Une base vide monte à la dernière révision ; le schéma migré est exactement celui des modèles."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from generateur.base.modeles import Base

    moteur = connexion.ouvrir(url_base)
    assert connexion.niveau(moteur) is None
    connexion.migrer(moteur)
    assert connexion.niveau(moteur) == connexion.derniere_revision() == "0003"
    with moteur.connect() as c:
        ecarts = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
    assert ecarts == []
    connexion.migrer(moteur)  # une seconde fois : rien à faire
    assert connexion.niveau(moteur) == "0003"


def test_montee_de_la_version_precedente_avec_donnees(url_base, tmp_path):
    """Base au schéma 0001 (avant le visa) remplie, montée à 0002 et remplie encore (visa, publication), puis montée
    à 0003 (fichiers joints) : rien n'est perdu, le visa s'ajoute, les fichiers joints aussi."""
    import sqlalchemy as sa

    moteur = connexion.ouvrir(url_base)
    connexion.migrer(moteur, "0001")
    assert connexion.niveau(moteur) == "0001"
    with moteur.begin() as c:  # données écrites comme par la version précédente (sans les modèles actuels)
        def inserer(requete: str, **valeurs) -> int:
            return c.execute(sa.text(requete + " RETURNING id"), valeurs).scalar_one()

        service = inserer("INSERT INTO services (nom, cree_le) VALUES ('Direction des lycées', '2026-11-02 08:00:00')")
        alice = inserer("INSERT INTO utilisateurs (identifiant, nom, role, service_id, mot_de_passe, actif, echecs, "
                        "cree_le) VALUES ('alice', 'Alice Martin', 'acheteur', :s, :h, true, 0, '2026-11-02 08:00:00')",
                        s=service, h=comptes._HACHEUR.hash(MOT_DE_PASSE))
        ident = inserer("INSERT INTO consultations (reference, objet, service_id, reponses, numero_version, cree_par_id, "
                        "cree_le, modifie_par_id, modifie_le) VALUES ('ANC-1', 'Ancienne', :s, :r, 2, :a, "
                        "'2026-11-02 08:00:00', :a, '2026-11-03 09:00:00')", s=service, a=alice,
                        r='{"reference": "ANC-1", "objet": "Ancienne"}')
        for numero, objet in ((1, "Première"), (2, "Ancienne")):
            inserer("INSERT INTO versions_reponses (consultation_id, numero, reponses, auteur_id, le, action) "
                    "VALUES (:c, :n, :r, :a, '2026-11-03 09:00:00', 'modification')", c=ident, n=numero, a=alice,
                    r=f'{{"reference": "ANC-1", "objet": "{objet}"}}')
        inserer("INSERT INTO generations (consultation_id, numero_reponses, auteur_id, le, conformite, clauses_a_valider) "
                "VALUES (:c, 2, :a, '2026-11-03 09:05:00', '{}', '[]')", c=ident, a=alice)
        inserer("INSERT INTO audit (le, qui, action, objet, detail) VALUES ('2026-11-03 09:05:00', 'alice', "
                "'generation', 'consultation 1', '')")
    connexion.migrer(moteur, "0002")
    assert connexion.niveau(moteur) == "0002"
    with moteur.begin() as c:  # données de la révision 0002 : un visa de consultation, une génération publiée
        julie_id = c.execute(sa.text(
            "INSERT INTO utilisateurs (identifiant, nom, role, service_id, mot_de_passe, actif, echecs, cree_le) "
            "VALUES ('julie', 'Julie Garnier', 'juriste', NULL, :h, true, 0, '2026-11-04 08:00:00') RETURNING id"),
            {"h": comptes._HACHEUR.hash(MOT_DE_PASSE)}).scalar_one()
        c.execute(sa.text("INSERT INTO visas_consultations (consultation_id, numero_reponses, juriste_id, le, commentaire) "
                          "VALUES (:c, 2, :j, '2026-11-04 10:00:00', 'Relu avant migration')"), {"c": ident, "j": julie_id})
        c.execute(sa.text("UPDATE generations SET publiee_le = '2026-11-04 11:00:00', publiee_par_id = :a"), {"a": alice})
    connexion.migrer(moteur)
    assert connexion.niveau(moteur) == "0003"
    fabrique = sessionmaker(moteur, expire_on_commit=False)
    with connexion.session(fabrique) as s:
        alice = comptes.authentifier(s, "alice", MOT_DE_PASSE)
        c = depot.lire(s, alice, ident)
        assert (c.reference, c.numero_version, c.service.nom) == ("ANC-1", 2, "Direction des lycées")
        assert [v.numero for v in depot.historique(s, c)] == [2, 1]
        from generateur.base import dce

        generation = dce.generations(s, c)[0]  # publiée sous 0002 : gardée telle quelle
        assert (generation.publiee_le.isoformat(sep=" "), generation.publiee_par.nom) == ("2026-11-04 11:00:00",
                                                                                          "Alice Martin")
        ancien = dce.visa_consultation(s, c, 2)
        assert (ancien.juriste.nom, ancien.commentaire) == ("Julie Garnier", "Relu avant migration")
        from generateur.base import fichiers

        assert fichiers.lister(s, c) == []  # table ajoutée par 0003, vide pour l'existant
        julie = comptes.trouver(s, "julie")
        visa = dce.viser_consultation(s, julie, c, "relu")
        assert visa.numero_reponses == 2
        depot.enregistrer(s, alice, c, {"reference": "ANC-1", "objet": "Après migration",
                                        "pieces_acheteur": [{"titre": "Plan", "fichier": "pieces/plan.pdf",
                                                             "nature": "plans"}]}, 2, str)
        assert c.numero_version == 3
        assert [d.nom for d in fichiers.manquants(s, c)] == ["pieces/plan.pdf"]
        fichiers.deposer(s, alice, c, "pieces/plan.pdf", b"%PDF-1.7\n", fichiers.Limites(), 3, str)
        assert c.numero_version == 4 and fichiers.manquants(s, c) == []
    with connexion.session(fabrique) as s:
        c = depot.lire(s, comptes.trouver(s, "alice"), ident)
        assert [(f.nom, f.contenu, f.taille) for f in fichiers.lister(s, c)] == [("pieces/plan.pdf", b"%PDF-1.7\n", 9)]
        assert [v.action for v in depot.historique(s, c)] == ["fichier", "modification", "modification", "modification"]


def test_option_equipe_absente_message_clair(monkeypatch):
    import importlib.util

    from generateur.erreurs import ErreurDCE

    vrai = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda nom, *a: None if nom == "waitress" else vrai(nom, *a))
    with pytest.raises(ErreurDCE) as exc:
        connexion.exiger_option("sqlite:///x.sqlite")
    assert "pip install 'dce[equipe]'" in str(exc.value) and "waitress" in str(exc.value)


# --- comptes et connexion ----------------------------------------------------------------------------------

def test_mots_de_passe_haches_et_essais_limites(app, url_base):
    fabrique = sessionmaker(connexion.ouvrir(url_base), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        alice = comptes.trouver(s, "alice")
        assert alice.mot_de_passe.startswith("$argon2id$") and MOT_DE_PASSE not in alice.mot_de_passe
    client = app.test_client()
    sans_jeton = client.post("/connexion", data={"identifiant": "alice", "mot_de_passe": MOT_DE_PASSE})
    assert sans_jeton.status_code == 400 and "Jeton de sécurité" in _texte(sans_jeton)
    for _ in range(comptes.ESSAIS_MAX):
        refus = client.post("/connexion", data={"_csrf": _jeton(client), "identifiant": "alice", "mot_de_passe": "faux"})
        assert refus.status_code == 401 and "Identifiant ou mot de passe incorrect" in _texte(refus)
    bloque = client.post("/connexion", data={"_csrf": _jeton(client), "identifiant": "alice",
                                             "mot_de_passe": MOT_DE_PASSE})
    assert bloque.status_code == 401 and "Trop d'essais manqués : compte bloqué" in _texte(bloque)
    assert client.get("/").status_code == 302  # pas connecté
    assert _connecte(app, "anne").get("/").status_code == 200  # les autres comptes ne sont pas touchés


def test_derriere_un_mandataire_https(tmp_path):
    """--https : cookie de session « Secure » nommé __Host-dce ; l'adresse du client vient de X-Forwarded-For."""
    url = f"sqlite:///{tmp_path / 'dce.sqlite'}"
    app = create_app_equipe(RACINE, url, tmp_path / "stockage", https=True)
    _comptes(url)
    client = app.test_client()
    entetes = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    page = client.get("/connexion", headers=entetes, base_url="https://dce.region.local")
    jeton = re.search(r'name="_csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-dce=") and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    connexion_ = client.post("/connexion", headers=entetes, base_url="https://dce.region.local",
                             data={"_csrf": jeton, "identifiant": "alice", "mot_de_passe": MOT_DE_PASSE})
    assert connexion_.status_code == 302
    admin = _connecte(app, "admin")
    assert re.search(r"<td>alice</td><td>connexion</td><td></td><td>depuis 203\.0\.113\.5</td>",
                     _texte(admin.get("/admin/journal")))


def test_session_expiree_et_compte_desactive(app, url_base):
    client = _connecte(app, "alice")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["vu"] -= 2 * 3600  # deux heures sans activité
    expiree = client.get("/")
    assert expiree.status_code == 302 and "/connexion" in expiree.location
    assert "Session expirée" in _texte(client.get(expiree.location))
    bruno = _connecte(app, "bruno")
    admin = _connecte(app, "admin")
    assert admin.post("/admin/utilisateurs/bruno/desactiver", data={"_csrf": _jeton(admin, "/admin")}).status_code == 302
    assert bruno.get("/").status_code == 302  # session ouverte close aussitôt
    refus = bruno.post("/connexion", data={"_csrf": _jeton(bruno), "identifiant": "bruno", "mot_de_passe": MOT_DE_PASSE})
    assert refus.status_code == 401


def test_page_d_administration(app):
    admin = _connecte(app, "admin")
    jeton = _jeton(admin, "/admin")
    court = admin.post("/admin/utilisateurs", data={"_csrf": jeton, "identifiant": "claire", "nom": "Claire Dubois",
                                                    "role": "acheteur", "service": "Direction des transports",
                                                    "mot_de_passe": "court"})
    assert court.status_code == 422 and "mot de passe trop court : au moins 12 caractères" in _texte(court)
    ajout = admin.post("/admin/utilisateurs", data={"_csrf": jeton, "identifiant": "claire", "nom": "Claire Dubois",
                                                    "role": "acheteur", "service": "Direction de la culture",
                                                    "mot_de_passe": MOT_DE_PASSE})
    assert ajout.status_code == 302
    assert admin.post("/admin/services", data={"_csrf": jeton, "nom": "Direction des sports"}).status_code == 302
    page = _texte(admin.get("/admin"))
    assert re.search(r"<th scope=\"row\">claire</th><td>Claire Dubois</td><td>Acheteur</td><td>Direction de la culture</td>", page)
    assert "<li>Direction des sports</li>" in page
    claire = _connecte(app, "claire")
    assert "Claire Dubois · Acheteur · Direction de la culture" in _texte(claire.get("/"))
    assert claire.post("/admin/services", data={"_csrf": _jeton(claire, "/"), "nom": "X"}).status_code == 403
    assert _connecte(app, "julie").get("/admin/journal").status_code == 403
    journal = _texte(admin.get("/admin/journal"))
    assert re.search(r"<td>admin</td><td>utilisateur ajouté</td><td>claire</td><td>rôle acheteur, service Direction de "
                     r"la culture</td>", journal)
    # retour après connexion : jamais vers un autre site
    client = app.test_client()
    for suite in ("//attaquant.example/", "/\\attaquant.example", "https://attaquant.example/"):
        reponse = client.post("/connexion", data={"_csrf": _jeton(client), "identifiant": "anne",
                                                  "mot_de_passe": MOT_DE_PASSE, "suite": suite})
        assert reponse.status_code == 302 and reponse.location == "/", suite


def test_une_acheteuse_ne_voit_pas_les_consultations_d_un_autre_service(app):
    alice, bruno, julie = _connecte(app, "alice"), _connecte(app, "bruno"), _connecte(app, "julie")
    fiche = _importer(alice)
    assert "Prestations de nettoyage" in _texte(alice.get(fiche))
    assert bruno.get(fiche).status_code == 404
    assert "2026-SRV-0388" not in _texte(bruno.get("/"))
    assert bruno.post(fiche + "/dupliquer", data={"_csrf": _jeton(bruno, "/")}).status_code == 404
    assert bruno.get(fiche + "/historique").status_code == 404
    assert "2026-SRV-0388" in _texte(julie.get("/")) and julie.get(fiche).status_code == 200
    assert "2026-SRV-0388" in _texte(_connecte(app, "anne").get("/"))  # même service qu'Alice
    assert alice.get("/admin").status_code == 403 and alice.get("/admin/journal.csv").status_code == 403


def test_deux_modifications_concurrentes_la_seconde_refusee_rien_perdu(app):
    alice, anne = _connecte(app, "alice"), _connecte(app, "anne")
    fiche = _importer(alice)
    section = fiche + "/section/consultation"
    page_alice, page_anne = _texte(alice.get(section)), _texte(anne.get(section))
    version = re.search(r'name="_version" value="(\d+)"', page_alice).group(1)
    assert re.search(r'name="_version" value="(\d+)"', page_anne).group(1) == version == "1"
    donnees = yaml.safe_load((EXEMPLES / "nettoyage-hotel-region.yaml").read_text(encoding="utf-8"))
    formulaire = {"reference": donnees["reference"], "nature": donnees["nature"], "categorie": donnees["categorie"],
                  "cpv": donnees["cpv"], "date_lancement": str(donnees["date_lancement"]),
                  "date_limite_offres": str(donnees["date_limite_offres"]), "duree_mois": str(donnees["duree_mois"]),
                  "action": "fiche", "_version": version}
    premiere = alice.post(section, data={**formulaire, "_csrf": _jeton(alice, "/"), "objet": "Objet choisi par Alice"})
    assert premiere.status_code == 302
    seconde = anne.post(section, data={**formulaire, "_csrf": _jeton(anne, "/"), "objet": "Objet choisi par Anne"})
    assert seconde.status_code == 409
    texte = _texte(seconde)
    assert "Enregistrement refusé" in texte and "modifiée par Alice Martin" in texte
    assert "Version 2 enregistrée par Alice Martin" in texte
    assert re.search(r"Objet de la consultation</th><td>[^<]*Prestations de nettoyage[^<]*</td><td>Objet choisi par Alice", texte)
    assert "Objet choisi par Anne" in texte  # la saisie d'Anne est gardée dans le formulaire
    assert re.search(r'name="_version" value="2"', texte)
    assert "Objet choisi par Alice" in _texte(alice.get(fiche))  # rien d'écrasé
    # historique et différences
    historique = _texte(alice.get(fiche + "/historique?de=1&a=2"))
    assert "Différences de la version 1 à la version 2" in historique and "Objet choisi par Alice" in historique
    # Anne, informée, enregistre à nouveau : cette fois sciemment
    reprise = anne.post(section, data={**formulaire, "_csrf": _jeton(anne, "/"), "objet": "Objet choisi par Anne",
                                       "_version": "2"})
    assert reprise.status_code == 302 and "Objet choisi par Anne" in _texte(alice.get(fiche))
    # duplication
    copie = alice.post(fiche + "/dupliquer", data={"_csrf": _jeton(alice, "/")})
    assert copie.status_code == 302 and copie.location != fiche
    assert "Consultation 2026-SRV-0388-copie" in _texte(alice.get(copie.location))


def test_verrou_optimiste_au_niveau_de_la_base(url_base):
    """Deux transactions qui ont lu la même version : la seconde écriture est écartée par la base (StaleData)."""
    _comptes(url_base)
    fabrique = sessionmaker(connexion.ouvrir(url_base), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        ident = depot.creer(s, comptes.trouver(s, "alice"), {"reference": "V-1", "objet": "a"}).id
    s1, s2 = fabrique(), fabrique()
    try:
        c1 = depot.lire(s1, comptes.trouver(s1, "alice"), ident)
        c2 = depot.lire(s2, comptes.trouver(s2, "anne"), ident)
        depot.enregistrer(s1, comptes.trouver(s1, "alice"), c1, {"reference": "V-1", "objet": "b"}, 1, str)
        s1.commit()
        with pytest.raises(depot.Conflit) as exc:
            depot.enregistrer(s2, comptes.trouver(s2, "anne"), c2, {"reference": "V-1", "objet": "c"}, 1, str)
        assert [a.nom for a in exc.value.auteurs] == ["Alice Martin"]
        assert [(ch.chemin, ch.avant, ch.apres) for ch in exc.value.changements] == [("objet", "a", "b")]
    finally:
        s1.close()
        s2.close()


# --- génération, visa, publication, journal ------------------------------------------------------------------

def test_publication_bloquee_jusqu_au_visa_trace_dans_l_annexe(app, tmp_path):
    alice, julie, admin = _connecte(app, "alice"), _connecte(app, "julie"), _connecte(app, "admin")
    fiche = _importer(alice)
    assert alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")}).status_code == 302
    page = _texte(alice.get(fiche))
    assert "En attente du visa d'un juriste" in page and "non validée" in page
    refus = alice.post(fiche + "/publier", data={"_csrf": _jeton(alice, "/")})
    assert refus.status_code == 409
    assert "Publication impossible avant le visa d'un juriste" in _texte(refus)
    assert "Publiée le" not in _texte(alice.get(fiche))
    # la juriste valide une version de clause (qui, quand, commentaire), puis vise la consultation
    valide = julie.post("/clauses", data={"_csrf": _jeton(julie, "/"), "clause": "rc-objet", "version": "1",
                                          "commentaire": "Rédaction conforme à R2111-1"})
    assert valide.status_code == 302
    assert re.search(r"validée par Julie Garnier le [^<]*: Rédaction conforme à R2111-1", _texte(alice.get(fiche)))
    assert alice.post(fiche + "/viser", data={"_csrf": _jeton(alice, "/"), "commentaire": "x"}).status_code == 403
    assert julie.post(fiche + "/viser", data={"_csrf": _jeton(julie, "/"),
                                              "commentaire": "Clauses partielles relues"}).status_code == 302
    assert "donné par Julie Garnier" in _texte(alice.get(fiche))
    # la liste du personnel à reprendre (pièce jointe) n'est pas encore téléversée : la publication l'exige
    sans_piece = alice.post(fiche + "/publier", data={"_csrf": _jeton(alice, "/")})
    assert sans_piece.status_code == 422
    assert "fichier « pieces/nettoyage-hotel-region-personnel.csv » absent de la consultation ; le téléverser dans " \
           "« Fichiers joints »" in _texte(sans_piece)
    page = alice.get(fiche).get_data(as_text=True)
    liste = (EXEMPLES / "pieces" / "nettoyage-hotel-region-personnel.csv").read_bytes()
    televerse = alice.post(fiche + "/fichiers", content_type="multipart/form-data", data={
        "_csrf": _jeton(alice, "/"), "_version": re.search(r'name="_version" value="(\d+)"', page).group(1),
        "usage": "chemin", "chemin": "pieces/nettoyage-hotel-region-personnel.csv",
        "fichier": (io.BytesIO(liste), "personnel.csv")})
    assert televerse.status_code == 302
    assert julie.post(fiche + "/viser", data={"_csrf": _jeton(julie, "/"),  # le dépôt a fait une nouvelle version
                                              "commentaire": "Clauses partielles relues"}).status_code == 302
    publie = alice.post(fiche + "/publier", data={"_csrf": _jeton(alice, "/")})
    assert publie.status_code == 302
    lien = re.search(r'href="(/c/\d+/dce/\d+/2026-SRV-0388-piece-nettoyage-hotel-region-personnel\.csv)"',
                     alice.get(fiche).get_data(as_text=True))
    assert alice.get(lien.group(1)).data == liste  # publiée avec le DCE, à l'octet
    page = _texte(alice.get(fiche))
    assert "Publiée le" in page and "par Alice Martin" in page
    lien = re.search(r'href="(/c/\d+/dce/\d+/2026-SRV-0388-annexe-conformite\.docx)"', alice.get(fiche).get_data(as_text=True))
    (tmp_path / "annexe.docx").write_bytes(alice.get(lien.group(1)).data)
    annexe = Lu(tmp_path / "annexe.docx")
    assert "Visa du service juridique" in annexe.texte
    assert "Julie Garnier" in annexe.tout and "Clauses partielles relues" in annexe.tout
    assert re.search(r"validée par Julie Garnier le .*Rédaction conforme à R2111-1", annexe.tout)
    assert "couverte par le visa de la consultation" in annexe.tout
    # le journal : connexion, import, génération, publication refusée, visa, publication ; export CSV
    journal = _texte(admin.get("/admin/journal"))
    for action in ("connexion", "import", "génération", "publication refusée", "visa d'une clause",
                   "visa d'une consultation", "publication"):
        assert f"<td>{action}</td>" in journal, action
    lignes = list(csv.reader(io.StringIO(admin.get("/admin/journal.csv").data.decode("utf-8-sig")), delimiter=";"))
    assert lignes[0] == ["date (UTC)", "utilisateur", "action", "objet", "détail"]
    assert any(l[1] == "julie" and l[2] == "visa d'une consultation" and "Clauses partielles relues" in l[4]
               for l in lignes)


def test_pieces_stockees_par_empreinte(app, tmp_path):
    import hashlib

    alice = _connecte(app, "alice")
    fiche = _importer(alice, "restauration-lycees.yaml")
    alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    page = alice.get(fiche).get_data(as_text=True)
    liens = re.findall(r'href="(/c/\d+/dce/\d+/([^"]+))" download>[^<]+</a> <code[^>]*>([0-9a-f]{12})</code>', page)
    assert {n for _, n, _ in liens} >= {"2026-FCS-0213-CCAP.docx", "2026-FCS-0213-RC.docx", "2026-FCS-0213-manifeste.json"}
    for adresse, nom, debut in liens:
        contenu = alice.get(adresse).data
        assert hashlib.sha256(contenu).hexdigest().startswith(debut), nom
    (tmp_path / "ccap.docx").write_bytes(alice.get(next(a for a, n, _ in liens if n.endswith("CCAP.docx"))).data)
    objet = yaml.safe_load((EXEMPLES / "restauration-lycees.yaml").read_text(encoding="utf-8"))["objet"]
    assert objet.replace("'", "’") in Lu(tmp_path / "ccap.docx").tout  # la pièce de cette consultation
    assert zipfile.is_zipfile(tmp_path / "ccap.docx")


# --- ligne de commande ---------------------------------------------------------------------------------------

def test_commandes_utilisateur(url_base, tmp_path):
    from generateur.interfaces.cli import main

    lanceur = CliRunner()
    ajout = lanceur.invoke(main, ["utilisateur", "ajouter", "claire", "--nom", "Claire Dubois", "--role", "acheteur",
                                  "--service", "Direction des transports", "--mot-de-passe-stdin", "--base", url_base],
                           input=MOT_DE_PASSE + "\n")
    assert ajout.exit_code == 0, ajout.output
    assert "Utilisateur « claire » ajouté : acheteur, service Direction des transports." in ajout.output
    court = lanceur.invoke(main, ["utilisateur", "ajouter", "denis", "--service", "X", "--mot-de-passe-stdin",
                                  "--base", url_base], input="court\n")
    assert court.exit_code == 2 and "mot de passe trop court : au moins 12 caractères" in court.output
    assert lanceur.invoke(main, ["utilisateur", "ajouter", "denis", "--mot-de-passe-stdin", "--base", url_base],
                          input=MOT_DE_PASSE + "\n").exit_code == 2  # acheteur sans service
    liste = lanceur.invoke(main, ["utilisateur", "lister", "--base", url_base])
    assert liste.output.splitlines() == ["claire\tClaire Dubois\tacheteur\tDirection des transports\tactif"]
    assert lanceur.invoke(main, ["utilisateur", "desactiver", "claire", "--base", url_base]).exit_code == 0
    assert lanceur.invoke(main, ["utilisateur", "lister", "--base", url_base]).output.endswith("\tdésactivé\n")
    inconnu = lanceur.invoke(main, ["utilisateur", "desactiver", "personne", "--base", url_base])
    assert inconnu.exit_code == 2 and "utilisateur inconnu « personne »" in inconnu.output


# --- service : commande, serveur de production, charge bornée -------------------------------------------------

def test_commande_dce_serveur_equipe(tmp_path):
    """`dce serveur --equipe --base URL` : waitress sur 127.0.0.1, base migrée au démarrage, page de connexion."""
    import subprocess
    import sys
    import urllib.request

    base = tmp_path / "base" / "dce.sqlite"
    commande = [sys.executable, "-c", "from generateur.interfaces.cli import main; main()", "--catalogue", str(RACINE),
                "serveur", "--equipe", "--port", "0", "--base", f"sqlite:///{base}", "--stockage", str(tmp_path / "pieces")]
    processus = subprocess.Popen(commande, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        ligne = processus.stdout.readline()
        adresse = re.search(r"Serveur d'équipe dce ouvert à l'adresse (http://127\.0\.0\.1:\d+/)", ligne)
        assert adresse, ligne + (processus.stderr.read() if processus.poll() is not None else "")
        with urllib.request.urlopen(adresse.group(1), timeout=30) as page:  # redirigé vers la connexion
            assert page.headers["Server"] == "waitress" and page.url.endswith("/connexion?suite=/")
            assert "Se connecter" in page.read().decode("utf-8")
        assert (tmp_path / "pieces" / "cle-secrete").stat().st_mode & 0o077 == 0
        assert connexion.niveau(connexion.ouvrir(f"sqlite:///{base}")) == "0003"
    finally:
        processus.terminate()
        processus.wait(timeout=30)


def test_charge_bornee_vingt_utilisateurs_qui_remplissent_et_generent(tmp_path):
    """20 acheteurs simultanés (waitress, 8 fils, SQLite) : connexion, reprise d'un fichier, page remplie et
    enregistrée, génération — aucune erreur, chaque consultation a son DCE. Les temps sont dans benchmarks/equipe.py."""
    import sys
    import threading

    from waitress import wasyncore
    from waitress.server import create_server

    sys.path.insert(0, str(RACINE / "benchmarks"))
    import equipe as banc

    url = f"sqlite:///{tmp_path / 'dce.sqlite'}"
    app = create_app_equipe(RACINE, url, tmp_path / "stockage")
    banc.creer_comptes(url, 20)
    serveur = create_server(app, host="127.0.0.1", port=0, threads=8)
    boucle = threading.Thread(target=serveur.run, daemon=True)
    boucle.start()
    try:
        mesures = banc.charge(f"http://127.0.0.1:{serveur.effective_port}", 20, tours=1)
    finally:
        # fermé depuis sa boucle : fermer ses sockets d'ici, pendant qu'elle les attend (select), lui faisait lever
        # « Bad file descriptor » dans son fil
        serveur.trigger.pull_trigger(lambda: wasyncore.close_all(serveur._map))
        boucle.join(10)
        serveur.task_dispatcher.shutdown()
    assert not boucle.is_alive()
    assert mesures.erreurs == []
    assert len(mesures.generations) == len(mesures.enregistrements) == 20
    from generateur.base import dce

    fabrique = sessionmaker(connexion.ouvrir(url), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        consultations = depot.lister(s, comptes.ajouter(s, "controle", "Contrôle", "juriste", MOT_DE_PASSE, None))
        assert len(consultations) == 20
        for c in consultations:
            assert c.numero_version == 2 and c.objet.endswith("(tour 1)")
            generation = dce.generations(s, c)[0]
            assert generation.numero_reponses == 2 and any(p.nom.endswith("-CCAP.docx") for p in generation.pieces)


# --- import d'un dossier de consultations, dce regenerer et dce bilan sur la base -------------------------------

def test_import_puis_regenerer_et_bilan_sur_la_base(tmp_path):
    from generateur.base import dce
    from generateur.interfaces.cli import main

    dossier = tmp_path / "consultations"
    for exemple in ("nettoyage-hotel-region", "restauration-lycees"):
        copier_exemple(EXEMPLES / f"{exemple}.yaml", dossier / exemple / "reponses.yaml")
    lanceur = CliRunner()
    racine = ["--catalogue", str(RACINE)]
    assert lanceur.invoke(main, racine + ["regenerer", str(dossier), "-j", "1"]).exit_code == 0
    url, stockage = f"sqlite:///{tmp_path / 'dce.sqlite'}", tmp_path / "equipe"
    options = ["--base", url, "--stockage", str(stockage)]
    importe = lanceur.invoke(main, racine + ["base", "importer", str(dossier), "--service", "Direction des lycées"] + options)
    assert importe.exit_code == 0, importe.output
    assert "2 consultation(s) importée(s) dans le service « Direction des lycées », 0 déjà présente(s)" in importe.output
    relance = lanceur.invoke(main, racine + ["base", "importer", str(dossier), "--service", "Direction des lycées"] + options)
    assert "0 consultation(s) importée(s)" in relance.output and "2 déjà présente(s)" in relance.output

    _comptes(url)
    fabrique = sessionmaker(connexion.ouvrir(url), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        alice = comptes.trouver(s, "alice")
        par_reference = {c.reference: c for c in depot.lister(s, alice)}
        assert set(par_reference) == {"2026-SRV-0388", "2026-FCS-0213"}  # visibles du service d'Alice
        nettoyage = par_reference["2026-SRV-0388"]
        piece = next(p for p in dce.generations(s, nettoyage)[0].pieces if p.nom.endswith("-CCAP.docx"))
        assert dce.Stockage(stockage / "pieces").lire(piece) == \
            (dossier / "nettoyage-hotel-region" / "versions" / "001" / piece.nom).read_bytes()
        reponses = dict(nettoyage.reponses, objet="Nettoyage des locaux de l'Hôtel de Région, marché renouvelé")
        depot.enregistrer(s, alice, nettoyage, reponses, nettoyage.numero_version, str)

    regenere = lanceur.invoke(main, racine + ["regenerer", "-j", "1"] + options)
    assert regenere.exit_code == 0, regenere.output
    assert "1 modifiée" in regenere.output and "1 à jour" in regenere.output
    assert "Base : 1 nouvelle(s) version(s) enregistrée(s) (2026-SRV-0388-" in regenere.output
    with connexion.session(fabrique) as s:
        nettoyage = depot.lire(s, comptes.trouver(s, "alice"), nettoyage.id)
        derniere = dce.generations(s, nettoyage)[0]
        assert len(dce.generations(s, nettoyage)) == 2 and derniere.numero_reponses == 2
        rc = next(p for p in derniere.pieces if p.nom.endswith("-RC.docx"))
        (tmp_path / "rc.docx").write_bytes(dce.Stockage(stockage / "pieces").lire(rc))
        assert "marché renouvelé" in Lu(tmp_path / "rc.docx").tout
        assert len(dce.generations(s, par_reference["2026-FCS-0213"])) == 1  # à jour : pas de nouvelle version

    bilan = lanceur.invoke(main, racine + ["bilan", "--sortie", str(tmp_path / "bilan")] + options)
    assert bilan.exit_code == 0, bilan.output
    assert re.search(r"2\s+consultations", bilan.output)
    assert any(p.suffix == ".xlsx" for p in (tmp_path / "bilan").rglob("*"))
    sans_rien = lanceur.invoke(main, racine + ["bilan"])
    assert sans_rien.exit_code == 2 and "soit un DOSSIER de consultations, soit --base URL" in sans_rien.output


def test_justification_d_un_refus_saisie_dans_sa_section(app, tmp_path):
    """Sans l'étape des suggestions, la justification qu'exige un refus (CCP L2112-2-1) a sa page : au-delà du seuil
    européen sans clause sociale, l'obligation non respectée disparaît des contrôles une fois la justification saisie."""
    from conftest import ecrire, reponses

    alice = _connecte(app, "alice")
    donnees = reponses(lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 180000},
                             {"numero": 2, "intitule": "Enveloppes", "montant_estime": 120000}])
    fiche = alice.post("/reprendre", data={"_csrf": _jeton(alice, "/"), "fichier": (
        io.BytesIO(ecrire(tmp_path, donnees).read_bytes()), "reponses.yaml")},
        content_type="multipart/form-data").location
    alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    assert re.search(r'id="controles">.*1 obligation légale non respectée', _texte(alice.get(fiche)))
    section = _texte(alice.get(fiche + "/section/justifications"))
    assert "Justification de l'absence de condition d'exécution sociale" in section
    version = re.search(r'name="_version" value="(\d+)"', section).group(1)
    motif = "Fournitures livrées par transporteur : aucune heure de main-d'œuvre sur place."
    envoi = alice.post(fiche + "/section/justifications", data={
        "_csrf": _jeton(alice, "/"), "_version": version, "action": "fiche",
        "justifications.absence_clause_sociale": motif})
    assert envoi.status_code == 302
    alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    controles = re.search(r'id="controles">(.*?)</p>', _texte(alice.get(fiche))).group(1)
    assert "réponses version 2" in controles and "non respectée" not in controles
    assert yaml.safe_load(alice.get(fiche + "/reponses.yaml").data)["justifications"]["absence_clause_sociale"] == motif


def test_nouvelle_consultation_problemes_menent_au_champ(app):
    """Une consultation neuve : chaque problème de la fiche mène au champ, dans sa page, erreur affichée."""
    alice = _connecte(app, "alice")
    page = alice.post("/nouvelle", data={"_csrf": _jeton(alice, "/")})
    assert page.status_code == 302 and page.location.endswith("/section/acheteur")
    fiche = page.location.rsplit("/section/", 1)[0]
    texte = alice.get(fiche).get_data(as_text=True)
    lien = re.search(r'<a href="([^"]*/section/consultation\?verifier=1#c-reference)">([^<]+)</a>', texte)
    assert lien and "Référence de la consultation" in html.unescape(lien.group(2))
    section = alice.get(html.unescape(lien.group(1)).split("#")[0]).get_data(as_text=True)
    assert re.search(r'id="c-reference"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="c-reference"', section) or \
        'id="c-reference-erreur"' in section
