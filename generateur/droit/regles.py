"""Les règles : valeurs calculées, sélection des clauses et numérotation des articles.

Chaque calcul et chaque sélection garde sa trace (expression, références juridiques, réponses
lues) : le manifeste, la fiche de traçabilité et l'annexe de conformité la relisent.
"""

from __future__ import annotations

import datetime as dt
import pickle
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from ..donnees import acheteurs as module_acheteurs
from ..donnees import cache
from ..donnees import catalogue as module_catalogue
from ..donnees import questionnaire as module_questionnaire
from ..donnees import formats as module_formats
from ..donnees import reponses as module_reponses
from ..donnees.acheteurs import Acheteur, ChampACompleter
from ..donnees.catalogue import Catalogue, Clause
from ..erreurs import ErreurClause, ErreurDonnees, Probleme
from ..donnees.formats import liste_fr
from .expressions import (APPELS_DIRECTS, ENV_EXPRESSIONS, ErreursJinja, MarkdownSur, chemins_utilises, echapper_markdown,
                          evaluer, lot_d_evaluations, message_erreur)
from ..donnees.reponses import Reponses
from . import expressions as module_expressions


@dataclass
class Calcul:
    """Une valeur calculée et sa justification."""

    nom: str
    valeur: Any
    expression: str
    reference: str
    explication: str
    lot: int | None = None


@dataclass
class Selection:
    """La décision prise pour une clause : retenue ou écartée, et pourquoi."""

    clause: Clause
    retenue: bool
    lues: dict[str, Any]
    lots: list[int] = field(default_factory=list)
    numero: str = ""  # « 6.2 » : article.sous-article dans son document

    @property
    def regle(self) -> str:
        return self.clause.condition


@dataclass
class Analyse:
    """Tout ce que les règles ont décidé pour une consultation."""

    reponses: Reponses
    acheteur: Acheteur
    catalogue: Catalogue
    date_droit: dt.date
    contexte: dict[str, Any]
    calculs: list[Calcul]
    selections: list[Selection]
    plans: dict[str, list[tuple[str, dict[str, Any], list[Selection]]]]
    # ce que plusieurs pièces recalculaient chacune (liens SPASER) : calculé une fois par analyse
    memoire: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def a_completer(self) -> list[ChampACompleter]:
        """Champs du profil d'acheteur à compléter (surlignés dans les pièces) ou à vérifier avant publication."""
        return self.acheteur.a_completer

    def retenues(self, document: str | None = None) -> list[Selection]:
        return [s for s in self.selections if s.retenue and (document is None or s.clause.document == document)]

    @cached_property
    def _par_id(self) -> dict[str, Selection]:
        return {s.clause.id: s for s in self.selections}

    def selection(self, ident: str) -> Selection | None:
        return self._par_id.get(ident)

    @cached_property
    def derogations(self) -> list[dict[str, str]]:
        """Dérogations au CCAG de référence, dans l'ordre des articles du CCAP.

        Une dérogation peut porter une `condition` (expression) : elle ne vaut que si la condition est vraie
        (par exemple une période de préparation différente de celle du CCAG).
        """
        ccag = self.contexte["ccag"]
        liste = []
        for s in self.retenues("CCAP"):
            for d in s.clause.deroge_ccag:
                article = (d.get("articles") or {}).get(ccag)
                if article and d.get("condition") and not _condition_derogation(s.clause, str(d["condition"]), self.contexte):
                    continue
                if article:
                    liste.append({"article_ccap": s.numero, "article_ccag": str(article), "objet": str(d.get("objet", "")),
                                  "clause": s.clause.id})
        return sorted(liste, key=lambda d: (_ordre_article(d["article_ccap"]), _ordre_article(d["article_ccag"])))


def _ordre_article(numero: str) -> tuple[tuple[int, str], ...]:
    """« 9.2 » avant « 10.1 », « 19.2.2 » après « 19.2 » : ordre des numéros d'articles, chiffre par chiffre."""
    return tuple((int(m), "") if m.isdigit() else (10**9, m) for m in re.findall(r"\d+|[^\d.\s]+", numero))


