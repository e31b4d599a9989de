"""Mémoire des rendus de clauses (`assemblage._RENDUS`) : gardé dans la mémoire de la consultation, le texte rendu
d'une clause est relu avec les paramètres du catalogue que son rendu a lus ; les pièces et les paramètres cités par
le manifeste sont ceux d'une production sans cache. La clé change avec chacune des entrées du rendu (réponses,
profil, date du droit, catalogue, en-têtes des clauses, code) ; après la modification du corps d'une clause, seule
celle-ci est rendue de nouveau."""

from __future__ import annotations

import copy
import json
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest

from generateur.donnees import acheteurs, cache, catalogue as module_catalogue, questionnaire, reponses as module_reponses
from generateur.droit import regles
from generateur.pieces import assemblage
from conftest import RACINE, appels_comptes, ecrire, reponses


def _entrees(tmp_path: Path) -> tuple[Any, Any, Any, dt.date | None]:
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    rep = module_reponses.charger(ecrire(tmp_path, reponses()), q)
    return rep, acheteurs.charger(RACINE, rep.donnees["acheteur"]), module_catalogue.charger(RACINE), None


def _pieces(entrees: tuple[Any, ...]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Les blocs des pièces et les paramètres lus (ceux que cite le manifeste), produits dans la mémoire de la
    consultation (comme `produire_dce`)."""
    analyse = regles.analyser(*entrees)
    with cache.groupe(entrees[0].document.octets):
        pieces = {doc: assemblage.blocs_document(analyse, doc) for doc in analyse.catalogue.documents}
    return pieces, sorted(analyse.contexte["param"].lus.items())


@pytest.fixture
def rendus(monkeypatch, tmp_path) -> list[str]:
    """Cache dans tmp_path ; identifiants des clauses rendues (et non relues)."""
    return appels_comptes(monkeypatch, tmp_path, assemblage, "_rendre", lambda analyse, selection: selection.clause.id)


def test_relus_memes_pieces_et_memes_parametres_lus(tmp_path, monkeypatch, rendus):
    entrees = _entrees(tmp_path)
    rendues = _pieces(entrees)
    retenues = len(rendus)
    assert retenues > 30 and rendues[1]  # des clauses lisent des paramètres du catalogue
    assert _pieces(entrees) == rendues
    assert len(rendus) == retenues  # toutes relues, aucune rendue
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _pieces(entrees) == rendues and len(rendus) == 2 * retenues  # sans cache : rendues, mêmes pièces


def _reponse(e):
    rep = e[0]
    donnees = copy.deepcopy(rep.donnees)
    donnees["objet"] = donnees["objet"] + " (modifié)"
    return (module_reponses.Reponses(donnees, rep.fichier, rep.document), *e[1:])


def _profil(e):
    return (e[0], dataclasses.replace(e[1], profil={**e[1].profil, "nom": "Autre acheteur"}), *e[2:])


def _referentiel(e):
    actions = {i: dataclasses.replace(a, titre=a.titre + " (modifiée)") for i, a in e[1].actions.items()}
    return (e[0], dataclasses.replace(e[1], actions=actions), *e[2:])


def _date_droit(e):  # seuils européens du 1er janvier 2024 au 31 décembre 2025
    return (*e[:3], dt.date(2025, 6, 1))


def _parametres(e):
    cat = e[2]
    parametres = copy.deepcopy(cat.parametres)
    for p in parametres.values():
        for v in p["valeurs"]:
            if type(v["valeur"]) is int and not isinstance(v["valeur"], bool):
                v["valeur"] += 1
    return (*e[:2], dataclasses.replace(cat, parametres=parametres), e[3])


def _documents(e):  # titres des articles du plan
    cat = e[2]
    documents = copy.deepcopy(cat.documents)
    for d in documents.values():
        for a in d.get("articles") or []:
            a["titre"] = str(a["titre"]) + " (modifié)"
    return (*e[:2], dataclasses.replace(cat, documents=documents), e[3])


def _entete(e):  # titre d'une clause retenue : le sous-titre, et les renvois qui le citent
    cat = e[2]
    ident = next(i for i, v in cat.clauses.items() if v[0].document == "CCAP" and "penalit" in i)
    clauses = {**cat.clauses, ident: [dataclasses.replace(c, titre=c.titre + " (modifié)") for c in cat.clauses[ident]]}
    return (*e[:2], dataclasses.replace(cat, clauses=clauses), e[3])


def _code(e, monkeypatch):
    autre = cache.Memoire("rendus", "une autre version du code", maximum=0, par_consultation=True)
    monkeypatch.setitem(assemblage._MEMOIRES, "rendus", autre)
    return e


@pytest.mark.parametrize("modifier", [_reponse, _profil, _referentiel, _date_droit, _parametres, _documents, _entete,
                                      _code])
def test_cle_change_avec_chaque_entree(tmp_path, monkeypatch, rendus, modifier: Callable[..., Any]):
    """Une entrée du rendu modifiée après que les rendus d'origine ont été gardés (mêmes octets de réponses : même
    mémoire de consultation) : toutes les clauses sont rendues de nouveau, et les pièces sont celles d'une production
    sans cache."""
    entrees = _entrees(tmp_path)
    _pieces(entrees)
    retenues = len(rendus)
    modifiees = modifier(entrees, monkeypatch) if modifier is _code else modifier(entrees)
    avec_cache = _pieces(modifiees)
    assert len(rendus) >= 2 * retenues - 2  # une date du droit plus ancienne retient une ou deux clauses de moins
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _pieces(modifiees) == avec_cache


def test_corps_modifie_seule_la_clause_rendue_de_nouveau(tmp_path, monkeypatch, rendus):
    """Le corps d'une clause retenue modifié (la régénération du banc) : elle seule est rendue ; les pièces et les
    paramètres lus sont ceux d'une production sans cache, y compris quand la clause modifiée ne lit plus un paramètre
    qu'une autre, relue, lit aussi."""
    rep, ach, cat, jour = entrees = _entrees(tmp_path)
    _pieces(entrees)
    analyse, lisent = regles.analyser(*entrees), {}
    param = analyse.contexte["param"]
    calculs = set(param.lus)  # lus par les calculs : toujours cités
    for s in analyse.retenues():  # qui lit quoi (relevé comme le fait la mémoire)
        param.releve = []
        assemblage._rendre(analyse, s)
        for nom in param.releve:
            lisent.setdefault(nom, []).append(s.clause.id)
    param.releve = None
    nom, (modifiee, *autres) = next((n, ids) for n, ids in sorted(lisent.items())
                                    if len(set(ids)) >= 2 and n not in calculs)
    rendus.clear()
    clauses = {**cat.clauses, modifiee: [dataclasses.replace(c, corps="Texte sans paramètre.\n",
                                                                empreinte=c.empreinte + "-modifiee", modele_compile=None)
                                         for c in cat.clauses[modifiee]]}
    modifiees = (rep, ach, dataclasses.replace(cat, clauses=clauses), jour)
    avec_cache = _pieces(modifiees)
    assert rendus == [modifiee]
    assert nom in dict(avec_cache[1])  # lu par les autres clauses, relues : cité par le manifeste
    assert any("Texte sans paramètre." in str(b) for blocs, _ in avec_cache[0].values() for b in blocs)
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _pieces(modifiees) == avec_cache


