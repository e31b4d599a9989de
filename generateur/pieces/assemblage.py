"""Clauses retenues → blocs de chaque document (articles numérotés, renvois résolus)."""

from __future__ import annotations

import pickle
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import jinja2
from jinja2.exceptions import TemplateSyntaxError

from .blocs import Bloc, Titre
from ..donnees import cache
from ..donnees import questionnaire as module_questionnaire
from ..erreurs import ErreurClause, Probleme
from ..droit.expressions import ErreursJinja, message_erreur, modele_clause
from .markdown_ import vers_blocs
from .texte_technique import avec_texte_technique, blocs_techniques
from ..droit.regles import ARTICLE_TECHNIQUE, Analyse, Parametres, Selection, contexte_clause


# Mémoire des rendus de clauses (« rendus », `memoire_de_consultation`). Une régénération après la modification
# d'une clause rendait de nouveau toutes les clauses retenues de chaque consultation (≈ 50 modèles Jinja, chargés puis
# rendus) pour n'en changer qu'une. Le texte rendu d'une clause ne dépend que de son fichier et de ce que l'analyse a
# décidé : réponses, profil et référentiel de l'acheteur, date du droit, catalogue (sections et en-têtes de toutes
# les clauses : sélection, numérotation et renvois), et du code. Il est gardé dans la mémoire de la consultation
# (`cache.groupe` : jamais dans un fichier partagé, ces textes lui sont propres) sous l'empreinte de tout cela
# (`cle_consultation`, calculée une fois par analyse, hors corps des clauses) et du fichier de la clause : après la
# modification du corps d'une clause, seule celle-ci est rendue de nouveau ; après celle d'un en-tête, d'une réponse
# ou du catalogue, toutes. Une erreur de rendu n'est jamais gardée. Le rendu lit aussi des paramètres du catalogue
# (`param`), que le manifeste cite : ils sont relevés avec le texte et relus quand il est repris. Coût : ≈ 115 Kio
# de textes de plus dans le fichier de chaque consultation (voir `cache.GROUPES_MAX`).
T = TypeVar("T")
_MEMOIRES: dict[str, cache.Memoire] = {}  # créées à la première demande : l'empreinte du code lit chaque module
_CODE: list[str] = []  # empreinte du code qui produit un DCE, calculée une fois par processus (`version_du_code`)
_ACHETEURS = cache.ParObjet(16)  # acheteur chargé → empreinte de son profil et de son référentiel


def version_du_code() -> str:
    """Empreinte du code qui produit un DCE (données, droit, pièces, rendu), des versions de Jinja et de Babel, et de
    Python : calculée une fois par processus (elle relit l'état de ≈ 70 modules, ≈ 2 ms), et non pour chacune des
    mémoires d'une consultation ; le code qu'exécute un processus ne change pas pendant sa vie."""
    if not _CODE:
        paquet = Path(__file__).resolve().parent.parent  # ce qui produit un DCE : données, droit, pièces, rendu
        code = cache.sources(paquet / "__init__.py", paquet / "erreurs.py", *sorted(
            f for d in ("donnees", "droit", "pieces", "rendu") for f in (paquet / d).glob("*.py")))
        _CODE.append(cache.empreinte(code, sys.version, jinja2.__version__, cache.version_paquet("babel")))
    return _CODE[0]


def memoire_de_consultation(nom: str) -> cache.Memoire:
    """Une mémoire dont les entrées ne vont qu'à la mémoire de la consultation en cours (`cache.groupe`), sous
    `cle_consultation` : « rendus » (textes des clauses), « controles » (verdicts, `lecture.controler`). Sa version
    est celle du code qui produit un DCE (`version_du_code`)."""
    if nom not in _MEMOIRES:
        _MEMOIRES[nom] = cache.Memoire(nom, cache.empreinte(nom, version_du_code()), maximum=0,
                                       par_consultation=True)
    return _MEMOIRES[nom]


