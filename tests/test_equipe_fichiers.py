"""Serveur d'équipe : les fichiers que désignent les réponses (texte technique du CCTP d'un lot, pièces jointes par
l'acheteur) gardés dans la base, téléversés depuis la fiche, emportés par l'import d'un dossier, et retrouvés par
la génération, la publication, `dce regenerer --base` et `dce bilan --base` — sur SQLite et sur PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, Lu, copier_exemple, reponses_seules
from test_equipe import _comptes, _connecte, _jeton, _texte, app, hachage_leger  # noqa: F401, F811 - fixtures

from sqlalchemy.orm import sessionmaker  # noqa: E402

from generateur.base import comptes, connexion, depot, fichiers  # noqa: E402

TRAVAUX = "travaux-lycee.yaml"
# Ce que les deux textes techniques de l'exemple font entrer dans le CCTP (Markdown du lot 1, Word du lot 3).
PHRASE_MARKDOWN = "tri sur site des déchets selon les flux fixés"
PHRASE_WORD = "Portes à deux vantaux en aluminium à rupture de pont thermique"


def _reprendre(client, exemple: str = TRAVAUX) -> str:
    reponse = client.post("/reprendre", data={"_csrf": _jeton(client, "/"), "fichier": (
        io.BytesIO((EXEMPLES / exemple).read_bytes() if exemple == TRAVAUX else reponses_seules(exemple)), exemple)},
        content_type="multipart/form-data")
    assert reponse.status_code == 302, _texte(reponse)
    return reponse.location


def _version(client, fiche: str) -> str:
    return re.search(r'name="_version" value="(\d+)"', client.get(fiche).get_data(as_text=True)).group(1)


def _deposer(client, fiche: str, contenu: bytes, nom_client: str, version: str | None = None, **champs: str):
    donnees = {"_csrf": _jeton(client, fiche), "_version": version or _version(client, fiche), "usage": "chemin",
               **champs, "fichier": (io.BytesIO(contenu), nom_client)}
    return client.post(fiche + "/fichiers", data=donnees, content_type="multipart/form-data")


def _dernier_dce(client, fiche: str, tmp_path, suffixe: str):
    page = client.get(fiche).get_data(as_text=True)
    adresse = re.search(rf'href="(/c/\d+/dce/\d+/[^"]+{re.escape(suffixe)})"', page).group(1)
    chemin = tmp_path / adresse.rsplit("/", 1)[1]
    chemin.write_bytes(client.get(adresse).data)
    return chemin


def test_exemple_de_travaux_televerse_genere_et_publie(app, tmp_path):  # noqa: F811
    """travaux-lycee repris dans le serveur : la fiche liste ses 8 fichiers manquants, Générer est retenu tant que
    les textes techniques manquent ; une fois téléversés, le CCTP contient le texte Word et le Markdown importés, et
    la publication emporte les trois pièces jointes, à l'octet."""
    alice, julie = _connecte(app, "alice"), _connecte(app, "julie")
    fiche = _reprendre(alice)
    page = _texte(alice.get(fiche))
    designes = re.findall(r"<code>((?:cctp|pieces)/[^<]+)</code></td>\s*<td class=\"etat-fichier\"><strong>manquant",
                          page)
    assert designes == ["cctp/travaux-lycee-lot-1-gros-oeuvre.md", "cctp/travaux-lycee-lot-2-isolation-facades.md",
                        "cctp/travaux-lycee-lot-3-menuiseries.docx", "cctp/travaux-lycee-lot-4-peinture-sols.md",
                        "cctp/travaux-lycee-lot-5-chauffage-ventilation-plomberie.md",
                        "pieces/travaux-lycee/plan-rez-de-chaussee.pdf",
                        "pieces/travaux-lycee/reperage-amiante-avant-travaux.pdf",
                        "pieces/travaux-lycee/plan-general-coordination-sps.pdf"]
    assert "Générer le DCE" not in page
    assert "Les réponses désignent 8 fichiers (texte technique du CCTP, pièces jointes) à téléverser dans " \
           "« Fichiers joints »." in page
    assert "Texte technique du CCTP (prescripteur ou maître d'œuvre), lot 3 : fichier " \
           "« cctp/travaux-lycee-lot-3-menuiseries.docx » à téléverser" in page
    refus = alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    assert refus.status_code == 422 and "absent de la consultation ; le téléverser dans « Fichiers joints »" in _texte(refus)

    for chemin in designes:  # chaque fichier déposé sous le chemin que désignent les réponses
        envoi = _deposer(alice, fiche, (EXEMPLES / chemin).read_bytes(), chemin.rsplit("/", 1)[1], chemin=chemin)
        assert envoi.status_code == 302, _texte(envoi)
    page = _texte(alice.get(fiche))
    assert "manquant" not in page and "Générer le DCE" in page
    plan_rdc = "pieces/travaux-lycee/plan-rez-de-chaussee.pdf"
    plan = (EXEMPLES / plan_rdc).read_bytes()
    assert f"SHA-256 <code title=\"empreinte SHA-256\">{hashlib.sha256(plan).hexdigest()[:12]}</code>" in page
    telecharge = alice.get(fiche + "/fichiers/" + plan_rdc)
    assert telecharge.status_code == 200 and telecharge.data == plan
    assert re.search(r"<td>fichier</td>", _texte(alice.get(fiche + "/historique")))  # chaque dépôt : une version

    genere = alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    assert genere.status_code == 302, _texte(genere)
    cctp = Lu(_dernier_dce(alice, fiche, tmp_path, "-CCTP.docx"))
    assert PHRASE_MARKDOWN in cctp.tout and PHRASE_WORD in cctp.tout
    rc = Lu(_dernier_dce(alice, fiche, tmp_path, "-RC.docx"))
    assert "Rapport de repérage de l'amiante avant travaux".replace("'", "’") in rc.tout.replace("'", "’")

    # publication : visa du juriste si des clauses l'exigent, puis les pièces jointes sont publiées avec le DCE
    assert julie.post(fiche + "/viser", data={"_csrf": _jeton(julie, "/"), "commentaire": "Relu"}).status_code == 302
    publie = alice.post(fiche + "/publier", data={"_csrf": _jeton(alice, "/")})
    assert publie.status_code == 302, _texte(publie)
    assert (_dernier_dce(alice, fiche, tmp_path, "-piece-plan-rez-de-chaussee.pdf")).read_bytes() == plan
    # la juriste consulte les fichiers mais n'en dépose pas (droits du rôle)
    assert julie.get(fiche + "/fichiers/" + designes[0]).status_code == 200
    assert "Téléverser" not in _texte(julie.get(fiche)) and "Ajouter la pièce" not in _texte(julie.get(fiche))
    interdit = _deposer(julie, fiche, b"# Autre\n", "autre.md", _version(alice, fiche), chemin=designes[0])
    assert interdit.status_code == 403
    # une acheteuse d'un autre service ne voit ni ne télécharge les fichiers
    bruno = _connecte(app, "bruno")
    assert bruno.get(fiche + "/fichiers/" + designes[0]).status_code == 404
    # dupliquer la consultation emporte ses fichiers
    copie = alice.post(fiche + "/dupliquer", data={"_csrf": _jeton(alice, "/")}).location
    page = _texte(alice.get(copie))
    assert "manquant" not in page and len(re.findall(r'class="etat-fichier"><a href="/c/\d+/fichiers/', page)) == 8


