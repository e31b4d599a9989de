"""Mémoire disque des calculs (`regles.MEMOIRE_CALCULS`) : relue, elle rend les mêmes valeurs, les mêmes traces et les
mêmes paramètres lus que le calcul ; sa clé change avec chacune des entrées que lisent les calculs et les limites, et
pas avec le corps des clauses."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest

from generateur.donnees import acheteurs, cache, catalogue as module_catalogue, questionnaire, reponses as module_reponses
from generateur.droit import regles
from generateur.erreurs import ErreurDonnees
from conftest import RACINE, appels_comptes, ecrire, reponses


def _entrees(tmp_path: Path) -> tuple[Any, Any, Any, dt.date | None]:
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    rep = module_reponses.charger(ecrire(tmp_path, reponses()), q)
    return rep, acheteurs.charger(RACINE, rep.donnees["acheteur"]), module_catalogue.charger(RACINE), None


def _resume(entrees: tuple[Any, ...]) -> Any:
    """Tout ce que les calculs produisent : contexte (noms dans l'ordre, lots compris), traces, paramètres lus (dans
    l'ordre) ; ou le message de l'erreur."""
    try:
        a = regles.analyser(*entrees)
    except ErreurDonnees as exc:
        return [p.message for p in exc.problemes]
    contexte = [(k, v) for k, v in a.contexte.items() if k != "param"]
    lots = [list(l.items()) for l in a.contexte["lots"]]
    return contexte, lots, [dataclasses.astuple(c) for c in a.calculs], list(a.contexte["param"].lus.items())


@pytest.fixture
def compteur(monkeypatch, tmp_path) -> list[int]:
    """Cache dans tmp_path ; compte les calculs faits (et non relus)."""
    return appels_comptes(monkeypatch, tmp_path, regles, "_calculer_tout")


def test_relue_memes_valeurs_traces_et_parametres_lus(tmp_path, monkeypatch, compteur):
    entrees = _entrees(tmp_path)
    calcule = _resume(entrees)
    assert len(compteur) == 1 and len(list((tmp_path / "cache" / regles.MEMOIRE_CALCULS).iterdir())) == 1
    relu = _resume(entrees)
    assert len(compteur) == 1  # relue, pas recalculée
    assert relu == calcule
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _resume(entrees) == calcule and len(compteur) == 2  # sans cache : calculée, mêmes résultats


def _reponse(e):
    rep = e[0]
    donnees = copy.deepcopy(rep.donnees)
    donnees["lots"][0]["montant_estime"] += 1000
    return (module_reponses.Reponses(donnees, rep.fichier, rep.document), *e[1:])


def _profil(e):  # valeur du profil lue par un calcul (entite_adjudicatrice)
    return (e[0], dataclasses.replace(e[1], profil={**e[1].profil, "entite_adjudicatrice": True}), *e[2:])


def _categorie(e):  # catégorie de l'acheteur : valeurs des paramètres propres à une catégorie
    return (e[0], dataclasses.replace(e[1], profil={**e[1].profil, "categorie": "etat"}), *e[2:])


def _calculs(e):
    cat = e[2]
    consultation = [dict(r) for r in cat.calculs["consultation"]]
    consultation[0]["expression"] = f"({consultation[0]['expression']}) + 1"
    return (*e[:2], dataclasses.replace(cat, calculs={**cat.calculs, "consultation": consultation}), e[3])


def _calculs_lot(e):
    cat = e[2]
    lot = [dict(r) for r in cat.calculs["lot"]]
    lot[0]["reference"] = "autre référence"  # tracée seulement
    return (*e[:2], dataclasses.replace(cat, calculs={**cat.calculs, "lot": lot}), e[3])


def _parametres(e):
    cat = e[2]
    parametres = copy.deepcopy(cat.parametres)
    parametres["tva_taux_normal"]["valeurs"][-1]["valeur"] = 21
    return (*e[:2], dataclasses.replace(cat, parametres=parametres), e[3])


def _limites(e):
    cat = e[2]
    limite = {"champ": "objet", "expression": "montant_total < 1", "message": "montant refusé"}
    return (*e[:2], dataclasses.replace(cat, limites=[*cat.limites, limite]), e[3])


def _ccag(e):
    cat = e[2]
    return (*e[:2], dataclasses.replace(cat, ccag={k: v + " modifié" for k, v in cat.ccag.items()}), e[3])


def _date_droit(e):  # seuils européens du 1er janvier 2024 au 31 décembre 2025
    return (*e[:3], dt.date(2025, 6, 1))


def _code(e, monkeypatch):
    monkeypatch.setattr(regles, "_CODE_CALCULS", "une autre version du code")
    return e


@pytest.mark.parametrize("modifier", [_reponse, _profil, _categorie, _calculs, _calculs_lot, _parametres, _limites,
                                      _ccag, _date_droit, _code])
def test_cle_change_avec_chaque_entree(tmp_path, monkeypatch, compteur, modifier: Callable[..., Any]):
    """Une entrée modifiée (après que le résultat de l'entrée d'origine a été gardé) : le résultat est celui du calcul
    sans cache, qui diffère du résultat d'origine. Aucun résultat gardé n'est rendu pour d'autres entrées."""
    entrees = _entrees(tmp_path)
    origine = _resume(entrees)
    assert _resume(entrees) == origine and len(compteur) == 1  # gardé, relu
    modifiees = modifier(entrees, monkeypatch) if modifier is _code else modifier(entrees)
    avec_cache = _resume(modifiees)
    assert len(compteur) == 2
    monkeypatch.setenv("DCE_CACHE", "0")
    sans_cache = _resume(modifiees)
    assert avec_cache == sans_cache
    if modifier is not _code:
        assert sans_cache != origine


def test_code_qui_evalue_dans_la_cle():
    """Le code que les calculs exécutent : ce module, les expressions, les filtres, la lecture des paramètres."""
    from generateur.donnees import formats
    from generateur.droit import expressions

    sources = cache.sources(regles.__file__, expressions.__file__, formats.__file__, module_catalogue.__file__)
    import jinja2
    import sys

    assert regles._CODE_CALCULS == cache.empreinte(sources, jinja2.__version__, cache.version_paquet("babel"),
                                                   sys.version)


def test_corps_des_clauses_hors_de_la_cle(tmp_path, compteur):
    """Le corps (ou l'en-tête) d'une clause modifié : les calculs sont relus, pas refaits."""
    rep, ach, cat, jour = _entrees(tmp_path)
    origine = _resume((rep, ach, cat, jour))
    clauses = {i: [dataclasses.replace(c, corps=c.corps + "\nAjout.") for c in versions]
               for i, versions in cat.clauses.items()}
    assert _resume((rep, ach, dataclasses.replace(cat, clauses=clauses), jour)) == origine
    assert len(compteur) == 1


def test_erreur_jamais_gardee(tmp_path, compteur):
    rep, ach, cat, jour = _entrees(tmp_path)
    limite = {"champ": "objet", "expression": "montant_total < 1", "message": "montant refusé"}
    refuse = dataclasses.replace(cat, limites=[*cat.limites, limite])
    assert _resume((rep, ach, refuse, jour)) == ["montant refusé"]
    assert _resume((rep, ach, refuse, jour)) == ["montant refusé"]
    assert len(compteur) == 2 and not list((tmp_path / "cache" / regles.MEMOIRE_CALCULS).iterdir())


# Mémoire disque des réponses validées (`reponses.MEMOIRE_VALIDEES`).

@pytest.fixture
def validations(monkeypatch, tmp_path) -> list[int]:
    """Cache dans tmp_path ; compte les validations faites (et non relues)."""
    return appels_comptes(monkeypatch, tmp_path, module_reponses, "_valider")


def _validees(fichier: Path, q: Any) -> Any:
    try:
        rep = module_reponses.charger(fichier, q)
    except ErreurDonnees as exc:
        return [p.message for p in exc.problemes]
    import pickle

    return pickle.dumps((rep.donnees, rep.document.donnees)), rep.fichier


def test_reponses_validees_relues(tmp_path, monkeypatch, validations):
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    fichier = ecrire(tmp_path, reponses())
    validees = _validees(fichier, q)
    assert _validees(fichier, q) == validees and len(validations) == 1  # relues, à l'identique (types compris)
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _validees(fichier, q) == validees and len(validations) == 2


def test_reponses_validees_cle(tmp_path, monkeypatch, validations):
    """Réponses, questionnaire, code : chacun modifié, les réponses sont validées de nouveau (même résultat que sans
    cache, autre que celui d'origine)."""
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    fichier = ecrire(tmp_path, reponses())
    origine = _validees(fichier, q)
    autre = ecrire(tmp_path, reponses(objet="Un autre objet"), "autre.yaml")
    assert _validees(autre, q) != origine and len(validations) == 2
    questions = copy.deepcopy(q.questions)
    facultative = next(x for x in questions if not x.requis and x.type == "texte" and x.id not in reponses())
    facultative.defaut = "valeur par défaut modifiée"
    q2 = dataclasses.replace(q, questions=questions)
    avec_q2 = _validees(fichier, q2)
    assert avec_q2 != origine and len(validations) == 3
    monkeypatch.setattr(module_reponses, "_CODE", ["une autre version du code"])
    assert _validees(fichier, q) == origine and len(validations) == 4
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _validees(fichier, q2) == avec_q2


def test_reponses_refusees_jamais_gardees(tmp_path, validations):
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    fichier = ecrire(tmp_path, reponses(duree_mois="douze"))
    refus = _validees(fichier, q)
    assert isinstance(refus, list) and _validees(fichier, q) == refus and len(validations) == 2
    assert not list((tmp_path / "cache" / module_reponses.MEMOIRE_VALIDEES).iterdir())