def _condition_derogation(clause: Clause, condition: str, contexte: dict[str, Any]) -> bool:
    try:
        return bool(evaluer(condition, contexte))
    except ErreursJinja as exc:
        raise ErreurClause(Probleme(f"condition d'une dérogation de la clause « {clause.id} » impossible à évaluer : "
                                    f"{message_erreur(exc)}", clause.fichier, None, "deroge_ccag")) from None


def _limites(catalogue: Catalogue, reponses: Reponses, contexte: dict[str, Any]) -> None:
    """Limites des réponses fixées par le catalogue (section `limites`) : réponse hors limite refusée."""
    problemes = []
    for i, limite in enumerate(catalogue.limites):
        try:
            respectee = evaluer(str(limite["expression"]), contexte)
            message = "" if respectee else ENV_EXPRESSIONS.from_string(str(limite["message"])).render(contexte)
        except ErreursJinja as exc:
            chemin = f"limites.{i}.expression"
            raise ErreurDonnees(Probleme(f"limite « {limite.get('champ')} » impossible à évaluer : {message_erreur(exc)}",
                                         catalogue.fichier, catalogue.document_yaml.ligne(chemin), chemin)) from None
        if not respectee:
            champ = str(limite["champ"])
            problemes.append(Probleme(message.strip(), reponses.fichier, reponses.document.ligne(champ), champ))
    if problemes:
        raise ErreurDonnees(problemes)


class Parametres:
    """`param('nom')` des calculs et des clauses : valeur en vigueur, et trace des paramètres lus.

    Le manifeste enregistre les paramètres lus ; la régénération sait ainsi si le changement d'un
    taux ou d'un seuil concerne une consultation. Une clause ne peut que l'appeler : le bac à sable ne
    donne accès à aucun de ses attributs (le catalogue, et par lui le système de fichiers, restent hors
    d'atteinte).
    """

    __slots__ = ("_catalogue", "_jour", "_categorie", "lus", "_valeurs", "releve")

    def __init__(self, catalogue: Catalogue, jour: dt.date, categorie: str):
        self._catalogue, self._jour, self._categorie = catalogue, jour, categorie
        self.lus: dict[str, Any] = {}
        self._valeurs: dict[str, Any] = {}  # valeur lue par nom (textes seulement : un autre nom refait l'erreur)
        # noms lus pendant le rendu d'une clause, même déjà lus avant (`assemblage.rendre_clause` : un rendu gardé
        # relit les mêmes paramètres, le manifeste les cite)
        self.releve: list[Any] | None = None

    def __call__(self, nom: str) -> Any:
        # même catalogue, même jour, même catégorie : même valeur à chaque lecture (calculs, clauses, contrôles)
        if self.releve is not None:
            self.releve.append(nom)
        if type(nom) is str and nom in self._valeurs:
            return self._valeurs[nom]
        valeur = self._catalogue.param(str(nom), self._jour, self._categorie)
        if nom not in self.lus:
            # la valeur est celle du catalogue chargé, la même pour chaque consultation qui la lit (listes de mots,
            # tables d'indices…) : convertie une fois, sa conversion partagée par les manifestes qui la citent
            self.lus[nom] = valeur if type(valeur) in _SIMPLES else _JSON_PARAMETRES.obtenir(valeur, lambda: en_json(valeur))
        if type(nom) is str:
            self._valeurs[nom] = valeur
        return valeur


APPELS_DIRECTS.add(Parametres)


def _lire(contexte: dict[str, Any], chemin: str) -> Any:
    valeur: Any = contexte
    for morceau in chemin.split("."):
        if isinstance(valeur, dict) and morceau in valeur:
            valeur = valeur[morceau]
        else:
            return None
    return None if callable(valeur) else valeur


_SIMPLES = frozenset({str, int, float, bool, type(None)})  # rendus tels quels par en_json
_JSON_PARAMETRES = cache.ParObjet(256)  # valeur d'un paramètre (objet du catalogue chargé) → en_json de la valeur


class Lues(dict):
    """Les valeurs lues par la condition d'une clause (`Selection.lues`), chacune déjà passée par en_json : en_json les
    rend telles quelles au lieu de les recopier (l'annexe de conformité les cite pour chaque lien SPASER)."""