def test_ajouter_une_piece_et_un_texte_technique_depuis_la_fiche(app, tmp_path):  # noqa: F811
    """Une pièce ajoutée (titre, nature, lot) et un texte technique Word pour un lot : les réponses les désignent
    dans une nouvelle version, le CCTP du lot contient le texte, le RC énumère la pièce."""
    alice = _connecte(app, "alice")
    fiche = _reprendre(alice, "amp-espaces-verts.yaml")
    version = int(_version(alice, fiche))
    word = (EXEMPLES / "cctp" / "travaux-lycee-lot-3-menuiseries.docx").read_bytes()
    envoi = _deposer(alice, fiche, word, "CCTP Lot 1 Élagage.DOCX", usage="cctp", lot_cctp="0")
    assert envoi.status_code == 302, _texte(envoi)
    pdf = (EXEMPLES / "pieces" / "travaux-lycee" / "plan-rez-de-chaussee.pdf").read_bytes()
    envoi = _deposer(alice, fiche, pdf, "Plan des parcs.pdf", usage="piece", titre="Plan des parcs et jardins",
                     nature="plans", lot="")
    assert envoi.status_code == 302, _texte(envoi)
    import yaml

    reponses = yaml.safe_load(alice.get(fiche + "/reponses.yaml").data)
    assert reponses["lots"][0]["cctp_technique"] == "cctp/CCTP-Lot-1-Elagage.docx"
    assert reponses["pieces_acheteur"][-1] == {"titre": "Plan des parcs et jardins", "fichier": "pieces/Plan-des-parcs.pdf",
                                               "nature": "plans"}
    assert int(_version(alice, fiche)) == version + 2
    assert alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")}).status_code == 302
    assert PHRASE_WORD in Lu(_dernier_dce(alice, fiche, tmp_path, "-CCTP.docx")).tout
    assert "Plan des parcs et jardins" in Lu(_dernier_dce(alice, fiche, tmp_path, "-RC.docx")).tout


