"""Des fichiers de réponses tirés du questionnaire (tests/reponses_valides.py) : chaque fichier produit des pièces
que la relecture trouve sans défaut (RC, CCAP, CCTP, actes d'engagement, cadre de mémoire, bordereau, fiche,
annexe), ou il est refusé par une erreur claire (code 2), nommée avec les libellés du questionnaire.

Profil court dans la suite ; profil long hors de la suite :
    DCE_RELECTURE_FOUILLE=1200 .venv/bin/pytest -q tests/test_relecture_fouille.py -s
(chiffres des dernières campagnes dans docs/juriste.md, section « La relecture automatique des pièces » ; un défaut
trouvé par une campagne est corrigé à la cause et son contre-exemple gardé ci-dessous en test daté).
"""

from __future__ import annotations

import collections
import os
import re

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

import pytest

from conftest import RACINE, ecrire, soffice
from reponses_valides import fichier_de_reponses
from generateur.droit.regles import preparer
from generateur.erreurs import ErreurDCE
from generateur.interfaces.cli import main
from generateur.pieces.lecture import controler, texte_blocs
from generateur.pieces.assemblage import blocs_document
from generateur.rendu.publication import publier

EXEMPLES = int(os.environ.get("DCE_RELECTURE_FOUILLE", "120"))
CLE_INTERNE = re.compile(r"\b(?:lots|criteres|spaser|chantier|intervenants|prix|variantes)\.[\w.]+")


def defauts_de_l_outil(analyse, conformite) -> list:
    """Défauts de relecture : tous. Les champs que le profil d'acheteur déclare lui-même « à compléter » (surlignés
    dans Word) n'en sont pas : le contrôle « profil-acheteur » de l'annexe les recense, et --strict les refuse."""
    return list(conformite.defauts)


def test_fichiers_tires_du_questionnaire_sans_defaut_ou_refuses(tmp_path):
    bilan: collections.Counter[str] = collections.Counter()
    refus: collections.Counter[str] = collections.Counter()
    echantillon: list[dict] = []  # publié à la fin : chaque pièce convertie par LibreOffice

    # dans la suite, les mêmes 120 fichiers à chaque fois (pas d'échec au hasard) ; la campagne longue tire au sort
    @settings(max_examples=EXEMPLES, deadline=None, database=None, derandomize="DCE_RELECTURE_FOUILLE" not in os.environ,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(donnees=fichier_de_reponses())
    def cas(donnees):
        fichier = ecrire(tmp_path, donnees)
        try:
            analyse = preparer(fichier, RACINE)
        except ErreurDCE as exc:  # refus : la commande sort en code 2 avec ces problèmes
            assert exc.problemes, donnees
            for p in exc.problemes:
                texte = str(p)
                assert p.message and not CLE_INTERNE.search(texte.replace(str(fichier), "")), texte
                refus[p.message.split(" : ")[0][:60]] += 1
            bilan["refusés"] += 1
            if bilan["refusés"] == 1:  # le premier refus, par la commande : code 2, rien d'écrit
                resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier),
                                                     "--sortie", str(tmp_path / "refus")])
                assert resultat.exit_code == 2 and "Erreur : " in resultat.output, resultat.output
                assert not (tmp_path / "refus").exists()
            return
        conformite = controler(analyse, complementaires=True)
        defauts = defauts_de_l_outil(analyse, conformite)
        assert not defauts, "\n".join(f"{d.regle} | {d.piece} | {d.article} | {d.extrait}" for d in defauts) + \
            "\n\n" + yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False)
        bilan["générés"] += 1
        if len(analyse.contexte["lots"]) > max((len(d["lots"]) for d in echantillon), default=0):
            echantillon[:] = [donnees]
        bilan[f"{analyse.contexte['nature']}"] += 1
        bilan["lot unique" if len(analyse.contexte["lots"]) == 1 else "allotie"] += 1

    cas()
    print(f"\nfichiers tirés du questionnaire : {dict(bilan)} ; motifs de refus : {dict(refus)}")
    assert bilan["générés"] >= EXEMPLES // 2  # la stratégie tire surtout des fichiers valides

    # un échantillon (le fichier généré qui a le plus de lots) publié : `dce publier` convertit chaque pièce
    # (RC, CCAP, CCTP, AE, cadre de mémoire, bordereau, fiche, annexe) par LibreOffice ; un échec l'arrête
    if soffice() is None:
        pytest.skip("LibreOffice absent sur ce poste (obligatoire sous CI=true)")
    publication = publier(ecrire(tmp_path, echantillon[0], "echantillon.yaml"), tmp_path / "publie", RACINE)
    bureautique = sorted((tmp_path / "publie").glob("*/*.docx")) + sorted((tmp_path / "publie").glob("*/*.xlsx"))  # dossiers public et interne
    assert len(bureautique) >= 7 + len(echantillon[0]["lots"]), bureautique  # RC, CCAP, CCTP, AE par lot…
    for chemin in bureautique:
        assert chemin.with_suffix(".pdf").read_bytes().startswith(b"%PDF"), chemin.name
    assert len(publication.pieces) >= len(bureautique) - 2  # toutes sauf la fiche et l'annexe (internes)


# -- contre-exemples trouvés par la campagne longue, gardés dans la suite (date de la campagne, cause corrigée)

def test_2026_12_02_heure_limite_de_livraison_qui_n_est_pas_une_heure_refusee(tmp_path):
    """Campagne du 2026-12-02 : « Heure limite de livraison des denrées » répondue « Service des achats » donnait au
    CCAP « les denrées sont livrées au plus tard à Service des achats le jour de leur utilisation ». Cause : la
    question acceptait tout texte ; elle attend désormais une heure (questionnaire.yaml, motif)."""
    donnees = yaml.safe_load((RACINE / "exemples" / "restauration-lycees.yaml").read_text(encoding="utf-8"))
    donnees["livraison"]["heure_limite"] = "Service des achats"
    fichier = ecrire(tmp_path, donnees)
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier),
                                         "--sortie", str(tmp_path / "sortie")])
    assert resultat.exit_code == 2, resultat.output
    assert "Heure limite de livraison des denrées" in resultat.output
    assert "format invalide « Service des achats »" in resultat.output
    assert not (tmp_path / "sortie").exists()
    donnees["livraison"]["heure_limite"] = "7 h 45"  # une heure : acceptée et écrite telle quelle au CCAP
    analyse = preparer(ecrire(tmp_path, donnees, "heure.yaml"), RACINE)
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).replace("\u00a0", " ")
    assert "les denrées sont livrées au plus tard à 7 h 45 le jour de leur utilisation" in ccap
    assert not defauts_de_l_outil(analyse, controler(analyse))