def en_json(valeur: Any) -> Any:
    """Dates en texte ISO, à tous les niveaux des dictionnaires et des listes (copiés) ; le reste tel quel."""
    if isinstance(valeur, (dt.date, dt.datetime)):
        return valeur.isoformat()
    if isinstance(valeur, dict):  # les valeurs simples, les plus nombreuses, sans appel récursif
        if type(valeur) is Lues:  # déjà converties, jamais modifiées
            return valeur
        return {k: v if type(v) in _SIMPLES else en_json(v) for k, v in valeur.items()}
    if isinstance(valeur, list):
        return [v if type(v) in _SIMPLES else en_json(v) for v in valeur]
    return valeur


def _calculer(regles: list[dict[str, Any]], contexte: dict[str, Any], cible: dict[str, Any], catalogue: Catalogue,
              section: str, lot: int | None, traces: list[Calcul]) -> None:
    for i, regle in enumerate(regles):
        nom, expression, reference, explication = _textes(regle)
        try:
            valeur = evaluer(expression, contexte)
        except ErreursJinja as exc:
            chemin = f"calculs.{section}.{i}.expression"
            quoi = f"calcul « {nom} »" + (f" (lot {lot})" if lot is not None else "")
            raise ErreurDonnees(Probleme(f"{quoi} impossible : {message_erreur(exc)}", catalogue.fichier,
                                         catalogue.document_yaml.ligne(chemin), chemin)) from None
        cible[nom] = valeur
        contexte[nom] = valeur
        traces.append(Calcul(nom, valeur if type(valeur) in _SIMPLES else en_json(valeur), expression, reference,
                             explication, lot))


def _textes(regle: dict[str, Any]) -> tuple[str, str, str, str]:
    """Nom, expression, référence et explication d'un calcul du catalogue, tels que sa trace (`Calcul`) les cite."""
    return regle["nom"], str(regle["expression"]), str(regle.get("reference", "")), str(regle.get("explication", ""))


# Noms que le moteur ajoute aux réponses : dans le contexte des calculs et des clauses (analyser), puis
# dans celui des seules clauses (contexte_clause). `dce catalogue verifier` les reconnaît d'après ces listes.
NOMS_ANALYSE = ("acheteur", "param", "date_droit", "ccag_intitule")
NOMS_CLAUSE = ("article", "retenue", "renvoi", "action", "lots_concernes", "derogations", "texte_technique")


def analyser(reponses: Reponses, acheteur: Acheteur, catalogue: Catalogue, date_droit: dt.date | None = None) -> Analyse:
    """Calcule les valeurs, sélectionne les clauses en vigueur et numérote les articles."""
    with lot_d_evaluations():  # quelques centaines d'évaluations : une minuterie pour toutes (expressions.py)
        return _analyser(reponses, acheteur, catalogue, date_droit)


# Mémoire disque des calculs (valeurs calculées, intitulé du CCAG, limites vérifiées) d'une commande à l'autre : une
# régénération après la modification d'une clause refaisait les quelque 200 évaluations des calculs d'une consultation
# (la moitié de l'analyse) sur des réponses, un profil et des règles inchangés. La clé couvre tout ce qu'ils lisent :
# les réponses validées, les valeurs du profil d'acheteur et sa catégorie, la date du droit, les sections `calculs`,
# `parametres`, `limites` et `ccag` du catalogue (jamais le corps ni l'en-tête des clauses), le code qui les évalue
# (ce module, les expressions, les filtres, la lecture des paramètres) et les versions de Jinja, Babel et Python.
# Une erreur (calcul impossible, limite dépassée) n'est jamais gardée : elle se redit à chaque commande.
MEMOIRE_CALCULS = "calculs"
CALCULS_MAX = 4096  # consultations gardées au plus (≈ 10 à 20 Kio chacune : celles d'un dossier de consultations)
_CODE_CALCULS = cache.empreinte(cache.sources(__file__, module_expressions.__file__, module_formats.__file__,
                                              module_catalogue.__file__),
                                jinja2.__version__, cache.version_paquet("babel"), sys.version)
_SECTIONS = cache.ParObjet(8)  # catalogue chargé → empreinte des sections que lisent les calculs
_TEXTES = cache.ParObjet(8)  # catalogue chargé → `_textes` de ses calculs de la consultation, et de ceux d'un lot


class _NonGardable(Exception):
    """Des calculs dont le résultat ne se met pas en pickle (valeur exotique) : rendus sans être gardés."""