def test_fichiers_refuses_message_clair(url_base, tmp_path):
    """Type, contenu, taille, « .. », chemin absolu, nom réservé : refus en français, rien d'enregistré ; CSRF exigé."""
    from generateur.interfaces.web.equipe import create_app_equipe

    app_ = create_app_equipe(RACINE, url_base, tmp_path / "stockage",
                             limites=fichiers.Limites(taille_max=64 * 1024, types=(".pdf", ".md", ".docx", ".csv")))
    _comptes(url_base)
    alice = _connecte(app_, "alice")
    fiche = _reprendre(alice)
    version = _version(alice, fiche)
    pdf = b"%PDF-1.7\n" + b"0" * 100
    cas = [
        (b"MZ\x90\x00", "installeur.exe", {"usage": "piece", "titre": "Outil", "nature": "plans"},
         "« pieces/installeur.exe » : type de fichier refusé (« .exe ») ; types acceptés : .pdf, .md, .docx, .csv"),
        (b"<html><script>alert(1)</script>", "plan.pdf", {"chemin": "pieces/travaux-lycee/plan-rez-de-chaussee.pdf"},
         "le contenu n'est pas celui d'un fichier PDF (.pdf) : type refusé"),
        (b"%PDF-1.7\n" + b"0" * 70000, "gros.pdf", {"chemin": "pieces/travaux-lycee/plan-rez-de-chaussee.pdf"},
         "fichier trop volumineux : au plus 64 Kio par fichier"),
        (pdf, "x.pdf", {"chemin": "../../etc/plan.pdf"}, "« .. » refusé : le fichier doit rester dans le dossier"),
        (pdf, "x.pdf", {"chemin": "/etc/plan.pdf"}, "chemin absolu refusé"),
        (pdf, "x.pdf", {"chemin": "C:\\plans\\plan.pdf"}, "chemin absolu refusé"),
        (b"# x\n", "reponses.yaml", {"chemin": "versions/001/x.pdf"}, "nom réservé au dossier de la consultation"),
        (b"Texte sans mise en forme", "lot3.docx", {"chemin": "cctp/travaux-lycee-lot-3-menuiseries.docx"},
         "« cctp/travaux-lycee-lot-3-menuiseries.docx » : le contenu n'est pas celui d'un fichier Word (.docx)"),
    ]
    for contenu, nom_client, champs, message in cas:
        reponse = _deposer(alice, fiche, contenu, nom_client, **champs)
        assert reponse.status_code == 422, (nom_client, _texte(reponse))
        texte = _texte(reponse)
        assert "Fichier refusé" in texte and message in texte, (message, re.search(r"id=.refus-fichier.*?</div>", texte, re.S).group(0))
    # un texte technique Word ou Markdown seulement, même si le type est accepté pour les pièces
    reponse = _deposer(alice, fiche, pdf, "lot1.pdf", chemin="cctp/travaux-lycee-lot-1-gros-oeuvre.pdf")
    assert reponse.status_code == 302  # chemin que les réponses ne désignent pas : une pièce ordinaire
    reponse = _deposer(alice, fiche, pdf, "lot1.pdf", usage="cctp", lot_cctp="0")
    assert reponse.status_code == 422
    assert "type de fichier refusé (« .pdf ») ; types acceptés pour le texte technique du CCTP : .docx, .md, .markdown" \
        in _texte(reponse)
    # un .docx qui est bien une archive ZIP mais pas un document Word : la génération le dit, avec le chemin du
    # fichier dans la consultation (jamais celui du dossier temporaire)
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w") as archive:
        archive.writestr("lisez-moi.txt", "pas un document Word")
    markdown = b"# Prescriptions\n\nTexte.\n"
    for chemin, contenu in (("cctp/travaux-lycee-lot-1-gros-oeuvre.md", markdown),
                            ("cctp/travaux-lycee-lot-2-isolation-facades.md", markdown),
                            ("cctp/travaux-lycee-lot-3-menuiseries.docx", tampon.getvalue()),
                            ("cctp/travaux-lycee-lot-4-peinture-sols.md", markdown),
                            ("cctp/travaux-lycee-lot-5-chauffage-ventilation-plomberie.md", markdown)):
        assert _deposer(alice, fiche, contenu, chemin.rsplit("/", 1)[1], chemin=chemin).status_code == 302
    echec = alice.post(fiche + "/generer", data={"_csrf": _jeton(alice, "/")})
    assert echec.status_code == 422, re.search(r"id=.refus.*?</div>", _texte(echec), re.S).group(0)
    assert "Fichier joint « cctp/travaux-lycee-lot-3-menuiseries.docx » : conversion du document Word impossible" \
        in _texte(echec), \
        re.search(r"id=.refus.*?</div>", _texte(echec), re.S).group(0)
    assert "/tmp" not in _texte(echec) and "dce-equipe-" not in _texte(echec)
    sans_jeton = alice.post(fiche + "/fichiers", data={"_version": version, "usage": "chemin", "chemin": "a.pdf",
                                                       "fichier": (io.BytesIO(pdf), "a.pdf")},
                            content_type="multipart/form-data")
    assert sans_jeton.status_code == 400 and "Jeton de sécurité" in _texte(sans_jeton)
    trop = _deposer(alice, fiche, b"%PDF-" + b"0" * (2 * 1024 * 1024), "enorme.pdf", chemin="pieces/enorme.pdf")
    assert trop.status_code == 413 and "Fichier trop volumineux : au plus 64 Kio par fichier joint" in _texte(trop)
    fabrique = sessionmaker(connexion.ouvrir(url_base), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        c = depot.lire(s, comptes.trouver(s, "alice"), int(fiche.rsplit("/", 1)[1]))
        assert [f.nom for f in fichiers.lister(s, c)] == [
            "cctp/travaux-lycee-lot-1-gros-oeuvre.md", "cctp/travaux-lycee-lot-1-gros-oeuvre.pdf",
            "cctp/travaux-lycee-lot-2-isolation-facades.md", "cctp/travaux-lycee-lot-3-menuiseries.docx",
            "cctp/travaux-lycee-lot-4-peinture-sols.md", "cctp/travaux-lycee-lot-5-chauffage-ventilation-plomberie.md"]
    # un fichier gardé que les réponses ne désignent pas est listé à part, et se retire
    page = _texte(alice.get(fiche))
    autres = page[page.index("Fichiers gardés que les réponses ne désignent plus"):]
    assert "cctp/travaux-lycee-lot-1-gros-oeuvre.pdf" in autres[:autres.index("</ul>")]
    retrait = alice.post(fiche + "/fichiers/retirer", data={"_csrf": _jeton(alice, fiche), "_version": _version(alice, fiche),
                                                            "nom": "cctp/travaux-lycee-lot-1-gros-oeuvre.pdf"})
    assert retrait.status_code == 302
    assert "Fichiers gardés que les réponses ne désignent plus" not in _texte(alice.get(fiche))
    # version dépassée : refus, rien d'écrit
    perime = alice.post(fiche + "/fichiers", data={"_csrf": _jeton(alice, fiche), "_version": version, "usage": "chemin",
                                                   "chemin": "pieces/b.pdf", "fichier": (io.BytesIO(pdf), "b.pdf")},
                        content_type="multipart/form-data")
    assert perime.status_code == 409 and "Enregistrement refusé : la consultation a été modifiée par Alice Martin" in _texte(perime)


def test_limites_en_configuration():
    assert fichiers.Limites.depuis_environnement({}) == fichiers.Limites()
    lues = fichiers.Limites.depuis_environnement({"DCE_FICHIERS_TAILLE_MAX_MIO": "5", "DCE_FICHIERS_TYPES": "PDF, .docx md"})
    assert lues == fichiers.Limites(5 * 1024 * 1024, (".pdf", ".docx", ".md"))
    from generateur.erreurs import ErreurDCE

    with pytest.raises(ErreurDCE, match="DCE_FICHIERS_TAILLE_MAX_MIO = « beaucoup » : un nombre entier de Mio"):
        fichiers.Limites.depuis_environnement({"DCE_FICHIERS_TAILLE_MAX_MIO": "beaucoup"})
    with pytest.raises(ErreurDCE, match="extension illisible « ./x »"):
        fichiers.Limites.depuis_environnement({"DCE_FICHIERS_TYPES": "pdf /x"})


def test_import_d_un_dossier_emporte_les_fichiers_puis_regenerer_et_bilan(tmp_path, monkeypatch):
    """`dce base importer` lit les fichiers désignés à côté de chaque fichier de réponses ; `dce regenerer --base`
    et `dce bilan --base` travaillent sur l'exemple de travaux, dont le CCTP garde le texte importé ; une
    consultation dont un fichier sort du dossier par un lien symbolique n'est pas importée."""
    from generateur.base import dce
    from generateur.interfaces.cli import main

    dossier = tmp_path / "consultations"
    copier_exemple(EXEMPLES / TRAVAUX, dossier / "travaux-lycee" / "reponses.yaml")
    copier_exemple(EXEMPLES / "nettoyage-hotel-region.yaml", dossier / "nettoyage" / "reponses.yaml")
    copier_exemple(EXEMPLES / "restauration-lycees.yaml", dossier / "restauration" / "reponses.yaml")
    secret = tmp_path / "secret.csv"
    secret.write_text("mot de passe\n", encoding="utf-8")
    lien = dossier / "restauration" / "pieces" / "restauration-lycees-sites.csv"
    lien.unlink()
    lien.symlink_to(secret)
    (dossier / "nettoyage" / "pieces" / "nettoyage-hotel-region-personnel.csv").unlink()  # absente : importée sans
    lanceur = CliRunner()
    racine = ["--catalogue", str(RACINE)]
    url, stockage = f"sqlite:///{tmp_path / 'dce.sqlite'}", tmp_path / "equipe"
    options = ["--base", url, "--stockage", str(stockage)]
    importe = lanceur.invoke(main, racine + ["base", "importer", str(dossier), "--service", "Direction des lycées"] + options)
    assert importe.exit_code == 0, importe.output
    assert "2 consultation(s) importée(s)" in importe.output and "1 illisible(s)" in importe.output
    assert "restauration : Pièce jointe « Liste des lycées et des cuisines de livraison (adresses, accès, créneaux de " \
           "déchargement) » : « pieces/restauration-lycees-sites.csv » : lien symbolique vers un fichier hors du dossier" \
        in importe.output

    _comptes(url)
    fabrique = sessionmaker(connexion.ouvrir(url), expire_on_commit=False)
    with connexion.session(fabrique) as s:
        alice = comptes.trouver(s, "alice")
        par_reference = {c.reference: c for c in depot.lister(s, alice)}
        travaux = next(c for r, c in par_reference.items() if r.startswith("2026-TRX"))
        ranges = {f.nom: f for f in fichiers.lister(s, travaux)}
        assert set(ranges) == {"cctp/travaux-lycee-lot-1-gros-oeuvre.md", "cctp/travaux-lycee-lot-2-isolation-facades.md",
                               "cctp/travaux-lycee-lot-3-menuiseries.docx", "cctp/travaux-lycee-lot-4-peinture-sols.md",
                               "cctp/travaux-lycee-lot-5-chauffage-ventilation-plomberie.md",
                               "pieces/travaux-lycee/plan-rez-de-chaussee.pdf",
                               "pieces/travaux-lycee/reperage-amiante-avant-travaux.pdf",
                               "pieces/travaux-lycee/plan-general-coordination-sps.pdf"}
        word = (EXEMPLES / "cctp" / "travaux-lycee-lot-3-menuiseries.docx").read_bytes()
        f = ranges["cctp/travaux-lycee-lot-3-menuiseries.docx"]
        assert (f.contenu, f.taille, f.empreinte) == (word, len(word), hashlib.sha256(word).hexdigest())
        assert fichiers.manquants(s, travaux) == []
        nettoyage = par_reference["2026-SRV-0388"]
        # le texte technique de l'exemple est importé ; la pièce absente ne l'est pas
        assert [f.nom for f in fichiers.lister(s, nettoyage)] == ["cctp/nettoyage-hotel-region-lot-1-nettoyage-locaux.md"]
        assert [d.nom for d in fichiers.manquants(s, nettoyage)] == ["pieces/nettoyage-hotel-region-personnel.csv"]
        from generateur.base import journal

        detail = next(l.detail for l in journal.lister(s) if l.action == "import" and "2026-SRV-0388" in l.objet)
        assert "manquant(s) : Pièce jointe « Liste anonymisée du personnel affecté au marché en cours et masse " \
               "salariale » : « pieces/nettoyage-hotel-region-personnel.csv » introuvable" in detail
        reponses = dict(travaux.reponses, objet=travaux.reponses["objet"] + " (phase 2)")
        depot.enregistrer(s, alice, travaux, reponses, travaux.numero_version, str)
        ident = travaux.id

    regenere = lanceur.invoke(main, racine + ["regenerer", "-j", "1"] + options)
    assert regenere.exit_code == 0, regenere.output
    assert "Base : 2 nouvelle(s) version(s) enregistrée(s)" in regenere.output
    with connexion.session(fabrique) as s:
        travaux = depot.lire(s, comptes.trouver(s, "alice"), ident)
        derniere = dce.generations(s, travaux)[0]
        assert derniere.numero_reponses == 2
        piece = next(p for p in derniere.pieces if p.nom.endswith("-CCTP.docx"))
        (tmp_path / "cctp.docx").write_bytes(dce.Stockage(stockage / "pieces").lire(piece))
    cctp = Lu(tmp_path / "cctp.docx")
    assert PHRASE_MARKDOWN in cctp.tout and PHRASE_WORD in cctp.tout and "(phase 2)" in cctp.tout

    bilan = lanceur.invoke(main, racine + ["bilan", "--sortie", str(tmp_path / "bilan")] + options)
    assert bilan.exit_code == 0, bilan.output
    assert re.search(r"2\s+consultations", bilan.output)


def test_fichiers_ecrits_sans_sortir_du_dossier(tmp_path):
    """Même un nom altéré dans la base ne fait rien écrire hors du dossier temporaire."""
    from generateur.base.modeles import FichierJoint
    from generateur.erreurs import ErreurDCE

    contenu = b"%PDF-1.7\n"
    bon = FichierJoint(nom="pieces/a.pdf", contenu=contenu, empreinte=hashlib.sha256(contenu).hexdigest(), taille=9)
    with fichiers.materialiser("reference: X\n", [bon]) as reponses:
        dossier = reponses.parent
        assert (dossier / "pieces" / "a.pdf").read_bytes() == contenu
        assert dossier.stat().st_mode & 0o077 == 0
    assert not dossier.exists()
    for nom in ("../evasion.pdf", "/tmp/evasion.pdf"):
        mauvais = FichierJoint(nom=nom, contenu=contenu, empreinte=bon.empreinte, taille=9)
        with pytest.raises(ErreurDCE):
            with fichiers.materialiser("reference: X\n", [mauvais]):
                pass
    altere = FichierJoint(nom="pieces/a.pdf", contenu=b"%PDF-autre", empreinte=bon.empreinte, taille=9)
    with pytest.raises(ErreurDCE, match="fichier joint altéré"):
        with fichiers.materialiser("reference: X\n", [altere]):
            pass
    assert not (tmp_path.parent / "evasion.pdf").exists()