def _empreinte_acheteur(ach: Any) -> str:
    """Profil, référentiel (chaque action y renvoie à son chantier et à son axe : ils n'entrent qu'une fois, pas à chaque
    action ; le pickle sans mémo de l'acheteur entier en faisait ≈ 900 Kio), dossier et champs à compléter."""
    return cache.empreinte(cache.octets_stables((ach.profil, ach.referentiel, str(ach.dossier), ach.a_completer,
                                   [(cle, a.id, a.titre, a.dce) for cle, a in ach.actions.items()])))


def cle_consultation(analyse: Analyse) -> str | None:
    """Empreinte de tout ce dont dépend l'analyse d'une consultation, hors corps des clauses et code (voir la
    mémoire des rendus) : catalogue (catalogue.yaml lu, ses sections, les en-têtes de toutes les clauses), profil et
    référentiel de l'acheteur, date du droit, réponses validées, et le questionnaire (ses libellés, que citent la
    fiche de traçabilité et le cadre de mémoire technique) ; None si elles ne se mettent pas en pickle (valeur
    exotique : rien n'est gardé)."""
    if "cle-consultation" not in analyse.memoire:
        ach = analyse.acheteur
        try:
            questionnaire = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
            analyse.memoire["cle-consultation"] = cache.empreinte(
                analyse.catalogue.empreinte_sans_corps(),
                _ACHETEURS.obtenir(ach, lambda: _empreinte_acheteur(ach)),
                module_questionnaire.empreinte(questionnaire),
                analyse.date_droit.isoformat(), cache.octets_stables(analyse.reponses.donnees))
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
            analyse.memoire["cle-consultation"] = None
    return analyse.memoire["cle-consultation"]


def rendre_clause(analyse: Analyse, selection: Selection) -> str:
    """Texte Markdown d'une clause, variables remplacées ; erreur précise sinon. Gardé dans la mémoire de la
    consultation (mémoire « rendus », `calcul_garde`)."""
    consultation = cle_consultation(analyse)
    clause = selection.clause
    cle = None if consultation is None else cache.empreinte(
        consultation, clause.id, str(clause.version), clause.empreinte, selection.numero, repr(selection.lots))
    return calcul_garde(memoire_de_consultation("rendus"), cle, analyse, lambda: _rendre(analyse, selection),
                        reprendre=lambda texte: texte if type(texte) is str else None,
                        garder=lambda texte: texte if type(texte) is str else None)


def empreinte_piece(analyse: Analyse, document: str) -> str | None:
    """Empreinte de ce dont dépendent les blocs d'une pièce (`blocs_document`) hors texte technique importé du CCTP :
    le code qui les produit (version de la mémoire des rendus), la clé de l'analyse (qui décide du plan, des numéros
    et des titres) et le fichier de chaque clause retenue dans la pièce, avec son numéro et ses lots (les textes
    rendus sont gardés sous les mêmes clés, `rendre_clause`) ; None sans clé de l'analyse, ou pour un CCTP qui porte
    un texte technique importé. Un document Word en dépend
    seul avec son modèle et ses variables (`documents.produire`, `empreinte`) : ses blocs n'ont pas à être
    sérialisés pour savoir s'il a changé."""
    consultation = cle_consultation(analyse)
    if consultation is None or (document == "CCTP" and avec_texte_technique(analyse)):
        return None  # le texte technique importé (fichier du dossier, converti) n'y entre pas : blocs sérialisés
    return cache.empreinte(memoire_de_consultation("rendus").version, consultation, document, *(
        f"{s.clause.id}\0{s.clause.version}\0{s.clause.empreinte}\0{s.numero}\0{s.lots!r}"
        for _, _, selections in analyse.plans[document] for s in selections))