def _empreinte_sections(catalogue: Catalogue) -> str:
    """Empreinte des sections du catalogue lues par les calculs et les limites, une fois par catalogue chargé (≈ 1 ms) ;
    une section remplacée est une autre empreinte (un catalogue chargé ne se modifie pas en place)."""
    sections = (catalogue.calculs, catalogue.parametres, catalogue.limites, catalogue.ccag)
    return _SECTIONS.obtenir(catalogue, lambda: cache.empreinte(pickle.dumps(sections, protocol=5)), sections)


def _calculs_gardes(reponses: Reponses, acheteur: Acheteur, catalogue: Catalogue,
                    jour: dt.date) -> tuple[dict[str, Any], list[Calcul]]:
    """Le contexte des clauses (réponses, profil, `param`, date du droit, valeurs calculées, intitulé du CCAG, limites
    vérifiées) et les traces des calculs, lus dans la mémoire disque des calculs s'ils y sont (voir
    MEMOIRE_CALCULS) : mêmes valeurs, mêmes traces et mêmes paramètres lus (dans le même ordre) que s'ils étaient
    calculés."""
    valeurs_acheteur = {**acheteur.valeurs(), "categorie": acheteur.categorie}
    try:
        cle = cache.empreinte(_CODE_CALCULS, _empreinte_sections(catalogue),
                              pickle.dumps((reponses.donnees, valeurs_acheteur, jour), protocol=5))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):  # réponse exotique (objet Python)
        cle = None
    if cle is None or cache.dossier(MEMOIRE_CALCULS) is None:
        return _calculer_tout(reponses, valeurs_acheteur, catalogue, jour)
    vivants: list[tuple[dict[str, Any], list[Calcul]]] = []

    def calculer() -> bytes:
        contexte, traces = vivant = _calculer_tout(reponses, valeurs_acheteur, catalogue, jour)
        vivants.append(vivant)
        etat = {**contexte, "acheteur": None, "param": None}  # mêmes noms dans le même ordre ; ces deux-là, rendus à la lecture
        try:
            return pickle.dumps((etat, [t.lot for t in traces], [t.valeur for t in traces], list(contexte["param"].lus)),
                                protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            raise _NonGardable from None

    try:
        garde = cache.objet(MEMOIRE_CALCULS, cle, calculer, garder=CALCULS_MAX)
    except _NonGardable:
        return vivants[0]
    if vivants:  # calculés à l'instant : les objets eux-mêmes
        return vivants[0]
    try:
        with cache.sans_ramasse_miettes():
            etat, lots, valeurs, lus = pickle.loads(garde)
    except Exception:  # noqa: BLE001 - entrée abîmée : recalculée
        return _calculer_tout(reponses, valeurs_acheteur, catalogue, jour)
    # les traces : la règle du catalogue (calculs de la consultation, puis ceux de chaque lot) et sa valeur gardée
    regles, regles_lot = _TEXTES.obtenir(catalogue, lambda: tuple([_textes(r) for r in catalogue.calculs.get(s, [])]
                                                                  for s in ("consultation", "lot")), (catalogue.calculs,))
    suite = regles + regles_lot * ((len(valeurs) - len(regles)) // len(regles_lot) if regles_lot else 0)
    traces = [Calcul(n, v, e, r, x, lot) for (n, e, r, x), v, lot in zip(suite, valeurs, lots)]
    etat["acheteur"] = valeurs_acheteur
    etat["param"] = param = Parametres(catalogue, jour, acheteur.categorie)
    for nom in lus:  # les paramètres lus par les calculs et les limites, dans le même ordre (manifeste)
        param(nom)
    return etat, traces


def _calculer_tout(reponses: Reponses, valeurs_acheteur: dict[str, Any], catalogue: Catalogue,
                   jour: dt.date) -> tuple[dict[str, Any], list[Calcul]]:
    contexte: dict[str, Any] = dict(module_reponses.copier(reponses.donnees))
    contexte["acheteur"] = valeurs_acheteur
    contexte["param"] = Parametres(catalogue, jour, valeurs_acheteur["categorie"])
    contexte["date_droit"] = jour
    traces: list[Calcul] = []
    _calculer(catalogue.calculs.get("consultation", []), contexte, contexte, catalogue, "consultation", None, traces)
    for lot in contexte["lots"]:
        _calculer(catalogue.calculs.get("lot", []), {**contexte, "lot": lot}, lot, catalogue, "lot", lot["numero"], traces)
    contexte["ccag_intitule"] = catalogue.ccag.get(contexte["ccag"], contexte["ccag"])
    _limites(catalogue, reponses, contexte)
    return contexte, traces


def _analyser(reponses: Reponses, acheteur: Acheteur, catalogue: Catalogue, date_droit: dt.date | None) -> Analyse:
    jour = date_droit or reponses.donnees["date_lancement"]
    contexte, traces = _calculs_gardes(reponses, acheteur, catalogue, jour)

    selections: list[Selection] = []
    # Le contexte ne change plus pendant la sélection : une condition écrite à l'identique dans plusieurs clauses
    # (« nature == 'travaux' ») a le même résultat, et un chemin lu la même valeur. Chacun est évalué et converti
    # une fois (une centaine d'évaluations et le plus gros des conversions en_json d'une analyse) ; les valeurs
    # lues converties sont partagées par les `lues` des clauses, que rien ne modifie.
    contextes_lots = [{**contexte, "lot": l} for l in contexte["lots"]]
    conditions: dict[tuple[bool, str], Any] = {}  # (portée lot, condition) → lots retenus ou retenue
    valeurs_lues: dict[tuple[bool, str], Any] = {}  # (par lot, chemin) → valeur lue, convertie (liste : une par lot)
    for clause in catalogue.versions_en_vigueur(jour):
        if not clause.s_applique(contexte.get("nature"), contexte.get("categorie")):  # hors de son champ d'application
            selections.append(Selection(clause, False, {"nature": contexte.get("nature"),
                                                        "categorie": contexte.get("categorie")}))
            continue
        par_lot = clause.portee == "lot"
        try:
            chemins = chemins_utilises(clause.condition)
            cle = (par_lot, clause.condition)
            if cle not in conditions:
                conditions[cle] = ([l["lot"]["numero"] for l in contextes_lots if evaluer(clause.condition, l)]
                                   if par_lot else bool(evaluer(clause.condition, contexte)))
            lues = Lues()
            for c in chemins:
                lu = (par_lot and c.startswith("lot."), c)  # « lot. » hors d'une clause de lot : rien (None)
                if lu not in valeurs_lues:
                    valeurs_lues[lu] = ([en_json(_lire(l, c)) for l in contextes_lots] if lu[0]
                                        else en_json(_lire(contexte, c)))
                lues[c] = valeurs_lues[lu]
        except ErreursJinja as exc:
            raise ErreurClause(Probleme(f"condition de la clause « {clause.id} » impossible à évaluer : "
                                        f"{message_erreur(exc)}", clause.fichier, None, "condition")) from None
        lots = list(conditions[cle]) if par_lot else []
        retenue = bool(lots) if par_lot else conditions[cle]
        selections.append(Selection(clause, retenue, lues, lots))

    plans = _numeroter(catalogue, selections)
    analyse = Analyse(reponses, acheteur, catalogue, jour, contexte, traces, selections, plans)
    verifier_renvois(analyse)
    return analyse


def cible_renvoi(analyse: Analyse, clause: Clause, renvoi: dict[str, Any]) -> Any:
    """Ce que désigne un renvoi dans cette consultation : « l'article 3.2 du CCTP » pour une clause ou un article
    du plan, la valeur pour une réponse ; None si la cible manque (clause non retenue, article vide, réponse vide)
    ou si la condition `si` du renvoi (ce qui fait exister le contenu visé dans la cible) est fausse."""
    if renvoi.get("si") and not _condition_renvoi(clause, renvoi, analyse.contexte):
        return None
    if renvoi.get("piece_acheteur"):
        pieces = [p for p in analyse.contexte.get("pieces_acheteur") or [] if p.get("nature") == renvoi["piece_acheteur"]]
        if not pieces:
            return None
        return MarkdownSur(liste_fr(f"la pièce « {echapper_markdown(p['titre'])} »" for p in pieces) + " jointe"
                           + ("s" if len(pieces) > 1 else "") + " au dossier de consultation")
    if renvoi.get("reponse"):
        valeur = _lire(analyse.contexte, str(renvoi["reponse"]))
        return None if valeur in (None, "", [], {}) or (isinstance(valeur, str) and not valeur.strip()) else valeur
    if renvoi.get("clause"):
        cible = analyse.selection(str(renvoi["clause"]))
        if cible is None or not cible.retenue:
            return None
        numero, piece = cible.numero, cible.clause.document
    else:
        piece = str(renvoi["piece"])
        numero = next((n for n, article, _ in analyse.plans.get(piece, []) if article["id"] == renvoi["article"]), None)
        if numero is None:
            return None
    return MarkdownSur(f"l'article {numero}" + ("" if piece == clause.document else f" du {piece}"))


def _condition_renvoi(clause: Clause, renvoi: dict[str, Any], contexte: dict[str, Any]) -> bool:
    try:
        return bool(evaluer(str(renvoi["si"]), contexte))
    except ErreursJinja as exc:
        raise ErreurClause(Probleme(f"condition « si » du renvoi « {renvoi.get('id')} » de la clause « {clause.id} » "
                                    f"impossible à évaluer : {message_erreur(exc)}", clause.fichier, None,
                                    "renvois")) from None


def verifier_renvois(analyse: Analyse) -> None:
    """Un renvoi `sinon: erreur` d'une clause retenue dont la cible manque arrête la génération, en disant
    quelle réponse donner ; un renvoi `sinon: texte` est traité par la clause elle-même (renvoi('id'))."""
    problemes = []
    for s in analyse.retenues():
        for r in s.clause.renvois:
            if r.get("sinon", "erreur") != "erreur" or cible_renvoi(analyse, s.clause, r) is not None:
                continue
            if r.get("piece_acheteur"):
                questionnaire = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
                nature = questionnaire.question("pieces_acheteur.nature")
                libelle = (nature.choix or {}).get(str(r["piece_acheteur"]), r["piece_acheteur"]) if nature else r["piece_acheteur"]
                manque = (f"joindre au dossier la pièce « {libelle} » (question "
                          f"« {questionnaire.libelle('pieces_acheteur')} »)")
            elif r.get("reponse"):
                q = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml").question(str(r["reponse"]))
                manque = f"répondre à la question « {q.libelle if q else r['reponse']} »"
            elif r.get("clause"):
                cible = analyse.catalogue.clauses.get(str(r["clause"]))
                quand = cible[0].quand if cible else ""
                manque = (f"la clause « {cible[0].titre if cible else r['clause']} » n'est pas retenue"
                          + (f" ; elle l'est {quand}" if quand else ""))
            else:
                manque = f"aucune clause n'est retenue à l'article « {r['article']} » du {r['piece']}"
            problemes.append(Probleme(
                f"le {s.clause.document} (clause « {s.clause.titre} ») renvoie à un contenu absent de cette "
                f"consultation, {r['objet']} : {manque}", analyse.reponses.fichier, None, None))
    if problemes:
        raise ErreurDonnees(problemes)


def _numeroter(catalogue: Catalogue, selections: list[Selection]) -> dict[str, list[tuple[str, dict[str, Any], list[Selection]]]]:
    """Numérote articles et sous-articles ; un article sans clause retenue disparaît."""
    par_article: dict[tuple[str, Any], list[Selection]] = {}
    for s in selections:
        if s.retenue:
            par_article.setdefault((s.clause.document, s.clause.article), []).append(s)
    plans = {}
    for document in catalogue.documents:
        plan = []
        for article in catalogue.articles(document):
            contenues = sorted(par_article.get((document, article["id"]), ()), key=lambda s: (s.clause.ordre, s.clause.id))
            if not contenues:
                continue
            numero = str(len(plan) + 1)
            seule = len(contenues) == 1 and contenues[0].clause.titre.casefold() == str(article["titre"]).casefold()
            for j, s in enumerate(contenues, start=1):
                s.numero = numero if seule else f"{numero}.{j}"
            plan.append((numero, article, contenues))
        plans[document] = plan
    return plans


# Article du plan du CCTP qui reçoit le texte technique du prescripteur, lot par lot (pieces/texte_technique.py).
ARTICLE_TECHNIQUE = "specifications"


def numeros_textes_techniques(analyse: Analyse) -> dict[Any, str]:
    """Numéro du sous-article du CCTP (« 2.4 ») qui reçoit le texte technique importé de chaque lot, après les
    clauses de l'article des spécifications techniques ; un lot sans texte technique n'y figure pas."""
    lots = [l for l in analyse.contexte["lots"] if str(l.get("cctp_technique") or "").strip()]
    for numero, article, selections in analyse.plans.get("CCTP", []):
        if article["id"] == ARTICLE_TECHNIQUE:
            return {l["numero"]: f"{numero}.{rang}" for rang, l in enumerate(lots, start=len(selections) + 1)}
    return {}


def contexte_clause(analyse: Analyse, selection: Selection) -> dict[str, Any]:
    """Contexte de rendu d'une clause : réponses, calculs, fonctions de renvoi et de référentiel."""
    document = selection.clause.document

    def article(ident: str, numero: bool = False) -> str:
        """« l'article 5.1 » (« du CCAP » hors du CCAP) ; `numero=True` : « 5.1 », « 3.1 du CCTP » (colonne
        « Article » d'un tableau)."""
        cible = analyse.selection(ident)
        if cible is None or not cible.retenue:
            raise ErreurClause(Probleme(f"renvoi vers la clause « {ident} », absente de cette consultation "
                                        f"(protéger le renvoi par {{% if retenue('{ident}') %}})",
                                        selection.clause.fichier, None, "article"))
        suffixe = "" if cible.clause.document == document else f" du {cible.clause.document}"
        return MarkdownSur(("" if numero else "l'article ") + f"{cible.numero}{suffixe}")

    def retenue(ident: str) -> bool:
        cible = analyse.selection(ident)
        return bool(cible and cible.retenue)

    def renvoi(ident: str) -> Any:
        """Cible d'un renvoi déclaré dans l'en-tête de la clause (`renvois`) ; vide si elle manque."""
        declare = next((r for r in selection.clause.renvois if r.get("id") == ident), None)
        if declare is None:
            raise ErreurClause(Probleme(f"renvoi « {ident} » non déclaré dans l'en-tête de la clause (renvois)",
                                        selection.clause.fichier, None, "renvois"))
        cible = cible_renvoi(analyse, selection.clause, declare)
        return "" if cible is None else cible

    def texte_technique(numero_lot: Any) -> Any:
        """« l'article 2.4 » (« du CCTP » hors du CCTP) : sous-article qui porte le texte technique du lot ; vide
        si le lot n'en a pas."""
        numero = numeros_textes_techniques(analyse).get(numero_lot)
        if numero is None:
            return ""
        return MarkdownSur(f"l'article {numero}" + ("" if document == "CCTP" else " du CCTP"))

    def action(etiquette: str) -> str:
        """« action 8.2 « titre » » dans le référentiel de l'acheteur ; vide s'il n'a pas d'équivalent."""
        actions = analyse.acheteur.actions_pour(str(etiquette))
        return liste_fr(f"action {a.id} « {a.titre} »" for a in actions)

    lots = analyse.contexte["lots"]
    return {
        **analyse.contexte,
        "article": article,
        "retenue": retenue,
        "renvoi": renvoi,
        "action": action,
        "texte_technique": texte_technique,
        "lots_concernes": [l for l in lots if l["numero"] in selection.lots] if selection.clause.portee == "lot" else lots,
        "derogations": analyse.derogations,
    }


def preparer(fichier_reponses: Path | str, racine: Path | None = None, date_droit: dt.date | None = None) -> Analyse:
    """Charge tout et applique les règles, sans rien écrire."""
    racine = module_catalogue.resoudre_racine(racine)
    q = module_questionnaire.charger(racine / "questionnaire.yaml")
    rep = module_reponses.charger(fichier_reponses, q)
    cat = module_catalogue.charger(racine)
    ach = module_acheteurs.charger(racine, rep.donnees["acheteur"])
    try:
        return analyser(rep, ach, cat, date_droit)
    except ErreurDonnees as exc:  # limites du catalogue : la réponse refusée est nommée par son libellé
        module_reponses.nommes([p for p in exc.problemes if p.fichier == rep.fichier], q)
        raise ErreurDonnees(exc.problemes) from None