def test_erreur_de_rendu_jamais_gardee(tmp_path, rendus):
    rep, ach, cat, jour = entrees = _entrees(tmp_path)
    ident = regles.analyser(*entrees).retenues("CCAP")[0].clause.id
    clauses = {**cat.clauses, ident: [dataclasses.replace(c, corps="{{ reponse_inconnue }}\n", empreinte="abimee",
                                                             modele_compile=None)
                                      for c in cat.clauses[ident]]}
    abime = (rep, ach, dataclasses.replace(cat, clauses=clauses), jour)
    for _ in range(2):
        with pytest.raises(Exception, match="impossible à rendre"):
            _pieces(abime)
    assert rendus.count(ident) == 2


# Verdicts des contrôles gardés dans la mémoire de la consultation (`lecture._verdicts_gardes`).

from generateur.pieces import lecture  # noqa: E402


def _controles(entrees: tuple[Any, ...]) -> tuple[Any, list[tuple[str, Any]], list[str]]:
    """Les verdicts (faits et défauts compris), les paramètres lus (ceux que cite le manifeste) et ceux que lisent les
    contrôles (même lus avant par les clauses), comme dans `produire_dce`."""
    analyse = regles.analyser(*entrees)
    with cache.groupe(entrees[0].document.octets):
        corps = {doc: assemblage.blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
        with assemblage.parametres_releves(analyse.contexte["param"]) as releve:
            conformite = lecture.controler(analyse, corps)
    return conformite, sorted(analyse.contexte["param"].lus.items()), sorted(set(releve))


@pytest.fixture
def verdicts(monkeypatch, tmp_path) -> list[int]:
    """Cache dans tmp_path ; compte les contrôles faits (et non repris)."""
    return appels_comptes(monkeypatch, tmp_path, lecture, "_verdicts")


def _corps_modifie(entrees: tuple[Any, ...], ident: str, corps: Callable[[str], str]) -> tuple[Any, ...]:
    rep, ach, cat, jour = entrees
    clauses = {**cat.clauses, ident: [dataclasses.replace(c, corps=corps(c.corps), empreinte=c.empreinte + "-modifiee",
                                                          modele_compile=None) for c in cat.clauses[ident]]}
    return rep, ach, dataclasses.replace(cat, clauses=clauses), jour


def test_verdicts_repris_memes_que_sans_cache(tmp_path, monkeypatch, verdicts):
    entrees = _entrees(tmp_path)
    controles = _controles(entrees)
    assert controles[0].verdicts and any(v.preuves for v in controles[0].verdicts)
    assert "delai_paiement_jours" in controles[2]  # lu par une expression d'un contrôle : relu quand ils sont repris
    assert _controles(entrees) == controles and len(verdicts) == 1  # repris, pas refaits
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _controles(entrees) == controles and len(verdicts) == 2


def test_clause_modifiee_sans_effet_sur_les_faits_verdicts_repris(tmp_path, monkeypatch, verdicts):
    """La modification du banc (une phrase ajoutée à l'objet du CCAP, qu'aucune preuve ne cite) : mêmes faits, mêmes
    défauts, mêmes lignes citées — les verdicts sont repris, identiques à ceux d'un calcul sans cache."""
    entrees = _entrees(tmp_path)
    _controles(entrees)
    modifiees = _corps_modifie(entrees, "ccap-objet", lambda c: "Le présent article a été mis à jour.\n\n" + c)
    repris = _controles(modifiees)
    assert len(verdicts) == 1
    monkeypatch.setenv("DCE_CACHE", "0")
    calcules = _controles(modifiees)
    assert calcules == repris
    assert list(calcules[0].faits) == list(repris[0].faits)  # même ordre des faits (annexe JSON)


def test_ligne_citee_modifiee_verdicts_refaits(tmp_path, monkeypatch, verdicts):
    """Une clause dont une preuve cite une phrase : modifiée, les lignes citées ne sont plus les mêmes ; les verdicts
    sont refaits (l'extrait cité change), comme sans cache."""
    rep, ach, cat, jour = entrees = _entrees(tmp_path)
    conformite = _controles(entrees)[0]
    analyse = regles.analyser(*entrees)
    preuve = next(p for v in conformite.verdicts for p in v.preuves
                  if any(s.numero == p["article"] and s.clause.document == p["piece"] for s in analyse.retenues()))
    ident = next(s.clause.id for s in analyse.retenues()
                 if s.numero == preuve["article"] and s.clause.document == preuve["piece"])
    modifiees = _corps_modifie(entrees, ident, lambda c: "Phrase d'essai ajoutée en tête de l'article.\n\n" + c)
    refaits = _controles(modifiees)
    assert len(verdicts) == 2
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _controles(modifiees) == refaits


def test_defaut_nouveau_verdicts_refaits(tmp_path, monkeypatch, verdicts):
    """Une clause modifiée qui fait apparaître un défaut de relecture (mention « à compléter ») : les défauts ne sont
    plus les mêmes, les verdicts sont refaits, comme sans cache."""
    entrees = _entrees(tmp_path)
    origine = _controles(entrees)[0]
    modifiees = _corps_modifie(entrees, "ccap-objet", lambda c: c + "\n\nMontant : à compléter.\n")
    refaits = _controles(modifiees)
    assert len(verdicts) == 2 and refaits[0].defauts != origine.defauts
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _controles(modifiees) == refaits


# Fichiers de l'annexe de conformité repris de la génération précédente (`generation.contenus_annexe`).

from generateur.pieces import annexe as module_annexe  # noqa: E402
from generateur.rendu import generation  # noqa: E402
from conftest import EXEMPLES, copier_exemple  # noqa: E402


@pytest.fixture
def annexes(monkeypatch, tmp_path) -> list[int]:
    """Cache dans tmp_path ; compte les annexes faites (et non reprises)."""
    return appels_comptes(monkeypatch, tmp_path, module_annexe, "donnees")


def _fichiers(dossier: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(dossier.iterdir())}


def _dce(reponses_: Path, sortie: Path) -> dict[str, bytes]:
    generation.generer(reponses_, sortie)
    return _fichiers(sortie)


def test_annexe_reprise_de_la_generation_precedente(tmp_path, monkeypatch, annexes):
    """Régénérée dans le même dossier sans que rien ne change, l'annexe (Word, JSON, CSV) est reprise telle quelle ;
    ses octets, et le manifeste qui cite les paramètres lus, sont ceux d'une génération sans cache."""
    reponses_ = copier_exemple(EXEMPLES / "travaux-lycee.yaml", tmp_path / "consultation" / "reponses.yaml")
    premiere = _dce(reponses_, tmp_path / "dce")
    assert len(annexes) == 1
    assert _dce(reponses_, tmp_path / "dce") == premiere and len(annexes) == 1  # reprise
    monkeypatch.setenv("DCE_CACHE", "0")
    assert _dce(reponses_, tmp_path / "sans-cache") == premiere and len(annexes) == 2


def test_annexe_precedente_retouchee_refaite(tmp_path, monkeypatch, annexes):
    """Un fichier de l'annexe précédente retouché (ses octets ne sont plus ceux qui ont été gardés) : l'annexe est
    refaite, et le fichier retouché remplacé par le bon."""
    reponses_ = copier_exemple(EXEMPLES / "travaux-lycee.yaml", tmp_path / "consultation" / "reponses.yaml")
    premiere = _dce(reponses_, tmp_path / "dce")
    json_annexe = next((tmp_path / "dce").glob("*-annexe-conformite.json"))
    json_annexe.write_bytes(json_annexe.read_bytes().replace(b"conforme", b"CONFORME", 1))
    assert _dce(reponses_, tmp_path / "dce") == premiere and len(annexes) == 2


def test_annexe_refaite_si_le_visa_change(tmp_path, monkeypatch, annexes):
    """Le visa du service juridique (serveur d'équipe) entre dans la clé : un autre visa, une autre annexe."""
    reponses_ = copier_exemple(EXEMPLES / "travaux-lycee.yaml", tmp_path / "consultation" / "reponses.yaml")
    _dce(reponses_, tmp_path / "dce")
    visa = {"juriste": "Mme Juriste", "le": "4 décembre 2026", "commentaire": "Vu."}
    avec_visa = generation.produire_dce(reponses_, visa=visa, precedente=tmp_path / "dce").contenus
    assert len(annexes) == 2
    monkeypatch.setenv("DCE_CACHE", "0")
    assert generation.produire_dce(reponses_, visa=visa).contenus == avec_visa


def test_parametres_lus_par_l_annexe_relus_quand_elle_est_reprise(tmp_path, monkeypatch, annexes):
    """Un paramètre du catalogue que seule la production de l'annexe lirait (aujourd'hui, aucun) : cité par le
    manifeste de la génération qui la reprend, comme par celle qui l'a faite."""
    reponses_ = copier_exemple(EXEMPLES / "travaux-lycee.yaml", tmp_path / "consultation" / "reponses.yaml")
    with monkeypatch.context() as sans_cache:  # (rien gardé sous le code d'origine, qui ne lit pas le paramètre)
        sans_cache.setenv("DCE_CACHE", "0")
        analyse = generation.produire_dce(reponses_).analyse
    nom = sorted(set(analyse.catalogue.parametres) - set(analyse.contexte["param"].lus))[0]
    donnees = module_annexe.donnees

    def lisant(a: Any, *r: Any, **k: Any) -> Any:
        a.contexte["param"](nom)
        return donnees(a, *r, **k)

    monkeypatch.setattr(module_annexe, "donnees", lisant)

    def cites() -> list[str]:
        import json

        manifeste = json.loads(next((tmp_path / "dce").glob("*-manifeste.json")).read_bytes())
        return [p["nom"] for p in manifeste["parametres"]]

    faites = len(annexes)
    _dce(reponses_, tmp_path / "dce")
    assert nom in cites()
    _dce(reponses_, tmp_path / "dce")
    assert len(annexes) == faites + 1 and nom in cites()  # reprise la seconde fois : le paramètre relu


# Documents Word repris sous l'empreinte de leur pièce (`assemblage.empreinte_piece`, `tracabilite.empreinte_fiche`) :
# leurs blocs ne sont plus sérialisés pour savoir s'ils ont changé.

import shutil  # noqa: E402

from generateur.rendu import documents as module_documents  # noqa: E402


@pytest.fixture
def rendues(monkeypatch, tmp_path) -> list[str]:
    """Cache dans tmp_path ; sigle de chaque document Word rendu (et non repris)."""
    return appels_comptes(monkeypatch, tmp_path, module_documents, "_produire",
                          lambda modele, variables, *r: variables["sigle_document"])


def _racine(tmp_path: Path) -> Path:
    """Une copie du catalogue, des clauses, du questionnaire, des modèles et des acheteurs, que le test modifie."""
    racine = tmp_path / "racine"
    shutil.copytree(RACINE, racine, ignore=shutil.ignore_patterns(
        ".*", "tests", "sortie*", "site", "docs", "benchmarks", "exemples", "*.egg-info", "__pycache__"))
    return racine


def _generee(reponses_: Path, sortie: Path, racine: Path) -> dict[str, bytes]:
    module_catalogue.charger.cache_clear()  # comme un autre processus : le catalogue et le questionnaire relus
    questionnaire.charger.cache_clear()
    generation.generer(reponses_, sortie, racine)
    return {f.name.rsplit("-", 1)[-1] if "SPASER" not in f.name else "fiche": f.read_bytes()
            for f in sorted(sortie.iterdir()) if f.suffix == ".docx"} | {
        "manifeste": next(sortie.glob("*-manifeste.json")).read_bytes()}


def test_pieces_word_reprises_sous_l_empreinte_de_leur_piece(tmp_path, monkeypatch, rendues):
    """Le corps d'une clause du CCAP modifié : seul le CCAP est rendu de nouveau ; le RC, le CCTP et la fiche sont
    repris à l'octet, et tous les documents sont ceux d'une génération sans cache. Un libellé du questionnaire
    modifié (la fiche cite les réponses lues par les règles) : la fiche change."""
    racine = _racine(tmp_path)
    reponses_ = ecrire(tmp_path, reponses())
    sortie = tmp_path / "dce"
    premiere = _generee(reponses_, sortie, racine)
    assert {"RC.docx", "CCAP.docx", "CCTP.docx", "fiche"} <= set(premiere)
    rendues.clear()

    objet = racine / "clauses" / "ccap" / "ccap-objet.md"
    objet.write_text(objet.read_text(encoding="utf-8") + "\nPhrase ajoutée par le service juridique.\n",
                     encoding="utf-8")
    seconde = _generee(reponses_, sortie, racine)
    assert rendues == ["CCAP"]
    assert seconde["CCAP.docx"] != premiere["CCAP.docx"]
    assert all(seconde[d] == premiere[d] for d in ("RC.docx", "CCTP.docx", "fiche"))

    rendues.clear()
    fichier_q = racine / "questionnaire.yaml"
    texte = fichier_q.read_text(encoding="utf-8")
    assert texte.count('libelle: "Nature du marché"') == 1
    fichier_q.write_text(texte.replace('libelle: "Nature du marché"', 'libelle: "Nature juridique du marché"'),
                         encoding="utf-8")
    troisieme = _generee(reponses_, sortie, racine)
    assert "SPASER" in rendues  # le questionnaire entre dans la clé de l'analyse : tout est refait…
    assert troisieme["fiche"] != seconde["fiche"]
    assert all(troisieme[d] == seconde[d] for d in ("RC.docx", "CCAP.docx", "CCTP.docx"))  # …les pièces sont les mêmes

    monkeypatch.setenv("DCE_CACHE", "0")
    assert _generee(reponses_, tmp_path / "sans-cache", racine) == troisieme


def test_titres_du_cadre_de_memoire_gardes_suivent_le_modele(tmp_path, monkeypatch):
    """Les titres du cadre de mémoire technique (critères repris par le cadre) sont gardés dans la mémoire de la
    consultation : relus sans refaire le cadre ; modeles/memoire.yaml modifié, il est refait ; mêmes titres que
    sans cache."""
    from generateur.pieces import lecture, memoire

    cadres = appels_comptes(monkeypatch, tmp_path, memoire, "blocs_cadre")
    racine = _racine(tmp_path)
    reponses_ = ecrire(tmp_path, reponses())

    def titres() -> list[str]:
        analyse = regles.preparer(reponses_, racine)
        with cache.groupe(analyse.reponses.document.octets):
            return lecture._titres_du_cadre(analyse)

    premiers = titres()
    assert len(premiers) >= 2 and titres() == premiers and len(cadres) == 1
    modele = racine / "modeles" / "memoire.yaml"
    modele.write_text(modele.read_text(encoding="utf-8") + "\n# relu par le service juridique\n", encoding="utf-8")
    assert titres() == premiers and len(cadres) == 2
    monkeypatch.setenv("DCE_CACHE", "0")
    assert titres() == premiers and len(cadres) == 3


def test_texte_technique_normalise_une_fois_par_texte(tmp_path, monkeypatch):
    """Le même texte technique sous deux chemins (dossier copié, CCTP type joint à deux consultations) n'est
    normalisé qu'une fois ; un autre texte l'est."""
    from generateur.pieces import texte_technique

    normalises: list[str] = []
    normaliser = texte_technique.normaliser
    monkeypatch.setattr(texte_technique, "normaliser", lambda brut, titre: normalises.append(brut) or normaliser(brut, titre))
    texte_technique._normalise.cache_clear()
    source = (EXEMPLES / "cctp").glob("*.md").__next__().read_text(encoding="utf-8")
    chemins = [tmp_path / "a.md", tmp_path / "b.md", tmp_path / "c.md"]
    for chemin, texte in zip(chemins, (source, source, source + "\nAutre phrase.\n")):
        chemin.write_text(texte, encoding="utf-8")
    lus = [texte_technique._markdown(c, c.stat().st_mtime, c.stat().st_size) for c in chemins]
    assert lus[0] == lus[1] == normaliser(source, texte_technique._titre_decale) and "Autre phrase." in lus[2]
    assert len(normalises) == 2


def _defauts(annexe: Any) -> list[dict[str, Any]]:
    """Les défauts de relecture cités par l'annexe de conformité (JSON), où qu'ils y soient."""
    if isinstance(annexe, dict):
        if {"regle", "piece"} <= set(annexe):
            return [annexe]
        return [d for v in annexe.values() for d in _defauts(v)]
    return [d for v in annexe for d in _defauts(v)] if isinstance(annexe, list) else []


def test_fiche_ni_faite_ni_relue_apres_modification_du_corps(tmp_path, monkeypatch):
    """La relecture de la fiche de traçabilité est gardée sous son empreinte (`lecture._fiche_relue`) : après la
    modification du corps d'une clause, la fiche n'est ni faite ni relue (son document est repris), et tout le DCE —
    documents, annexe de conformité (défauts de relecture compris), manifeste — est celui d'une génération sans
    cache. Un contrôle croisé qui lirait la fiche la fait relire en entier."""
    from generateur.pieces import croises

    faites = appels_comptes(monkeypatch, tmp_path, generation, "fiche")
    racine = _racine(tmp_path)
    # un gabarit resté dans l'objet : un défaut de relecture dans chaque pièce qui le cite, la fiche comprise
    reponses_ = ecrire(tmp_path, reponses(objet="Travaux de rénovation du lycée [à préciser]"))
    sortie = tmp_path / "dce"

    def dce() -> dict[str, bytes]:
        module_catalogue.charger.cache_clear()
        questionnaire.charger.cache_clear()
        generation.generer(reponses_, sortie, racine)
        return {f.name: f.read_bytes() for f in sorted(sortie.iterdir())}

    dce()
    assert len(faites) == 1
    objet = racine / "clauses" / "ccap" / "ccap-objet.md"
    objet.write_text(objet.read_text(encoding="utf-8") + "\nPhrase ajoutée par le service juridique.\n",
                     encoding="utf-8")
    seconde = dce()
    assert len(faites) == 1  # ni faite ni relue
    annexe = json.loads(next(o for n, o in seconde.items() if n.endswith("annexe-conformite.json")))
    assert "a-completer" in {d["regle"] for d in _defauts(annexe) if d["piece"] == "Fiche de traçabilité"}

    monkeypatch.setattr(croises, "lit", lambda catalogue, nom: True)
    objet.write_text(objet.read_text(encoding="utf-8") + "\nSeconde phrase.\n", encoding="utf-8")
    troisieme = dce()
    assert len(faites) == 2  # un contrôle croisé la lit : faite et relue en entier
    monkeypatch.undo()
    monkeypatch.setenv("DCE_CACHE", "0")
    sortie = tmp_path / "sans-cache"
    assert dce() == troisieme
    objet.write_text(objet.read_text(encoding="utf-8").replace("\nSeconde phrase.\n", ""), encoding="utf-8")
    assert dce() == seconde
