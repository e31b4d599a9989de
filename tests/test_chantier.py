"""Relecture du juriste sur l'exemple de travaux (revue, section 2) : ce qui était faux, relu dans les pièces.

Publicité tranchée (T10), retrait de l'amiante affecté à un lot (T3), une seule règle pour les horaires de livraison
et le PPSPS (T8), diagnostic PEMD cité seulement s'il est joint (T6), mentions de fournitures ou de services hors de
leur place dans un marché de travaux (T11 à T17). Chaque test génère les pièces et relit le .docx ou le .xlsx.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXEMPLES, Lu, ecrire, RACINE

EXEMPLE = EXEMPLES / "travaux-lycee.yaml"
REPONSES: dict[str, Any] = yaml.safe_load(EXEMPLE.read_text(encoding="utf-8"))


def normal(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("\u202f", " ")


def _piece(fichiers: dict[str, Path], suffixe: str) -> Lu:
    return Lu(next(p for n, p in fichiers.items() if n.endswith(suffixe)))


@pytest.fixture(scope="module")
def lycee(exemples_generes) -> dict[str, Lu]:
    fichiers = exemples_generes["travaux-lycee"]
    return {cle: _piece(fichiers, f"-{cle}.docx") for cle in ("RC", "CCAP", "CCTP")}


def _generer(tmp_path: Path, donnees: dict[str, Any]):
    from generateur.rendu.generation import generer

    resultat = generer(ecrire(tmp_path, donnees), tmp_path / "sortie", RACINE)
    lus = {nom.rsplit("-", 1)[1].removesuffix(".docx"): Lu(chemin)
           for nom, chemin in resultat.fichiers.items() if nom.endswith(".docx")}
    return lus, resultat


def test_rc_dit_le_support_de_publicite_choisi(lycee):
    """T10 : l'exemple choisit le BOAMP ; le RC le dit, sans alternative « BOAMP ou journal »."""
    assert REPONSES["publicite_support"] == "boamp"
    rc = normal(lycee["RC"].texte)
    assert ("L’avis d’appel à la concurrence est publié au Bulletin officiel des annonces des marchés publics "
            "(BOAMP), support choisi par l’acheteur en application de l’article R2131-12") in rc
    assert "ou journal d’annonces légales" not in rc


def test_diagnostic_pemd_cite_seulement_s_il_est_joint(lycee, tmp_path):
    """T6 : sans pièce « Diagnostic PEMD » jointe, le CCTP ne renvoie à aucun diagnostic « joint au dossier » ;
    avec la pièce déclarée, il la nomme."""
    cctp = normal(lycee["CCTP"].texte)
    assert "diagnostic" not in cctp.lower().replace("diagnostic des produits, équipements", "")
    assert "Avant toute dépose, le titulaire identifie avec le maître d’œuvre les produits, équipements et " \
           "matériaux réemployables" in cctp
    donnees = copy.deepcopy(REPONSES)
    donnees["pieces_acheteur"].append({"titre": "Diagnostic PEMD de l'externat", "nature": "diagnostic_pemd",
                                       "fichier": "pieces/travaux-lycee/plan-rez-de-chaussee.pdf"})
    lus, _ = _generer(tmp_path, donnees)
    cctp = normal(lus["CCTP"].texte)
    assert ("figure dans la pièce « Diagnostic PEMD de l’externat » jointe au dossier de consultation. Le titulaire "
            "en met en œuvre les préconisations") in cctp
    assert "Avant toute dépose, le titulaire identifie" not in cctp