def calcul_garde(memoire: cache.Memoire, cle: str | None, analyse: Analyse, calcul: Callable[[], T],
                 reprendre: Callable[[Any], T | None], garder: Callable[[T], Any]) -> T:
    """Le résultat de `calcul()`, gardé dans `memoire` sous `cle` (rendus des clauses, verdicts des contrôles, fichiers
    de l'annexe) avec les noms des paramètres du catalogue (ceux de `analyse`) qu'il a lus : repris, il les relit,
    pour que le manifeste cite les mêmes. `reprendre(gardé)` : le résultat tiré de ce qui a été gardé, None s'il ne
    vaut plus (il est alors calculé) ; `garder(résultat)` : ce qui en est gardé, None pour rien. Rien n'est gardé d'un
    calcul qui a lu un paramètre sous un nom qui n'est pas un texte (il ne se mettrait pas en pickle), ni d'une
    erreur ; sans clé (None : l'analyse n'en a pas, `cle_consultation`) ou sans paramètres relevables, `calcul()`
    seul."""
    param = analyse.contexte.get("param")
    if cle is None or not isinstance(param, Parametres):
        return calcul()
    garde = memoire.lire(cle)
    if type(garde) is tuple and len(garde) == 2 and type(garde[1]) is tuple:
        repris = reprendre(garde[0])
        if repris is not None:
            for nom in garde[1]:
                param(nom)
            return repris
    with parametres_releves(param) as releve:
        resultat = calcul()
    lus = tuple(dict.fromkeys(releve))
    if all(type(nom) is str for nom in lus):
        valeur = garder(resultat)
        if valeur is not None:
            memoire.ecrire([(cle, (valeur, lus))])
    return resultat


@contextmanager
def parametres_releves(param: Parametres) -> Iterator[list[Any]]:
    """Le temps du bloc, les noms des paramètres du catalogue lus (`param`), même déjà lus avant, dans la liste
    rendue (`calcul_garde`). Un relevé en cours autour reçoit aussi ces noms."""
    avant, param.releve = param.releve, []
    releve = param.releve
    try:
        yield releve
    finally:
        if avant is not None:
            avant.extend(releve)
        param.releve = avant


def _rendre(analyse: Analyse, selection: Selection) -> str:
    clause = selection.clause
    try:
        return modele_clause(clause).render(contexte_clause(analyse, selection))
    except TemplateSyntaxError as exc:
        ligne = clause.ligne_corps + (exc.lineno or 1) - 1
        raise ErreurClause(Probleme(f"clause « {clause.id} » : {message_erreur(exc)}", clause.fichier, ligne)) from None
    except ErreursJinja as exc:
        ligne = _ligne_erreur(exc, clause.ligne_corps)
        raise ErreurClause(Probleme(f"clause « {clause.id} » impossible à rendre : {message_erreur(exc)}",
                                    clause.fichier, ligne)) from None


def _ligne_erreur(exc: BaseException, decalage: int) -> int | None:
    """Ligne du modèle Jinja où l'erreur s'est produite (d'après la pile d'appel du modèle compilé)."""
    tb = exc.__traceback__
    ligne = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            ligne = tb.tb_lineno
        tb = tb.tb_next
    return decalage + ligne - 1 if ligne else None


def blocs_document(analyse: Analyse, document: str) -> tuple[list[Bloc], list[Titre]]:
    """Corps d'un document et entrées de sa table des matières."""
    blocs: list[Bloc] = []
    titres: list[Titre] = []
    for numero, article, selections in analyse.plans[document]:
        titre = Titre(1, f"Article {numero} – {article['titre']}", f"_Toc_art_{numero}")
        blocs.append(titre)
        titres.append(titre)
        for s in selections:
            if s.numero != numero:
                sous_titre = Titre(2, f"{s.numero}\u00a0– {s.clause.titre}", f"_Toc_art_{s.numero.replace('.', '_')}")
                blocs.append(sous_titre)
                titres.append(sous_titre)
            blocs.extend(vers_blocs(rendre_clause(analyse, s)))
        if document == "CCTP" and article["id"] == ARTICLE_TECHNIQUE:  # le texte du prescripteur, lot par lot
            techniques, sous_titres = blocs_techniques(analyse)
            blocs.extend(techniques)
            titres.extend(sous_titres)
    return blocs, titres
