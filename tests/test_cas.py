"""Cas datés, à la manière des tests d'OpenFisca : un fichier YAML par situation dans tests/cas/.

Chaque fichier décrit des réponses de base (`base` : celles de conftest.BASE, ou `exemple: travaux-lycee`, puis
`reponses` qui les modifie) et une liste de `cas`, chacun à une date de lancement (souvent la veille et le jour
d'un changement de seuil ou de loi) avec ses propres modifications et ce qui est attendu :

- `valeurs` : valeurs calculées pour la consultation (procédure, CCAG, forme des prix…) ;
- `lots` : valeurs calculées par lot (`{1: {avance_taux_pme: 20}}`) ;
- `clauses` : `retenues` / `ecartees` (identifiants) ;
- `controles` : statut attendu de contrôles juridiques (`conforme`, `a_verifier`, `non_conforme`…) ;
- `pieces` : pour RC, CCAP, CCTP, le texte qui doit y figurer (`contient`) ou non (`absent`), lu dans le .docx
  produit ;
- `expliquer` : textes que `dce expliquer` doit afficher (règle qui a choisi la procédure, l'avance, les prix) ;
- `erreur` : le fichier est refusé (code 2) avec ce message ;
- `date_limite_offres` dans `reponses` : gardée telle quelle (sinon 45 jours après la date de lancement).

Le coureur génère réellement les pièces et les relit : un cas vérifie ce que l'acheteur lira. Pour chaque cas, la
relecture automatique ne doit relever aucun défaut, hors les « [à compléter : …] » du profil d'acheteur de test
(SIRET et adresse du profil, que le profil signale lui-même).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BASE, EXEMPLES, RACINE, Lu, ecrire
from click.testing import CliRunner

from generateur.erreurs import ErreurDCE
from generateur.interfaces.cli import main
from generateur.pieces.lecture import controler
from generateur.rendu.generation import generer

CAS = Path(__file__).parent / "cas"
CLES_CAS = {"nom", "date_lancement", "reponses", "valeurs", "lots", "clauses", "controles", "pieces", "erreur", "expliquer"}


def _fusion(base: dict[str, Any], modifs: dict[str, Any]) -> dict[str, Any]:
    """Modifications appliquées aux réponses : un ensemble se fusionne clé par clé, une liste se remplace."""
    resultat = copy.deepcopy(base)
    for cle, valeur in modifs.items():
        if isinstance(valeur, dict) and isinstance(resultat.get(cle), dict):
            resultat[cle] = _fusion(resultat[cle], valeur)
        else:
            resultat[cle] = copy.deepcopy(valeur)
    return resultat


def _cas() -> list[Any]:
    parametres = []
    for fichier in sorted(CAS.glob("*.yaml")):
        doc = yaml.safe_load(fichier.read_text(encoding="utf-8"))
        if "exemple" in (doc.get("base") or {}):
            base = yaml.safe_load((EXEMPLES / f"{doc['base']['exemple']}.yaml").read_text(encoding="utf-8"))
        else:
            base = copy.deepcopy(BASE)
        base = _fusion(base, doc.get("reponses") or {})
        for cas in doc["cas"]:
            inconnues = set(cas) - CLES_CAS
            assert not inconnues, f"{fichier.name} : clés inconnues {inconnues}"
            parametres.append(pytest.param(base, cas, id=f"{fichier.stem}:{cas['nom']}"))
    return parametres


def _lisible(texte: str) -> str:
    """Texte comparé sans dépendre de la typographie : apostrophe droite ou typographique, espaces insécables."""
    return " ".join(str(texte).replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ").split())


def _comparer(obtenu: Any, attendu: Any, quoi: str) -> None:
    if isinstance(attendu, float) or isinstance(obtenu, float):
        assert obtenu == pytest.approx(attendu), quoi
    else:
        assert obtenu == attendu, quoi


@pytest.mark.parametrize("base, cas", _cas())
def test_cas_date(tmp_path, base, cas):
    reponses = _fusion(base, cas.get("reponses") or {})
    if "date_lancement" in cas:
        reponses["date_lancement"] = str(cas["date_lancement"])
        limite = dt.date.fromisoformat(str(cas["date_lancement"])) + dt.timedelta(days=45)
        if "date_limite_offres" not in (cas.get("reponses") or {}):
            reponses["date_limite_offres"] = f"{limite.isoformat()} 12:00"
    fichier = ecrire(tmp_path, reponses)
    if "erreur" in cas:
        with pytest.raises(ErreurDCE) as refus:
            generer(fichier, tmp_path / "sortie", RACINE)
        assert cas["erreur"] in str(refus.value)
        assert not (tmp_path / "sortie").exists() or not any((tmp_path / "sortie").iterdir())
        return
    resultat = generer(fichier, tmp_path / "sortie", RACINE)
    analyse = resultat.analyse
    for nom, attendu in (cas.get("valeurs") or {}).items():
        _comparer(analyse.contexte[nom], attendu, f"valeur calculée « {nom} »")
    lots = {l["numero"]: l for l in analyse.contexte["lots"]}
    for numero, valeurs in (cas.get("lots") or {}).items():
        for nom, attendu in valeurs.items():
            _comparer(lots[int(numero)][nom], attendu, f"lot {numero}, « {nom} »")
    retenues = {s.clause.id for s in analyse.retenues()}
    for ident in (cas.get("clauses") or {}).get("retenues", []):
        assert ident in retenues, f"clause {ident} attendue"
    for ident in (cas.get("clauses") or {}).get("ecartees", []):
        assert ident not in retenues, f"clause {ident} non attendue"
    conformite = resultat.conformite or controler(analyse)
    defauts = list(conformite.defauts)  # les valeurs que le profil laisse à compléter n'en sont pas
    assert not defauts, f"défauts de relecture : {defauts}"
    if cas.get("controles"):
        verdicts = {v.id: v.statut for v in conformite.verdicts}
        for ident, statut in cas["controles"].items():
            assert verdicts[ident] == statut, f"contrôle « {ident} » : {verdicts[ident]} au lieu de {statut}"
    if cas.get("expliquer"):
        sortie = _lisible(CliRunner().invoke(main, ["--catalogue", str(RACINE), "expliquer", str(fichier)]).output)
        for extrait in cas["expliquer"]:
            assert _lisible(extrait) in sortie, f"dce expliquer : « {extrait} » attendu"
    for piece, attendu in (cas.get("pieces") or {}).items():
        chemin = next(c for nom, c in resultat.fichiers.items() if nom.endswith(f"-{piece}.docx"))
        texte = _lisible(Lu(chemin).tout)
        for extrait in attendu.get("contient", []):
            assert _lisible(extrait) in texte, f"{piece} : « {extrait} » attendu"
        for extrait in attendu.get("absent", []):
            assert _lisible(extrait) not in texte, f"{piece} : « {extrait} » inattendu"
